//! Creating grants: who may, what they open at once, the people and records offered, and every
//! kind of bad input — refused in one sentence with nothing changed.

use super::*;

#[tokio::test]
async fn records_staff_and_patients_create_grants_that_open_records_at_once() {
    let mut w = World::new().await;
    let alice = w.user(ALICE).await;
    let bob = w.user(BOB).await;
    let smith = w.user(SMITH).await;
    let brown = w.user(BROWN).await;
    let staff_id = w.user(RECORDS).await;
    let migraine = w.record("Migraine Headache Diagnosis").await;
    let prescription = w.record("Migraine Medication Prescription").await;
    let physical = w.record("Annual Physical Examination").await;
    let blood_work = w.record("Blood Work - Complete Metabolic Panel").await;

    // Records staff: Bob's whole chart to Smith, who had no way in.
    let as_smith = w.session(SMITH).await;
    assert!(!opens(&w.svc, &as_smith, migraine).await);
    let staff = w.session(RECORDS).await;
    let new = whole_chart(bob, smith);
    let grant = w.create(&staff, &new).await.unwrap();
    assert_eq!(
        (
            grant.patient.id,
            grant.grantee.id,
            grant.granted_by.id,
            grant.grantee_role
        ),
        (bob, smith, staff_id, Some(Role::Physician))
    );
    assert_eq!(
        (grant.records.clone(), grant.level, grant.status),
        (None, AccessLevel::ReadWrite, GrantStatus::Active)
    );
    assert_eq!(grant.expires_at, new.expires_at);
    assert!(!grant.is_emergency && grant.revoked_at.is_none());
    let created = w.audit("GRANT_CREATE").await;
    assert_eq!(created.len(), 1);
    let (user, resource, patient, outcome, details) = created[0].clone();
    assert_eq!(
        (user, resource, patient, outcome.as_str()),
        (Some(staff_id), Some(grant.id), Some(bob), "success")
    );
    assert_eq!(details["scope"], "ALL_RECORDS");
    assert_eq!(details["grantee"], json!(smith));
    assert_eq!(details["access_level"], "READ_WRITE");
    assert!(w.same_transaction(grant.id, "GRANT_CREATE").await);
    let indexed: Vec<Uuid> = sqlx::query_scalar(
        "SELECT record_id FROM record_access WHERE grant_id = $1 AND user_id = $2 ORDER BY record_id",
    )
    .bind(grant.id)
    .bind(smith)
    .fetch_all(&mut w.admin)
    .await
    .unwrap();
    assert_eq!(indexed, sorted(vec![migraine, prescription]));
    assert!(
        opens(&w.svc, &as_smith, migraine).await,
        "same session, next call"
    );
    assert!(opens(&w.svc, &as_smith, prescription).await);

    // A patient: one of her own records, to a nurse who had none.
    let as_brown = w.session(BROWN).await;
    assert!(!opens(&w.svc, &as_brown, physical).await);
    let as_alice = w.session(ALICE).await;
    let hers = w
        .create(&as_alice, &selected(alice, brown, &[physical]))
        .await
        .unwrap();
    assert_eq!(hers.granted_by.id, alice);
    assert_eq!(hers.level, AccessLevel::Read);
    let listed: Vec<Uuid> = hers.records.clone().unwrap().iter().map(|r| r.id).collect();
    assert_eq!(listed, vec![physical]);
    assert_eq!(hers.scope_text(), "1 record (Consultation 2024-01-15)");
    assert!(w.same_transaction(hers.id, "GRANT_CREATE").await);
    let stored: Vec<Uuid> =
        sqlx::query_scalar("SELECT record_id FROM access_grant_records WHERE grant_id = $1")
            .bind(hers.id)
            .fetch_all(&mut w.admin)
            .await
            .unwrap();
    assert_eq!(stored, vec![physical]);
    assert!(opens(&w.svc, &as_brown, physical).await);
    assert!(
        !opens(&w.svc, &as_brown, blood_work).await,
        "only the record listed"
    );
    assert_eq!(w.audit("GRANT_CREATE").await.len(), 2);

    // A record named twice is listed once.
    let johnson = w.user(JOHNSON).await;
    let twice = w
        .create(
            &as_alice,
            &selected(alice, johnson, &[blood_work, blood_work]),
        )
        .await
        .unwrap();
    assert_eq!(twice.records.map(|r| r.len()), Some(1));
}

#[tokio::test]
async fn bad_input_is_refused_in_one_sentence_and_changes_nothing() {
    let mut w = World::new().await;
    let alice = w.user(ALICE).await;
    let bob = w.user(BOB).await;
    let brown = w.user(BROWN).await;
    let staff_id = w.user(RECORDS).await;
    let billing = w.user(BILLING).await;
    let admin_id = w.user(ADMIN).await;
    let physical = w.record("Annual Physical Examination").await;
    let migraine = w.record("Migraine Headache Diagnosis").await;
    let staff = w.session(RECORDS).await;
    let as_alice = w.session(ALICE).await;
    let before = w.counts().await;

    let past = NewGrant {
        expires_at: Utc::now() - Duration::hours(1),
        ..whole_chart(alice, brown)
    };
    assert!(invalid(w.create(&staff, &past).await).contains("in the past"));
    let far = NewGrant {
        expires_at: Utc::now() + Duration::days(731),
        ..whole_chart(alice, brown)
    };
    assert!(invalid(w.create(&staff, &far).await).contains("more than 730 days ahead"));
    let unknown = Uuid::new_v4();
    assert!(invalid(w.create(&staff, &whole_chart(alice, unknown)).await).contains("No such user"));
    assert!(
        invalid(w.create(&staff, &whole_chart(unknown, brown)).await).contains("No such patient")
    );
    let not_patient = invalid(w.create(&staff, &whole_chart(brown, alice)).await);
    assert!(not_patient.contains("is not a patient"), "{not_patient}");
    for grantee in [bob, staff_id, billing, admin_id] {
        let message = invalid(w.create(&staff, &whole_chart(alice, grantee)).await);
        assert!(message.contains("is not a physician or nurse"), "{message}");
    }
    // A patient does not even see other patients, so one cannot be her grantee.
    invalid(w.create(&as_alice, &whole_chart(alice, bob)).await);
    invalid(w.create(&as_alice, &whole_chart(alice, staff_id)).await);
    for (who, session) in [("staff", &staff), ("patient", &as_alice)] {
        let message = invalid(
            w.create(session, &selected(alice, brown, &[physical, migraine]))
                .await,
        );
        assert!(
            message.contains(&grants::short_id(migraine))
                && message.contains("is not one of Alice Anderson's records"),
            "{who}: {message}"
        );
        let message = invalid(w.create(session, &selected(alice, brown, &[])).await);
        assert!(message.contains("at least one record"), "{who}: {message}");
    }
    // An inactive clinician holds no grant.
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1")
        .bind(brown)
        .execute(&mut w.admin)
        .await
        .unwrap();
    assert!(invalid(w.create(&staff, &whole_chart(alice, brown)).await).contains("not active"));
    sqlx::query("UPDATE users SET is_active = true WHERE id = $1")
        .bind(brown)
        .execute(&mut w.admin)
        .await
        .unwrap();
    assert_eq!(w.counts().await, before, "nothing changed");

    // The limit is the configured one.
    w.svc.policy.grant_max_days = 1000;
    let further = NewGrant {
        expires_at: Utc::now() + Duration::days(800),
        ..whole_chart(alice, brown)
    };
    let long = w.create(&staff, &further).await.unwrap();
    assert_eq!(long.expires_at, further.expires_at.trunc_subsecs(6));
    let beyond = NewGrant {
        expires_at: Utc::now() + Duration::days(1001),
        ..whole_chart(bob, brown)
    };
    assert!(invalid(w.create(&staff, &beyond).await).contains("more than 1000 days ahead"));
}

#[tokio::test]
async fn overlapping_grants_are_refused_naming_the_grant_they_overlap() {
    let mut w = World::new().await;
    let alice = w.user(ALICE).await;
    let bob = w.user(BOB).await;
    let carol = w.user(CAROL).await;
    let smith = w.user(SMITH).await;
    let williams = w.user(WILLIAMS).await;
    let brown = w.user(BROWN).await;
    let johnson = w.user(JOHNSON).await;
    let physical = w.record("Annual Physical Examination").await;
    let blood_work = w.record("Blood Work - Complete Metabolic Panel").await;
    let migraine = w.record("Migraine Headache Diagnosis").await;
    let seed_alice = w.grant_between(ALICE, SMITH).await;
    let staff = w.session(RECORDS).await;
    let as_alice = w.session(ALICE).await;
    let before = w.counts().await;

    // The seed's grant covers records 1 and 2: a whole-chart grant, or either record, overlaps it.
    for (session, new) in [
        (&staff, whole_chart(alice, smith)),
        (&staff, selected(alice, smith, &[blood_work])),
        (&as_alice, selected(alice, smith, &[physical])),
    ] {
        let message = invalid(w.create(session, &new).await);
        assert!(
            message.contains(&format!("grant {}", grants::short_id(seed_alice))),
            "{message}"
        );
        assert!(
            message.contains("already holds an active grant"),
            "{message}"
        );
    }
    assert_eq!(w.counts().await, before);

    // Whole chart against selected records, both ways round.
    let chart = w.create(&staff, &whole_chart(bob, brown)).await.unwrap();
    let message = invalid(w.create(&staff, &selected(bob, brown, &[migraine])).await);
    assert!(message.contains(&grants::short_id(chart.id)), "{message}");
    let first = w
        .create(&as_alice, &selected(alice, williams, &[physical]))
        .await
        .unwrap();
    let message = invalid(w.create(&staff, &whole_chart(alice, williams)).await);
    assert!(message.contains(&grants::short_id(first.id)), "{message}");
    // Disjoint records do not overlap.
    let second = w
        .create(&as_alice, &selected(alice, williams, &[blood_work]))
        .await
        .unwrap();
    assert_ne!(first.id, second.id);

    // A revoked, expired or lapsed grant blocks nothing.
    let seed_carol = w.grant_between(CAROL, WILLIAMS).await;
    let carols = w.session(CAROL).await;
    grants::revoke(
        &w.svc,
        &client(),
        &carols,
        seed_carol,
        "moved to another clinic",
    )
    .await
    .unwrap();
    w.create(&staff, &whole_chart(carol, williams))
        .await
        .unwrap();
    let seed_bob = w.grant_between(BOB, JOHNSON).await;
    w.set_expiry(seed_bob, "-1 minute").await;
    w.create(&staff, &whole_chart(bob, johnson)).await.unwrap();
    w.owner_grant(carol, smith, "EXPIRED", "-2 days", false)
        .await;
    w.create(&staff, &whole_chart(carol, smith)).await.unwrap();

    // Emergency access stands apart: it neither blocks a grant nor is blocked by one.
    let as_johnson = w.session(JOHNSON).await;
    records::break_glass(
        &w.svc,
        &client(),
        &as_johnson,
        alice,
        "patient unconscious in the ER",
        PASSWORD,
    )
    .await
    .unwrap();
    w.create(&staff, &whole_chart(alice, johnson))
        .await
        .unwrap();
    let as_smith = w.session(SMITH).await;
    records::break_glass(
        &w.svc,
        &client(),
        &as_smith,
        alice,
        "patient unconscious in the ER",
        PASSWORD,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn only_records_staff_and_the_patient_manage_grants() {
    let mut w = World::new().await;
    let alice = w.user(ALICE).await;
    let bob = w.user(BOB).await;
    let brown = w.user(BROWN).await;
    let seed_alice = w.grant_between(ALICE, SMITH).await;
    let seed_bob = w.grant_between(BOB, JOHNSON).await;
    let (_, seed_expiry, _, _) = w.stored(seed_alice).await;
    let before = w.counts().await;

    // A patient on someone else's records.
    let alice_id = alice;
    let as_alice = w.session(ALICE).await;
    denied(w.create(&as_alice, &whole_chart(bob, brown)).await);
    assert_eq!(w.refusals(alice_id, "create grant").await, 1);
    let message =
        denied(grants::revoke(&w.svc, &client(), &as_alice, seed_bob, "not my doctor").await);
    assert!(!message.contains("Bob"), "{message}");
    assert_eq!(w.refusals(alice_id, "revoke grant").await, 1);
    denied(
        grants::change_expiry(
            &w.svc,
            &client(),
            &as_alice,
            seed_bob,
            seed_expiry,
            in_days(3),
        )
        .await,
    );
    assert_eq!(w.refusals(alice_id, "change grant expiry").await, 1);

    // Clinicians see their grants but change none, not even their own; admins and billing nothing.
    for email in [SMITH, WILLIAMS, ADMIN, BILLING] {
        let who = w.user(email).await;
        let session = w.session(email).await;
        denied(w.create(&session, &whole_chart(alice, brown)).await);
        denied(
            grants::revoke(
                &w.svc,
                &client(),
                &session,
                seed_alice,
                "not needed any more",
            )
            .await,
        );
        denied(
            grants::change_expiry(
                &w.svc,
                &client(),
                &session,
                seed_alice,
                seed_expiry,
                in_days(3),
            )
            .await,
        );
        // Even with bad input, the attempt is refused for the role (and audited), not the input.
        denied(grants::revoke(&w.svc, &client(), &session, seed_alice, "no").await);
        for attempt in ["create grant", "revoke grant", "change grant expiry"] {
            assert!(
                w.refusals(who, attempt).await >= 1,
                "{email}: {attempt} not audited"
            );
        }
        denied(grants::patient_records(&w.svc, &client(), &session, alice).await);
    }
    let after = w.counts().await;
    assert_eq!(after, before, "nothing changed");
    assert_eq!(w.stored(seed_alice).await.0, "ACTIVE");
}

#[tokio::test]
async fn choosing_people_and_records_for_a_new_grant() {
    let mut w = World::new().await;
    let alice = w.user(ALICE).await;
    let bob = w.user(BOB).await;
    let smith = w.user(SMITH).await;
    let billing = w.user(BILLING).await;
    let physical = w.record("Annual Physical Examination").await;
    let blood_work = w.record("Blood Work - Complete Metabolic Panel").await;
    let staff = w.session(RECORDS).await;

    let patients = find(&w.svc, &staff, Wanted::Patient, "and").await;
    assert_eq!(
        patients.iter().map(|c| c.person.id).collect::<Vec<_>>(),
        vec![alice]
    );
    assert!(patients[0].eligible);
    let smiths = find(&w.svc, &staff, Wanted::Grantee, "smith").await;
    assert_eq!(
        smiths
            .iter()
            .map(|c| (c.person.id, c.eligible))
            .collect::<Vec<_>>(),
        vec![(smith, true)]
    );
    let davis = find(&w.svc, &staff, Wanted::Grantee, "davis").await;
    assert_eq!(
        davis
            .iter()
            .map(|c| (c.person.id, c.role, c.eligible))
            .collect::<Vec<_>>(),
        vec![(billing, Role::BillingStaff, false)]
    );
    assert!(
        find(&w.svc, &staff, Wanted::Patient, "smith")
            .await
            .is_empty()
    );
    assert!(
        find(&w.svc, &staff, Wanted::Grantee, "evans")
            .await
            .is_empty(),
        "not oneself"
    );

    let as_alice = w.session(ALICE).await;
    assert!(
        find(&w.svc, &as_alice, Wanted::Patient, "baker")
            .await
            .is_empty()
    );
    assert!(
        find(&w.svc, &as_alice, Wanted::Grantee, "baker")
            .await
            .is_empty()
    );
    assert_eq!(
        find(&w.svc, &as_alice, Wanted::Grantee, "brown")
            .await
            .len(),
        1
    );
    let as_smith = w.session(SMITH).await;
    assert!(
        find(&w.svc, &as_smith, Wanted::Grantee, "brown")
            .await
            .is_empty()
    );

    let choices = grants::patient_records(&w.svc, &client(), &staff, alice)
        .await
        .unwrap();
    assert_eq!(
        choices.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![blood_work, physical],
        "newest first"
    );
    assert_eq!(choices[0].provider, "John Smith");
    let listed = w.audit("RECORD_LIST").await;
    let details = &listed.last().unwrap().4;
    assert_eq!(details["records"], json!([blood_work, physical]));
    assert_eq!(details["purpose"], "grant scope");
    let alice_id = alice;
    denied(grants::patient_records(&w.svc, &client(), &as_alice, bob).await);
    assert_eq!(w.refusals(alice_id, "grant scope").await, 1);
    assert_eq!(
        grants::patient_records(&w.svc, &client(), &as_alice, alice)
            .await
            .unwrap()
            .len(),
        2
    );
}
