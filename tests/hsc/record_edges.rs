//! Edges of saving and break-glass: a change id that names other content, guessing passwords
//! through break-glass, and a title no key opens.

use hsc::services::ServiceError;
use hsc::services::records::{self, Filter};
use uuid::Uuid;

use crate::records::{client, draft, login, record_id, seeded, user_id};

#[tokio::test]
async fn a_change_id_reused_for_other_content_is_refused_not_reported_as_saved() {
    let (tdb, svc) = seeded().await;
    let mut admin = tdb.admin().await;
    let r = record_id(&mut admin, "Annual Physical Examination").await;
    let smith = login(&svc, "dr.smith@healthystellar.com").await;
    let change = Uuid::new_v4();
    let first = draft("Annual Physical Examination", "First wording");
    records::update(&svc, &client(), &smith, r, change, 1, &first, "first")
        .await
        .unwrap();
    // The same id carrying a later edit must not be dropped as "already saved".
    let later = draft("Annual Physical Examination", "Second wording");
    let e = records::update(&svc, &client(), &smith, r, change, 1, &later, "first")
        .await
        .unwrap_err();
    let ServiceError::Conflict(message) = e else {
        panic!("expected a conflict, got {e:?}")
    };
    assert!(
        message.starts_with("An earlier save of this draft already landed as version 2"),
        "{message}"
    );
    let versions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM record_versions WHERE record_id = $1")
            .bind(r)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert_eq!(versions, 2);
}

#[tokio::test]
async fn wrong_break_glass_passwords_count_toward_the_lockout_and_end_the_session() {
    let (tdb, svc) = seeded().await;
    let mut admin = tdb.admin().await;
    let alice = user_id(&mut admin, "patient1@example.com").await;
    let brown = login(&svc, "nurse.brown@healthystellar.com").await;
    let reason = "Unconscious in the ER";
    for _ in 1..svc.policy.lockout_attempts {
        let e = records::break_glass(&svc, &client(), &brown, alice, reason, "guess")
            .await
            .unwrap_err();
        assert!(matches!(e, ServiceError::Invalid(_)), "{e:?}");
    }
    let e = records::break_glass(&svc, &client(), &brown, alice, reason, "guess")
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::SessionEnded), "{e:?}");
    let (locked, active): (bool, bool) = sqlx::query_as(
        "SELECT u.locked_until > now(), s.is_active FROM users u JOIN sessions s ON s.user_id = u.id WHERE s.id = $1",
    )
    .bind(brown.id)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!((locked, active), (true, false));
    let e = records::view(&svc, &client(), &brown, Uuid::new_v4())
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::SessionEnded));
    let grants: i64 = sqlx::query_scalar("SELECT count(*) FROM access_grants WHERE is_emergency")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(grants, 0);
}

#[tokio::test]
async fn a_title_no_key_opens_is_marked_and_the_page_still_serves() {
    let (tdb, svc) = seeded().await;
    let mut admin = tdb.admin().await;
    let r = record_id(&mut admin, "Annual Physical Examination").await;
    // Sealed under a key this keyring does not hold.
    let stranger = hsc::crypto::Keyring::new(&zeroize::Zeroizing::new([0x55; 32]), &[]);
    let sealed = stranger
        .seal(
            &hsc::crypto::Aad {
                table: "record_versions",
                column: "title",
                row_id: r,
                version: 1,
            },
            b"Elsewhere",
        )
        .unwrap();
    sqlx::query("UPDATE record_versions SET title = $2 WHERE record_id = $1")
        .bind(r)
        .bind(sealed)
        .execute(&mut admin)
        .await
        .unwrap();
    let smith = login(&svc, "dr.smith@healthystellar.com").await;
    let page = records::list(&svc, &client(), &smith, &Filter::default(), None, 50)
        .await
        .unwrap();
    assert_eq!(page.records.len(), 4);
    let row = page.records.iter().find(|s| s.id == r).unwrap();
    assert_eq!(row.title.as_deref(), Some(records::UNREADABLE));
}

#[tokio::test]
async fn the_browser_index_follows_grants_and_new_records() {
    let (tdb, svc) = seeded().await;
    let mut admin = tdb.admin().await;
    let alice = user_id(&mut admin, "patient1@example.com").await;
    let johnson = user_id(&mut admin, "dr.johnson@healthystellar.com").await;
    let titles = |page: records::Page| -> Vec<String> {
        page.records.into_iter().filter_map(|s| s.title).collect()
    };
    let list = |who| {
        let svc = &svc;
        async move {
            records::list(svc, &client(), who, &Filter::default(), None, 50)
                .await
                .unwrap()
        }
    };
    let dr_j = login(&svc, "dr.johnson@healthystellar.com").await;
    let before = titles(list(&dr_j).await);
    assert!(
        !before.iter().any(|t| t.starts_with("Annual Physical")),
        "{before:?}"
    );

    // Alice grants Johnson her whole chart: her records join his list, and so does one written later.
    let grant: Uuid = sqlx::query_scalar(
        "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by) \
         VALUES ($1, $2, 'ALL_RECORDS', 'READ_WRITE', now() + interval '1 day', $1) RETURNING id",
    )
    .bind(alice)
    .bind(johnson)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    let dr_j = login(&svc, "dr.johnson@healthystellar.com").await;
    let smith = login(&svc, "dr.smith@healthystellar.com").await;
    records::create(
        &svc,
        &client(),
        &smith,
        alice,
        Uuid::new_v4(),
        &draft("Written later", "x"),
    )
    .await
    .unwrap();
    let with_grant = titles(list(&dr_j).await);
    for t in [
        "Annual Physical Examination",
        "Blood Work - Complete Metabolic Panel",
        "Written later",
    ] {
        assert!(with_grant.iter().any(|x| x == t), "{t} in {with_grant:?}");
    }
    // Revoked: gone from the list at once; the rows that said so are gone too.
    sqlx::query(
        "UPDATE access_grants SET status = 'REVOKED', revoked_at = now(), revoked_by = patient_id, \
         revocation_reason = 'test' WHERE id = $1",
    )
    .bind(grant)
    .execute(&mut admin)
    .await
    .unwrap();
    assert_eq!(titles(list(&dr_j).await), before);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM record_access WHERE grant_id = $1")
        .bind(grant)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn a_record_visible_for_several_reasons_never_cuts_a_page_short() {
    let (tdb, svc) = seeded().await;
    let mut admin = tdb.admin().await;
    let alice = user_id(&mut admin, "patient1@example.com").await;
    let smith_id = user_id(&mut admin, "dr.smith@healthystellar.com").await;
    // Smith already provides Alice's records and holds her selected-records grant; two whole-chart
    // grants more make four reasons for each of her records.
    for _ in 0..2 {
        sqlx::query(
            "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by) \
             VALUES ($1, $2, 'ALL_RECORDS', 'READ', now() + interval '1 day', $1)",
        )
        .bind(alice)
        .bind(smith_id)
        .execute(&mut admin)
        .await
        .unwrap();
    }
    let smith = login(&svc, "dr.smith@healthystellar.com").await;
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = records::list(&svc, &client(), &smith, &Filter::default(), after, 2)
            .await
            .unwrap();
        seen.extend(page.records.iter().map(|s| s.title.clone().unwrap()));
        match page.next {
            Some(c) if !page.records.is_empty() => after = Some(c),
            _ => break,
        }
    }
    assert_eq!(
        seen,
        [
            "Follow-up Visit - Blood Pressure Check",
            "Hypertension Treatment Plan",
            "Blood Work - Complete Metabolic Panel",
            "Annual Physical Examination"
        ]
    );
}
