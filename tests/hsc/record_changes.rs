//! Saving records: versions with reasons, stale saves refused, retried saves not doubled, audit rows
//! that stand or fall with their change, encryption at rest, and break-glass.

use hsc::services::ServiceError;
use hsc::services::records::{self, Filter};
use uuid::Uuid;

use crate::records::{client, draft, login, record_id, seeded, user_id};

async fn count(admin: &mut sqlx::PgConnection, sql: &str, id: Uuid) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .fetch_one(admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_update_keeps_the_previous_version_with_who_when_and_why() {
    let (tdb, svc) = seeded().await;
    let mut admin = tdb.admin().await;
    let r = record_id(&mut admin, "Annual Physical Examination").await;
    let smith = login(&svc, "dr.smith@healthystellar.com").await;

    let mut d = draft(
        "Annual Physical Examination",
        "Routine. Follow up in a year.",
    );
    let e = records::update(&svc, &client(), &smith, r, Uuid::new_v4(), 1, &d, "  ")
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Give a reason for the change; it is kept with the version."
    );
    d.content.title = String::new();
    let e = records::update(&svc, &client(), &smith, r, Uuid::new_v4(), 1, &d, "typo")
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "The title is empty; give the record a title."
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM record_versions WHERE record_id = $1",
            r
        )
        .await,
        1
    );

    let d = draft(
        "Annual Physical Examination",
        "Routine. Follow up in a year.",
    );
    let saved = records::update(
        &svc,
        &client(),
        &smith,
        r,
        Uuid::new_v4(),
        1,
        &d,
        "added follow-up",
    )
    .await
    .unwrap();
    assert_eq!(saved.version, 2);
    let history = records::history(&svc, &client(), &smith, r).await.unwrap();
    let lines: Vec<(i32, String, Option<String>)> = history
        .iter()
        .map(|v| (v.version, v.changed_by.name.clone(), v.reason.clone()))
        .collect();
    assert_eq!(
        lines,
        [
            (
                2,
                "John Smith".to_string(),
                Some("added follow-up".to_string())
            ),
            (1, "John Smith".to_string(), None)
        ]
    );
    let first = records::version(&svc, &client(), &smith, r, 1)
        .await
        .unwrap();
    assert!(
        first
            .content
            .description
            .starts_with("Routine annual physical examination.")
    );
    let (old, new) = records::compare(&svc, &client(), &smith, r, 2, 1)
        .await
        .unwrap();
    assert_eq!((old.summary.version, new.summary.version), (1, 2));
    let diff = records::diff::compare(&old, &new);
    let changed: Vec<&str> = diff
        .iter()
        .filter(|f| !f.lines.is_empty())
        .map(|f| f.field)
        .collect();
    assert!(changed.contains(&"Description"), "{changed:?}");
    let e = records::version(&svc, &client(), &smith, r, 7)
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "This record has no version 7.");

    let detail = records::view(&svc, &client(), &smith, r).await.unwrap();
    assert_eq!(detail.version, 2);
    assert_eq!(
        detail.content.unwrap().description,
        "Routine. Follow up in a year."
    );
    let actions = tdb.audit_actions().await;
    for a in ["RECORD_UPDATE", "RECORD_VERSION_VIEW", "RECORD_VIEW"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

#[tokio::test]
async fn two_editors_at_once_one_saves_and_the_other_is_told_who_changed_it() {
    let (tdb, svc) = seeded().await;
    let mut admin = tdb.admin().await;
    let r = record_id(&mut admin, "Annual Physical Examination").await;
    let smith = login(&svc, "dr.smith@healthystellar.com").await;
    // Alice's grant lets Smith write; give nurse Williams a READ_WRITE grant too.
    let williams = user_id(&mut admin, "nurse.williams@healthystellar.com").await;
    sqlx::query(
        "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by) \
         SELECT patient_id, $1, 'ALL_RECORDS', 'READ_WRITE', now() + interval '1 day', patient_id FROM medical_records WHERE id = $2",
    )
    .bind(williams)
    .bind(r)
    .execute(&mut admin)
    .await
    .unwrap();
    let nurse = login(&svc, "nurse.williams@healthystellar.com").await;

    let a = draft("Annual Physical Examination", "Smith's version");
    let b = draft("Annual Physical Examination", "Williams's version");
    let c = client();
    let (ra, rb) = tokio::join!(
        records::update(&svc, &c, &smith, r, Uuid::new_v4(), 1, &a, "smith edit"),
        records::update(&svc, &c, &nurse, r, Uuid::new_v4(), 1, &b, "williams edit"),
    );
    let (winner, loser_error, winner_text, winner_name) = match (ra, rb) {
        (Ok(s), Err(e)) => (s, e, "Smith's version", "John Smith"),
        (Err(e), Ok(s)) => (s, e, "Williams's version", "Emily Williams"),
        other => panic!("exactly one save must land: {other:?}"),
    };
    assert_eq!(winner.version, 2);
    let ServiceError::Conflict(message) = loser_error else {
        panic!("expected a conflict, got {loser_error:?}")
    };
    assert!(
        message.starts_with(&format!("This record was changed by {winner_name} at "))
            && message.contains("reload"),
        "{message}"
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM record_versions WHERE record_id = $1",
            r
        )
        .await,
        2
    );
    let detail = records::view(&svc, &client(), &smith, r).await.unwrap();
    assert_eq!(
        detail.content.unwrap().description,
        winner_text,
        "nothing was overwritten"
    );
}

#[tokio::test]
async fn a_save_retried_after_a_lost_answer_writes_one_version() {
    let (tdb, svc) = seeded().await;
    let mut admin = tdb.admin().await;
    let r = record_id(&mut admin, "Annual Physical Examination").await;
    let smith = login(&svc, "dr.smith@healthystellar.com").await;
    let change = Uuid::new_v4();
    let d = draft("Annual Physical Examination", "Saved once");
    let first = records::update(&svc, &client(), &smith, r, change, 1, &d, "retry test")
        .await
        .unwrap();
    // The console did not hear the answer and sends the very same save again.
    let again = records::update(&svc, &client(), &smith, r, change, 1, &d, "retry test")
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM record_versions WHERE record_id = $1",
            r
        )
        .await,
        2
    );
    let alice = user_id(&mut admin, "patient1@example.com").await;
    let change = Uuid::new_v4();
    let created = records::create(&svc, &client(), &smith, alice, change, &d)
        .await
        .unwrap();
    let again = records::create(&svc, &client(), &smith, alice, change, &d)
        .await
        .unwrap();
    assert_eq!(created, again);
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM medical_records WHERE patient_id = $1",
            alice
        )
        .await,
        3
    );
}

#[tokio::test]
async fn the_audit_row_and_the_change_commit_together_or_not_at_all() {
    let (tdb, svc) = seeded().await;
    let mut admin = tdb.admin().await;
    let r = record_id(&mut admin, "Annual Physical Examination").await;
    let smith = login(&svc, "dr.smith@healthystellar.com").await;
    let d = draft("Annual Physical Examination", "Should not land");
    let versions = "SELECT count(*) FROM record_versions WHERE record_id = $1";

    // 1. The audit insert itself fails: the edit rolls back.
    sqlx::query(
        "CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'audit store unavailable'; END $$",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    sqlx::query(
        "CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_queue FOR EACH ROW \
         WHEN (NEW.action IN ('RECORD_UPDATE', 'RECORD_VIEW', 'RECORD_CREATE')) EXECUTE FUNCTION test_refuse_audit()",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    let e = records::update(&svc, &client(), &smith, r, Uuid::new_v4(), 1, &d, "x").await;
    assert!(matches!(e, Err(ServiceError::Database(_))), "{e:?}");
    assert_eq!(count(&mut admin, versions, r).await, 1);
    assert_eq!(
        count(
            &mut admin,
            "SELECT version::bigint FROM medical_records WHERE id = $1",
            r
        )
        .await,
        1
    );
    // A view whose audit row cannot be written shows nothing.
    assert!(records::view(&svc, &client(), &smith, r).await.is_err());
    sqlx::query("DROP TRIGGER test_refuse_audit ON audit_queue")
        .execute(&mut admin)
        .await
        .unwrap();

    // 2. Everything is written, then the commit fails: neither the edit nor its audit row remains.
    sqlx::query(
        "CREATE CONSTRAINT TRIGGER test_fail_commit AFTER INSERT ON audit_queue DEFERRABLE INITIALLY DEFERRED \
         FOR EACH ROW WHEN (NEW.action = 'RECORD_UPDATE') EXECUTE FUNCTION test_refuse_audit()",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    let e = records::update(&svc, &client(), &smith, r, Uuid::new_v4(), 1, &d, "x").await;
    assert!(matches!(e, Err(ServiceError::Database(_))), "{e:?}");
    assert_eq!(count(&mut admin, versions, r).await, 1);
    let audit: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE action = 'RECORD_UPDATE'")
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert_eq!(audit, 0);
    sqlx::query("DROP TRIGGER test_fail_commit ON audit_queue")
        .execute(&mut admin)
        .await
        .unwrap();

    // With the faults gone the same edit lands with its row.
    records::update(&svc, &client(), &smith, r, Uuid::new_v4(), 1, &d, "x")
        .await
        .unwrap();
    assert_eq!(count(&mut admin, versions, r).await, 2);
}

#[tokio::test]
async fn pages_and_views_are_audited_with_the_ids_shown_and_refusals_too() {
    let (tdb, svc) = seeded().await;
    let mut admin = tdb.admin().await;
    let r = record_id(&mut admin, "Migraine Headache Diagnosis").await;
    let smith = login(&svc, "dr.smith@healthystellar.com").await;
    let page = records::list(&svc, &client(), &smith, &Filter::default(), None, 2)
        .await
        .unwrap();
    assert_eq!(page.records.len(), 2);
    let newest: Vec<&str> = page
        .records
        .iter()
        .map(|s| s.title.as_deref().unwrap())
        .collect();
    assert_eq!(
        newest,
        [
            "Follow-up Visit - Blood Pressure Check",
            "Hypertension Treatment Plan"
        ]
    );
    let more = records::list(&svc, &client(), &smith, &Filter::default(), page.next, 2)
        .await
        .unwrap();
    let older: Vec<&str> = more
        .records
        .iter()
        .map(|s| s.title.as_deref().unwrap())
        .collect();
    assert_eq!(
        older,
        [
            "Blood Work - Complete Metabolic Panel",
            "Annual Physical Examination"
        ]
    );
    let (ids, filtered): (serde_json::Value, serde_json::Value) = sqlx::query_as(
        "SELECT details->'records', details->'filtered' FROM audit_logs WHERE action = 'RECORD_LIST' ORDER BY seq LIMIT 1",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    let shown: Vec<String> = page.records.iter().map(|s| s.id.to_string()).collect();
    assert_eq!(ids, serde_json::json!(shown));
    assert_eq!(filtered, serde_json::json!(false));

    let found = records::list(
        &svc,
        &client(),
        &smith,
        &Filter::parse("carol 2024-02-10..2024-02-20").unwrap(),
        None,
        50,
    )
    .await
    .unwrap();
    let titles: Vec<&str> = found
        .records
        .iter()
        .map(|s| s.title.as_deref().unwrap())
        .collect();
    assert_eq!(titles, ["Hypertension Treatment Plan"]);
    let found = records::list(
        &svc,
        &client(),
        &smith,
        &Filter::parse("metabolic").unwrap(),
        None,
        50,
    )
    .await
    .unwrap();
    assert_eq!(found.records.len(), 1);

    // Bob's migraine is Johnson's: Smith is refused, and the refusal is on the trail.
    let e = records::view(&svc, &client(), &smith, r).await.unwrap_err();
    assert!(matches!(e, ServiceError::Denied(_)), "{e:?}");
    let (action, severity, resource): (String, String, Option<Uuid>) = sqlx::query_as(
        "SELECT action, severity::text, resource_id FROM audit_logs ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        (action.as_str(), severity.as_str(), resource),
        ("UNAUTHORIZED_ACCESS_ATTEMPT", "HIGH", Some(r))
    );

    // Billing staff get index cards without content.
    let billing = login(&svc, "billing@healthystellar.com").await;
    let page = records::list(&svc, &client(), &billing, &Filter::default(), None, 50)
        .await
        .unwrap();
    assert_eq!(page.records.len(), 6);
    assert!(page.records.iter().all(|s| s.title.is_none()));
    let detail = records::view(&svc, &client(), &billing, r).await.unwrap();
    assert!(detail.content.is_none());
    let e = records::history(&svc, &client(), &billing, r)
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Denied(_)));
}

#[tokio::test]
async fn no_record_text_is_stored_in_the_clear() {
    let (tdb, svc) = seeded().await;
    let mut admin = tdb.admin().await;
    let r = record_id(&mut admin, "Annual Physical Examination").await;
    let smith = login(&svc, "dr.smith@healthystellar.com").await;
    let mut d = draft(
        "Annual Physical Examination",
        "Quetiapine titration discussed",
    );
    d.content.metadata = vec![("medication".into(), "Quetiapine".into())];
    records::update(
        &svc,
        &client(),
        &smith,
        r,
        Uuid::new_v4(),
        1,
        &d,
        "Quetiapine reason",
    )
    .await
    .unwrap();
    let dump = tdb.dump_all();
    let mut texts = hsc::services::seed::record_texts();
    texts.extend([
        "Quetiapine",
        "Sumatriptan",
        "Essential Hypertension",
        "Improved from previous visit",
        "120/80",
    ]);
    for text in texts {
        assert!(
            !dump.windows(text.len()).any(|w| w == text.as_bytes()),
            "{text:?} is in the dump"
        );
    }
}

#[tokio::test]
async fn break_glass_opens_a_patient_for_one_hour_with_reason_and_password() {
    let (tdb, svc) = seeded().await;
    let mut admin = tdb.admin().await;
    let r = record_id(&mut admin, "Annual Physical Examination").await;
    let alice = user_id(&mut admin, "patient1@example.com").await;
    let brown = login(&svc, "nurse.brown@healthystellar.com").await;
    assert!(matches!(
        records::view(&svc, &client(), &brown, r).await,
        Err(ServiceError::Denied(_))
    ));

    let found = records::find_patients(&svc, &brown, "alice").await.unwrap();
    assert_eq!(
        found.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["Alice Anderson"]
    );
    let e = records::break_glass(
        &svc,
        &client(),
        &brown,
        alice,
        "too short",
        crate::auth::PASSWORD,
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Give the emergency reason in at least 10 characters."
    );
    let e = records::break_glass(
        &svc,
        &client(),
        &brown,
        alice,
        "Unconscious in the ER",
        "wrong",
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "That password is not correct; emergency access was not opened."
    );
    let grant = records::break_glass(
        &svc,
        &client(),
        &brown,
        alice,
        "Unconscious in the ER",
        crate::auth::PASSWORD,
    )
    .await
    .unwrap();
    let minutes = (grant.expires_at - chrono::Utc::now()).num_minutes();
    assert!((58..=60).contains(&minutes), "{minutes}");
    let detail = records::view(&svc, &client(), &brown, r).await.unwrap();
    assert!(detail.content.is_some());

    let (severity, outcome, patient): (String, String, Option<Uuid>) = sqlx::query_as(
        "SELECT severity::text, outcome::text, patient_id FROM audit_logs WHERE action = 'EMERGENCY_ACCESS' ORDER BY seq",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap()
    .pop()
    .unwrap();
    assert_eq!(
        (severity.as_str(), outcome.as_str(), patient),
        ("CRITICAL", "success", Some(alice))
    );
    let stored: (bool, String) =
        sqlx::query_as("SELECT is_emergency, emergency_reason FROM access_grants WHERE id = $1")
            .bind(grant.grant)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert_eq!(stored, (true, "Unconscious in the ER".to_string()));

    // The hour passes: the access ends by itself.
    sqlx::query("UPDATE access_grants SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(grant.grant)
        .execute(&mut admin)
        .await
        .unwrap();
    assert!(matches!(
        records::view(&svc, &client(), &brown, r).await,
        Err(ServiceError::Denied(_))
    ));

    // Break-glass is for clinicians.
    let billing = login(&svc, "billing@healthystellar.com").await;
    let e = records::break_glass(
        &svc,
        &client(),
        &billing,
        alice,
        "Unconscious in the ER",
        crate::auth::PASSWORD,
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Only physicians and nurses may use emergency access."
    );
}
