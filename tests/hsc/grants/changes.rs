//! Re-timing and revoking grants, a grant lapsing at its expiry, and two creations racing.

use super::*;

#[tokio::test]
async fn change_expiry_moves_a_running_grant_and_refuses_the_rest() {
    let mut w = World::new().await;
    let carol = w.user(CAROL).await;
    let staff_id = w.user(RECORDS).await;
    let alice = w.user(ALICE).await;
    let seed_alice = w.grant_between(ALICE, SMITH).await;
    let seed_bob = w.grant_between(BOB, JOHNSON).await;
    let seed_carol = w.grant_between(CAROL, WILLIAMS).await;
    let staff = w.session(RECORDS).await;

    // Extend, as records staff.
    let (_, original, _, _) = w.stored(seed_alice).await;
    let later = in_days(400);
    let changed = change(&w.svc, &staff, seed_alice, original, later)
        .await
        .unwrap();
    assert_eq!(changed.expires_at, later);
    assert_eq!(w.stored(seed_alice).await.1, later);
    let updates = w.audit("GRANT_UPDATE").await;
    assert_eq!(updates.len(), 1);
    let (user, resource, patient, _, details) = updates[0].clone();
    assert_eq!(
        (user, resource, patient),
        (Some(staff_id), Some(seed_alice), Some(alice))
    );
    assert_eq!(
        details["expires_at"],
        json!({"from": original.to_rfc3339(), "to": later.to_rfc3339()})
    );
    assert!(w.same_transaction(seed_alice, "GRANT_UPDATE").await);
    let indexed: bool = sqlx::query_scalar(
        "SELECT bool_and(expires_at = $2) FROM record_access WHERE grant_id = $1",
    )
    .bind(seed_alice)
    .bind(later)
    .fetch_one(&mut w.admin)
    .await
    .unwrap();
    assert!(indexed, "the browser index follows the expiry");

    // Shorten, as the patient.
    let as_alice = w.session(ALICE).await;
    let sooner = in_days(10);
    change(&w.svc, &as_alice, seed_alice, later, sooner)
        .await
        .unwrap();
    let updates = w.audit("GRANT_UPDATE").await;
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[1].0, Some(alice));
    assert_eq!(
        updates[1].4["expires_at"],
        json!({"from": later.to_rfc3339(), "to": sooner.to_rfc3339()})
    );

    let before = w.counts().await;
    // Someone changed it meanwhile: what the person saw is stale.
    match change(&w.svc, &staff, seed_alice, later, in_days(20)).await {
        Err(ServiceError::Conflict(message)) => one_sentence(&message),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(
        invalid(
            change(
                &w.svc,
                &staff,
                seed_alice,
                sooner,
                Utc::now() - Duration::hours(2)
            )
            .await
        )
        .contains("in the past")
    );
    let message = invalid(change(&w.svc, &staff, seed_alice, sooner, in_days(800)).await);
    assert!(message.contains("more than 730 days ahead"), "{message}");
    let message = invalid(change(&w.svc, &staff, seed_alice, sooner, sooner).await);
    assert!(
        message.contains("already expires at") && message.contains("nothing to change"),
        "{message}"
    );
    assert_eq!(w.stored(seed_alice).await.1, sooner);
    assert_eq!(w.counts().await, before, "no refusal changed anything");

    // Revoked and expired grants never change again.
    let (_, bob_expiry, _, _) = w.stored(seed_bob).await;
    grants::revoke(&w.svc, &client(), &staff, seed_bob, "patient request")
        .await
        .unwrap();
    let before_revoked = w.counts().await;
    let message = invalid(change(&w.svc, &staff, seed_bob, bob_expiry, in_days(60)).await);
    assert!(message.contains("revoked"), "{message}");
    w.set_expiry(seed_carol, "-1 minute").await;
    let (_, carol_expiry, _, _) = w.stored(seed_carol).await;
    let message = invalid(change(&w.svc, &staff, seed_carol, carol_expiry, in_days(60)).await);
    assert!(message.contains("expired"), "{message}");
    // Nor is a lapsed grant revoked: it has already stopped working.
    let message =
        invalid(grants::revoke(&w.svc, &client(), &staff, seed_carol, "patient request").await);
    assert!(message.contains("expired"), "{message}");
    assert_eq!(
        w.stored(seed_carol).await,
        (String::from("ACTIVE"), carol_expiry, None, None)
    );
    assert_eq!(w.counts().await, before_revoked);
    assert_eq!(
        before.changes + 1,
        before_revoked.changes,
        "only the revocation"
    );

    // Emergency access keeps its hour: never stretched, never cut short; revoking ends it sooner.
    let as_williams = w.session(WILLIAMS).await;
    let emergency = records::break_glass(
        &w.svc,
        &client(),
        &as_williams,
        carol,
        "patient collapsed in the waiting room",
        PASSWORD,
    )
    .await
    .unwrap();
    let before = w.counts().await;
    let shorter = (emergency.expires_at - Duration::minutes(30)).trunc_subsecs(6);
    for to in [emergency.expires_at + Duration::hours(2), shorter] {
        let message =
            invalid(change(&w.svc, &staff, emergency.grant, emergency.expires_at, to).await);
        assert_eq!(
            message,
            "Emergency access keeps its hour and is never re-timed; revoke it to end it sooner."
        );
    }
    let (status, expiry, _, _) = w.stored(emergency.grant).await;
    assert_eq!((status.as_str(), expiry), ("ACTIVE", emergency.expires_at));
    assert_eq!(w.counts().await, before, "nothing changed, nothing audited");
    let ended = grants::revoke(
        &w.svc,
        &client(),
        &staff,
        emergency.grant,
        "patient stable, care handed over",
    )
    .await
    .unwrap();
    assert_eq!(ended.status, GrantStatus::Revoked);
    assert!(ended.is_emergency);
    assert_eq!(
        ended.expires_at, emergency.expires_at,
        "revoking keeps the hour"
    );
}

/// The database's ceiling holds even where the service's own limit were set beyond it: a grant is
/// never created nor re-timed past `hsc_grant_ceiling()` (3661 days), and the longest expiry the
/// configuration allows (3660 days, to the end of that day) stays within it.
#[tokio::test]
async fn no_grant_runs_beyond_the_database_ceiling() {
    let mut w = World::new().await;
    let alice = w.user(ALICE).await;
    let bob = w.user(BOB).await;
    let brown = w.user(BROWN).await;
    let seed_alice = w.grant_between(ALICE, SMITH).await;
    let (_, seed_expiry, _, _) = w.stored(seed_alice).await;
    let staff = w.session(RECORDS).await;
    let (last_day, first_day_beyond) = (in_days(3660), in_days(3661));

    // The configured maximum fits under the ceiling, for a new grant and for a new expiry.
    w.svc.policy.grant_max_days = 3660;
    let longest = NewGrant {
        expires_at: last_day,
        ..whole_chart(alice, brown)
    };
    let made = w.create(&staff, &longest).await.unwrap();
    assert_eq!(made.expires_at, last_day);
    let moved = change(&w.svc, &staff, seed_alice, seed_expiry, last_day)
        .await
        .unwrap();
    assert_eq!(moved.expires_at, last_day);

    // Past it, the database refuses whatever the service would allow.
    w.svc.policy.grant_max_days = 5000;
    let before = w.counts().await;
    let beyond = NewGrant {
        expires_at: first_day_beyond,
        ..whole_chart(bob, brown)
    };
    let message = denied(w.create(&staff, &beyond).await);
    assert!(message.contains("database refused"), "{message}");
    let message = invalid(change(&w.svc, &staff, seed_alice, last_day, first_day_beyond).await);
    assert!(message.contains("database refused"), "{message}");
    assert_eq!(w.counts().await, before, "nothing changed, nothing audited");
    assert_eq!(w.stored(seed_alice).await.1, last_day);
}

#[tokio::test]
async fn revoking_needs_a_reason_and_ends_the_grantees_access_at_once() {
    let mut w = World::new().await;
    let carol = w.user(CAROL).await;
    let williams = w.user(WILLIAMS).await;
    let hypertension = w.record("Hypertension Treatment Plan").await;
    let follow_up = w.record("Follow-up Visit - Blood Pressure Check").await;
    let seed_carol = w.grant_between(CAROL, WILLIAMS).await;
    let as_williams = w.session(WILLIAMS).await;
    assert!(opens(&w.svc, &as_williams, hypertension).await);

    let as_carol = w.session(CAROL).await;
    let before = w.counts().await;
    for reason in ["", "  no  ", "abcd"] {
        let message =
            invalid(grants::revoke(&w.svc, &client(), &as_carol, seed_carol, reason).await);
        assert!(message.contains("at least 5 characters"), "{message}");
    }
    let message =
        invalid(grants::revoke(&w.svc, &client(), &as_carol, seed_carol, &"x".repeat(501)).await);
    assert!(message.contains("longer than 500 characters"), "{message}");
    assert_eq!(w.counts().await, before);
    assert_eq!(w.stored(seed_carol).await.0, "ACTIVE");

    let revoked = grants::revoke(
        &w.svc,
        &client(),
        &as_carol,
        seed_carol,
        "  I changed clinics  ",
    )
    .await
    .unwrap();
    assert_eq!(revoked.status, GrantStatus::Revoked);
    assert_eq!(revoked.revoked_by.as_ref().map(|p| p.id), Some(carol));
    assert_eq!(
        revoked.revocation_reason.as_deref(),
        Some("I changed clinics")
    );
    let at = revoked.revoked_at.unwrap();
    assert!((Utc::now() - at).num_seconds().abs() < 60, "revoked now");
    let (status, _, by, reason) = w.stored(seed_carol).await;
    assert_eq!(
        (status.as_str(), by, reason.as_deref()),
        ("REVOKED", Some(carol), Some("I changed clinics"))
    );
    let rows = w.audit("GRANT_REVOKE").await;
    assert_eq!(rows.len(), 1);
    let (user, resource, patient, _, details) = rows[0].clone();
    assert_eq!(
        (user, resource, patient),
        (Some(carol), Some(seed_carol), Some(carol))
    );
    assert_eq!(details["grantee"], json!(williams));
    assert!(
        !details.to_string().contains("changed clinics"),
        "the reason stays on the grant"
    );
    assert!(w.same_transaction(seed_carol, "GRANT_REVOKE").await);

    // The same session's very next request is refused; her own record stays hers.
    assert!(!opens(&w.svc, &as_williams, hypertension).await);
    assert!(opens(&w.svc, &as_williams, follow_up).await, "she wrote it");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM record_access WHERE grant_id = $1")
        .bind(seed_carol)
        .fetch_one(&mut w.admin)
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert!(w.list(&as_williams, "").await.is_empty());
    assert_eq!(
        w.list(&as_williams, "revoked").await[0].status,
        GrantStatus::Revoked
    );

    // Once is final.
    let staff = w.session(RECORDS).await;
    let before = w.counts().await;
    let message =
        invalid(grants::revoke(&w.svc, &client(), &staff, seed_carol, "second time lucky").await);
    assert!(message.contains("was revoked"), "{message}");
    assert_eq!(w.counts().await, before);
    assert_eq!(w.stored(seed_carol).await.2, Some(carol));
}

#[tokio::test]
async fn a_lapsed_grant_stops_at_once_and_is_marked_expired_when_seen() {
    let mut w = World::new().await;
    let carol = w.user(CAROL).await;
    let smith = w.user(SMITH).await;
    let bob = w.user(BOB).await;
    let staff_id = w.user(RECORDS).await;
    let hypertension = w.record("Hypertension Treatment Plan").await;
    let seed_carol = w.grant_between(CAROL, WILLIAMS).await;
    let seed_alice = w.grant_between(ALICE, SMITH).await;
    let seed_bob = w.grant_between(BOB, JOHNSON).await;
    let as_williams = w.session(WILLIAMS).await;
    assert!(opens(&w.svc, &as_williams, hypertension).await);

    w.set_expiry(seed_carol, "-1 minute").await;
    assert_eq!(w.stored(seed_carol).await.0, "ACTIVE");
    assert!(
        !opens(&w.svc, &as_williams, hypertension).await,
        "past its expiry, whatever its status says"
    );

    let staff = w.session(RECORDS).await;
    assert!(!ids(&w.list(&staff, "").await).contains(&seed_carol));
    assert!(
        w.audit("GRANT_EXPIRED").await.is_empty(),
        "not shown, not marked"
    );
    let shown = w.list(&staff, "expired").await;
    assert_eq!(ids(&shown), vec![seed_carol]);
    assert_eq!(shown[0].status, GrantStatus::Expired);
    assert_eq!(w.stored(seed_carol).await.0, "EXPIRED");
    let marked = w.audit("GRANT_EXPIRED").await;
    assert_eq!(marked.len(), 1);
    let (user, resource, patient, _, _) = marked[0].clone();
    assert_eq!(
        (user, resource, patient),
        (Some(staff_id), Some(seed_carol), Some(carol))
    );
    assert!(w.same_transaction(seed_carol, "GRANT_EXPIRED").await);
    w.list(&staff, "expired").await;
    assert_eq!(w.audit("GRANT_EXPIRED").await.len(), 1, "marked once");

    // A physician's own lapsed grant is brought up to date by his own list.
    w.set_expiry(seed_alice, "-1 second").await;
    let as_smith = w.session(SMITH).await;
    let his = w.list(&as_smith, "expired").await;
    assert_eq!(ids(&his), vec![seed_alice]);
    assert_eq!(w.stored(seed_alice).await.0, "EXPIRED");
    let marked = w.audit("GRANT_EXPIRED").await;
    assert_eq!((marked[1].0, marked[1].1), (Some(smith), Some(seed_alice)));

    // And a patient's, by hers.
    w.set_expiry(seed_bob, "-1 second").await;
    let as_bob = w.session(BOB).await;
    assert_eq!(ids(&w.list(&as_bob, "all").await), vec![seed_bob]);
    assert_eq!(w.stored(seed_bob).await.0, "EXPIRED");
    assert_eq!(w.audit("GRANT_EXPIRED").await[2].0, Some(bob));
}

#[tokio::test]
async fn two_identical_grants_at_once_make_one() {
    let mut w = World::new().await;
    let pairs = [
        (BOB, WILLIAMS),
        (CAROL, SMITH),
        (ALICE, BROWN),
        (BOB, BROWN),
    ];
    let one = w.session(RECORDS).await;
    let two = w.session(RECORDS).await;
    for (patient, grantee) in pairs {
        let new = whole_chart(w.user(patient).await, w.user(grantee).await);
        let (first, second) = (client(), client());
        let (a, b) = tokio::join!(
            grants::create(&w.svc, &first, &one, &new),
            grants::create(&w.svc, &second, &two, &new)
        );
        let made: Vec<&Grant> = [&a, &b]
            .into_iter()
            .filter_map(|r| r.as_ref().ok())
            .collect();
        assert_eq!(made.len(), 1, "{patient} to {grantee}: {a:?} / {b:?}");
        for result in [&a, &b] {
            match result {
                Ok(_) => {}
                Err(ServiceError::Invalid(m) | ServiceError::Conflict(m)) => one_sentence(m),
                Err(e) => panic!("{patient} to {grantee}: {e:?}"),
            }
        }
        let stored: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM access_grants WHERE patient_id = $1 AND grantee_id = $2",
        )
        .bind(new.patient)
        .bind(new.grantee)
        .fetch_one(&mut w.admin)
        .await
        .unwrap();
        assert_eq!(stored, 1, "{patient} to {grantee}");
        let audited: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_logs WHERE action = 'GRANT_CREATE' AND resource_id = $1",
        )
        .bind(made[0].id)
        .fetch_one(&mut w.admin)
        .await
        .unwrap();
        assert_eq!(audited, 1);
    }
    assert_eq!(w.audit("GRANT_CREATE").await.len(), pairs.len());
}
