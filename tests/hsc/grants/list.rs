//! Who sees which grants, the list's filters and its keyset pages, each page on the audit trail.

use super::*;

#[tokio::test]
async fn each_role_sees_exactly_its_grants_and_the_list_is_audited() {
    let mut w = World::new().await;
    let alice = w.user(ALICE).await;
    let smith = w.user(SMITH).await;
    let williams = w.user(WILLIAMS).await;
    let staff = w.user(RECORDS).await;
    let seed_alice = w.grant_between(ALICE, SMITH).await;
    let seed_bob = w.grant_between(BOB, JOHNSON).await;
    let seed_carol = w.grant_between(CAROL, WILLIAMS).await;
    // One more of Alice's, to someone else, so "own" and "incoming" differ from "all".
    let brown = w.user(BROWN).await;
    let alice_brown = w
        .owner_grant(alice, brown, "ACTIVE", "40 days", false)
        .await;

    let records_staff = w.session(RECORDS).await;
    let all = w.list(&records_staff, "all").await;
    assert_eq!(
        ids(&all),
        sorted(vec![seed_alice, seed_bob, seed_carol, alice_brown])
    );
    let listed = w.audit("GRANT_LIST").await;
    let (user, _, _, outcome, details) = listed.last().unwrap().clone();
    assert_eq!((user, outcome.as_str()), (Some(staff), "success"));
    let shown: Vec<Uuid> = all.iter().map(|g| g.id).collect();
    assert_eq!(
        details["grants"],
        json!(shown),
        "the row names what was shown"
    );
    assert_eq!(details["status"], "all");

    let as_alice = w.session(ALICE).await;
    let hers = w.list(&as_alice, "all").await;
    assert_eq!(ids(&hers), sorted(vec![seed_alice, alice_brown]));
    assert!(hers.iter().all(|g| g.patient.id == alice));
    assert_eq!(w.audit("GRANT_LIST").await.len(), listed.len() + 1);

    let as_smith = w.session(SMITH).await;
    let his = w.list(&as_smith, "all").await;
    assert_eq!(ids(&his), vec![seed_alice]);
    assert!(his.iter().all(|g| g.grantee.id == smith));
    let as_williams = w.session(WILLIAMS).await;
    let hers = w.list(&as_williams, "").await;
    assert_eq!(ids(&hers), vec![seed_carol]);
    assert_eq!(hers[0].grantee.id, williams);
    assert_eq!(hers[0].status, GrantStatus::Active);
    assert_eq!(
        hers[0].records.as_ref().map(Vec::len),
        Some(2),
        "records 5 and 6"
    );
    let as_johnson = w.session(JOHNSON).await;
    assert_eq!(ids(&w.list(&as_johnson, "all").await), vec![seed_bob]);

    for email in [ADMIN, BILLING] {
        let who = w.user(email).await;
        let session = w.session(email).await;
        let before = w.audit("GRANT_LIST").await.len();
        denied(
            grants::list(
                &w.svc,
                &client(),
                &session,
                &GrantFilter::default(),
                None,
                50,
            )
            .await,
        );
        assert_eq!(w.refusals(who, "list grants").await, 1, "{email}");
        assert_eq!(w.audit("GRANT_LIST").await.len(), before, "{email}");
    }
}

#[tokio::test]
async fn filters_choose_grants_by_status_patient_grantee_and_expiry() {
    let mut w = World::new().await;
    let alice = w.user(ALICE).await;
    let bob = w.user(BOB).await;
    let carol = w.user(CAROL).await;
    let brown = w.user(BROWN).await;
    let johnson = w.user(JOHNSON).await;
    let seed_alice = w.grant_between(ALICE, SMITH).await;
    let seed_bob = w.grant_between(BOB, JOHNSON).await;
    let seed_carol = w.grant_between(CAROL, WILLIAMS).await;
    let soon = w.owner_grant(bob, brown, "ACTIVE", "5 days", false).await;
    let revoked = w
        .owner_grant(carol, brown, "REVOKED", "90 days", false)
        .await;
    let expired = w
        .owner_grant(alice, brown, "EXPIRED", "-3 days", false)
        .await;
    let lapsed = w
        .owner_grant(carol, johnson, "ACTIVE", "-1 hour", false)
        .await;
    let emergency = w
        .owner_grant(alice, johnson, "ACTIVE", "1 hour", true)
        .await;

    let staff = w.session(RECORDS).await;
    let cases: [(&str, Vec<Uuid>); 14] = [
        ("", vec![seed_alice, seed_bob, seed_carol, soon, emergency]),
        (
            "active",
            vec![seed_alice, seed_bob, seed_carol, soon, emergency],
        ),
        ("expired", vec![expired, lapsed]),
        ("revoked", vec![revoked]),
        ("emergency", vec![emergency]),
        (
            "all",
            vec![
                seed_alice, seed_bob, seed_carol, soon, revoked, expired, lapsed, emergency,
            ],
        ),
        ("patient:anderson", vec![seed_alice, emergency]),
        ("all patient:Carol", vec![seed_carol, revoked, lapsed]),
        ("grantee:brown", vec![soon]),
        ("all grantee:johnson", vec![seed_bob, lapsed, emergency]),
        ("expiring:10", vec![soon, emergency]),
        ("emergency expiring:1", vec![emergency]),
        ("all expiring:3", vec![emergency]),
        ("baker brown", vec![soon]),
    ];
    for (filter, want) in cases {
        let got = w.list(&staff, filter).await;
        assert_eq!(ids(&got), sorted(want), "filter {filter:?}");
    }
    // The list says where each stands: a lapsed grant is expired whatever its column said.
    let all = w.list(&staff, "all").await;
    let status = |id: Uuid| all.iter().find(|g| g.id == id).unwrap().status;
    assert_eq!(status(lapsed), GrantStatus::Expired);
    assert_eq!(status(expired), GrantStatus::Expired);
    assert_eq!(status(revoked), GrantStatus::Revoked);
    assert_eq!(status(soon), GrantStatus::Active);
    // A filter word it does not know changes nothing and says so.
    invalid(GrantFilter::parse("colour:red"));

    // A patient's filters stay within their own grants.
    let as_alice = w.session(ALICE).await;
    assert_eq!(
        ids(&w.list(&as_alice, "all grantee:brown").await),
        vec![expired]
    );
    assert!(w.list(&as_alice, "patient:baker").await.is_empty());
}

#[tokio::test]
async fn paging_returns_every_grant_once_in_expiry_order() {
    let mut w = World::new().await;
    let patients = [w.user(ALICE).await, w.user(BOB).await, w.user(CAROL).await];
    let grantees = [
        w.user(SMITH).await,
        w.user(JOHNSON).await,
        w.user(WILLIAMS).await,
        w.user(BROWN).await,
    ];
    // Three grants share each expiry, so the id decides their order.
    for i in 0..23u32 {
        sqlx::query(
            "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by) \
             VALUES ($1, $2, 'ALL_RECORDS', 'READ', \
                     date_trunc('day', now()) + interval '10 days' + make_interval(days => $3), $1)",
        )
        .bind(patients[i as usize % 3])
        .bind(grantees[i as usize % 4])
        .bind((i / 3) as i32)
        .execute(&mut w.admin)
        .await
        .unwrap();
    }
    let want: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM access_grants WHERE status = 'ACTIVE' AND expires_at > now() ORDER BY expires_at, id",
    )
    .fetch_all(&mut w.admin)
    .await
    .unwrap();
    assert_eq!(want.len(), 26);

    let staff = w.session(RECORDS).await;
    let mut got: Vec<Grant> = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let GrantPage { grants: page, next } =
            grants::list(&w.svc, &client(), &staff, &GrantFilter::default(), after, 4)
                .await
                .unwrap();
        pages += 1;
        assert!(page.len() <= 4);
        got.extend(page);
        match next {
            Some(cursor) => {
                let last = got.last().unwrap();
                assert_eq!((cursor.expires_at, cursor.id), (last.expires_at, last.id));
                after = Some(cursor);
            }
            None => break,
        }
        assert!(pages < 20, "paging does not end");
    }
    assert_eq!(pages, 7);
    let order: Vec<Uuid> = got.iter().map(|g| g.id).collect();
    assert_eq!(order, want, "each grant once, by (expires_at, id)");
    assert!(
        got.windows(2)
            .all(|p| (p[0].expires_at, p[0].id) < (p[1].expires_at, p[1].id))
    );
    assert_eq!(w.audit("GRANT_LIST").await.len(), 7, "one row per page");

    // A grantee pages through their own only.
    let smith = w.session(SMITH).await;
    let mut mine = Vec::new();
    let mut after = None;
    loop {
        let page = grants::list(&w.svc, &client(), &smith, &GrantFilter::default(), after, 2)
            .await
            .unwrap();
        mine.extend(page.grants.iter().map(|g| g.id));
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    let his: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM access_grants WHERE grantee_id = $1 ORDER BY expires_at, id",
    )
    .bind(grantees[0])
    .fetch_all(&mut w.admin)
    .await
    .unwrap();
    assert_eq!(mine, his);
}

#[tokio::test]
async fn grantee_finds_deleted_staff_and_a_name_standing_for_too_many_is_refused() {
    let mut w = World::new().await;
    let alice = w.user(ALICE).await;
    let brown = w.user(BROWN).await;
    let to_brown = w
        .owner_grant(alice, brown, "ACTIVE", "40 days", false)
        .await;
    // Brown leaves: her account is deleted, her grant is still there to find and revoke.
    sqlx::query("UPDATE users SET deleted_at = now(), is_active = false WHERE id = $1")
        .bind(brown)
        .execute(&mut w.admin)
        .await
        .unwrap();
    let staff = w.session(RECORDS).await;
    assert_eq!(ids(&w.list(&staff, "grantee:brown").await), vec![to_brown]);
    assert_eq!(
        ids(&w.list(&staff, "all grantee:brown").await),
        vec![to_brown]
    );
    let as_alice = w.session(ALICE).await;
    assert_eq!(
        ids(&w.list(&as_alice, "grantee:brown").await),
        vec![to_brown]
    );

    // A thousand people may stand behind a name; one more, and it must be typed more fully.
    let add = |role: &'static str, last: &'static str, from: i32, to: i32| {
        format!(
            "INSERT INTO users (email, password_hash, first_name, last_name, role) \
             SELECT '{last}' || i || '@example.com', 'x', 'Many', '{last}' || i, '{role}' \
             FROM generate_series({from}, {to}) i"
        )
    };
    for sql in [
        add("patient", "Manyfold", 1, 1000),
        add("billing_staff", "Clerkwell", 1, 1000),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut w.admin)
            .await
            .unwrap();
    }
    assert!(w.list(&staff, "all patient:manyfold").await.is_empty());
    assert!(w.list(&staff, "all grantee:clerkwell").await.is_empty());
    for sql in [
        add("patient", "Manyfold", 1001, 1001),
        add("billing_staff", "Clerkwell", 1001, 1001),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut w.admin)
            .await
            .unwrap();
    }
    let listed = w.audit("GRANT_LIST").await.len();
    for (filter, name) in [
        ("all patient:manyfold", "manyfold"),
        ("grantee:clerkwell", "clerkwell"),
        ("patient:many", "many"),
    ] {
        let message = invalid(
            grants::list(
                &w.svc,
                &client(),
                &staff,
                &GrantFilter::parse(filter).unwrap(),
                None,
                50,
            )
            .await,
        );
        assert_eq!(
            message,
            format!("More than 1000 people match {name:?}; type more of the name."),
            "{filter}"
        );
    }
    assert_eq!(
        w.audit("GRANT_LIST").await.len(),
        listed,
        "a refused filter lists nothing"
    );
    // A fuller name narrows it again.
    assert!(w.list(&staff, "all patient:manyfold1001").await.is_empty());
}

#[test]
fn a_filters_debug_form_names_no_one() {
    let filter = GrantFilter::parse("all patient:anderson grantee:smith carol").unwrap();
    let shown = format!("{filter:?}");
    for name in ["anderson", "smith", "carol"] {
        assert!(!shown.contains(name), "{shown}");
    }
    assert!(shown.contains("All"), "{shown}");
}
