//! The audit viewer's reads against real PostgreSQL: who sees which events (an admin all, records
//! staff the record events, a patient the accesses to their own records with the break-glass
//! reason), keyset paging newest first, each filter, the live tail, the "reviewed" mark, and the
//! AUDIT_VIEW row each page writes with its filter.

use hsc::services::ServiceError;
use hsc::services::Services;
use hsc::services::audit::filter::AuditFilter;
use hsc::services::audit::query::{self, AuditEvent};
use hsc::services::records;
use hsc::services::sessions::Session;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::PASSWORD;
use crate::records::{client, login, record_id, seeded, user_id};

fn filter(text: &str) -> AuditFilter {
    AuditFilter::parse(text).unwrap()
}

/// Every event `session` may see under `text`, paging 3 at a time, and how many pages it took.
async fn all(svc: &Services, session: &Session, text: &str) -> (Vec<AuditEvent>, usize) {
    let f = filter(text);
    let mut events = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = query::list(svc, &client(), session, &f, after, 3)
            .await
            .unwrap();
        pages += 1;
        events.extend(page.events);
        match page.next {
            Some(next) => after = Some(next),
            None => return (events, pages),
        }
    }
}

async fn count(admin: &mut PgConnection, condition: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM audit_logs WHERE {condition}"
    )))
    .fetch_one(admin)
    .await
    .unwrap()
}

/// Dr Smith opens Alice's physical, Dr Johnson breaks the glass on Alice, billing is refused the
/// trail: a little history for the viewer.
async fn history(svc: &Services, admin: &mut PgConnection) -> (Uuid, Uuid) {
    let physical = record_id(admin, "Annual Physical Examination").await;
    let alice = user_id(admin, "patient1@example.com").await;
    let smith = login(svc, "dr.smith@healthystellar.com").await;
    records::view(svc, &client(), &smith, physical)
        .await
        .unwrap();
    let johnson = login(svc, "dr.johnson@healthystellar.com").await;
    records::break_glass(
        svc,
        &client(),
        &johnson,
        alice,
        "Unconscious in the ED, allergies unknown",
        PASSWORD,
    )
    .await
    .unwrap();
    let billing = login(svc, "billing@healthystellar.com").await;
    let refused = query::list(svc, &client(), &billing, &AuditFilter::default(), None, 50).await;
    assert!(
        matches!(&refused, Err(ServiceError::Denied(m)) if m == "Your role has no audit trail to see."),
        "{refused:?}"
    );
    (physical, alice)
}

#[tokio::test]
async fn each_role_sees_its_own_part_of_the_trail_newest_first() {
    let (tdb, svc) = seeded().await;
    let mut admin = tdb.admin().await;
    let (physical, alice) = history(&svc, &mut admin).await;

    // An admin: every event, in order, over several pages without repeats.
    let boss = login(&svc, "admin@healthystellar.com").await;
    let before = count(&mut admin, "true").await;
    let (events, pages) = all(&svc, &boss, "").await;
    assert_eq!(events.len() as i64, before, "every event, and none twice");
    assert!(pages >= 2);
    let keys: Vec<_> = events.iter().map(|e| (e.occurred_at, e.seq)).collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, sorted, "newest first");
    let glass = events.iter().find(|e| e.is_break_glass()).unwrap();
    assert_eq!(
        glass.break_glass_reason.as_deref(),
        Some("Unconscious in the ED, allergies unknown")
    );
    assert!(glass.stands_out());
    assert_eq!(
        glass.user.as_ref().unwrap().name.as_deref(),
        Some("Sarah Johnson")
    );
    assert_eq!(glass.patient.as_ref().unwrap().id, alice);

    // Records staff: the events about records, break-glass included, nothing else.
    let emma = login(&svc, "records@healthystellar.com").await;
    let (events, _) = all(&svc, &emma, "").await;
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .all(|e| e.resource_type.as_deref() == Some("medical_record")
                || e.action == "EMERGENCY_ACCESS")
    );
    assert!(events.iter().any(|e| e.resource_id == Some(physical)));

    // Alice: who opened her records, and the break-glass with its reason; nobody else's.
    let alice_session = login(&svc, "patient1@example.com").await;
    let (events, _) = all(&svc, &alice_session, "").await;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"RECORD_VIEW") && actions.contains(&"EMERGENCY_ACCESS"),
        "{actions:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| e.patient.as_ref().map(|p| p.id) == Some(alice))
    );
    let glass = events.iter().find(|e| e.is_break_glass()).unwrap();
    assert_eq!(
        glass.break_glass_reason.as_deref(),
        Some("Unconscious in the ED, allergies unknown")
    );
    assert_eq!(
        events
            .iter()
            .find(|e| e.action == "RECORD_VIEW")
            .unwrap()
            .user
            .as_ref()
            .unwrap()
            .name
            .as_deref(),
        Some("John Smith"),
        "a patient sees who looked"
    );
    let bob = login(&svc, "patient2@example.com").await;
    let (events, _) = all(&svc, &bob, "").await;
    assert!(events.is_empty(), "no one opened Bob's records");

    // Clinicians have no audit view, and the refusal is on the trail.
    let smith = login(&svc, "dr.smith@healthystellar.com").await;
    assert!(matches!(
        query::list(&svc, &client(), &smith, &AuditFilter::default(), None, 50).await,
        Err(ServiceError::Denied(_))
    ));
    assert!(count(&mut admin, "action = 'UNAUTHORIZED_ACCESS_ATTEMPT' AND details->>'attempt' = 'view the audit trail'").await >= 2);
}

#[tokio::test]
async fn every_filter_finds_exactly_its_events_and_a_page_is_audited_with_it() {
    let (tdb, svc) = seeded().await;
    let mut admin = tdb.admin().await;
    let (physical, alice) = history(&svc, &mut admin).await;
    let boss = login(&svc, "admin@healthystellar.com").await;
    let smith = user_id(&mut admin, "dr.smith@healthystellar.com").await;
    let cases = [
        ("action:record_view", "action = 'RECORD_VIEW'".to_string()),
        ("severity:critical", "severity = 'CRITICAL'".to_string()),
        ("outcome:denied", "outcome = 'denied'".to_string()),
        ("user:smith", format!("user_id = '{smith}'")),
        (
            "user:dr.smith@healthystellar.com",
            format!("user_id = '{smith}'"),
        ),
        (
            &*format!("patient:{alice}"),
            format!("patient_id = '{alice}'"),
        ),
        ("patient:anderson", format!("patient_id = '{alice}'")),
        (
            &*format!("resource:{physical}"),
            format!("resource_id = '{physical}'"),
        ),
        (
            &*format!("resource:{}", &physical.simple().to_string()[..8]),
            format!("resource_id::text LIKE '{}%'", &physical.to_string()[..8]),
        ),
        (
            "since:1h",
            "occurred_at >= now() - interval '1 hour'".to_string(),
        ),
        ("until:2000-01-01", "occurred_at < '2000-01-02'".to_string()),
        ("hours", "details::text ILIKE '%hours%'".to_string()),
        (
            "action:login severity:low",
            "action = 'LOGIN' AND severity = 'LOW'".to_string(),
        ),
    ]
    .map(|(f, c)| (f.to_string(), c));
    for (text, condition) in &cases {
        // Each listing adds an AUDIT_VIEW row, which no filter above matches.
        let expected = count(&mut admin, condition).await;
        let (events, _) = all(&svc, &boss, text).await;
        assert_eq!(events.len() as i64, expected, "{text}");
    }

    let page = query::list(
        &svc,
        &client(),
        &boss,
        &filter("action:record_view outcome:success"),
        None,
        50,
    )
    .await
    .unwrap();
    let (details, user): (Value, Uuid) = sqlx::query_as(
        "SELECT details, user_id FROM audit_logs WHERE action = 'AUDIT_VIEW' ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(user, boss.user.id);
    assert_eq!(details["filter"]["action"], "RECORD_VIEW");
    assert_eq!(details["filter"]["outcome"], "success");
    assert_eq!(details["events"], page.events.len());
    assert_eq!(details["after"], Value::Null, "the first page");
    assert_eq!(details["newest_seq"], page.events[0].seq);
    assert_eq!(details["oldest_seq"], page.events.last().unwrap().seq);

    // A name that fits more than one person, or no one, is one sentence and no AUDIT_VIEW row.
    let views = count(&mut admin, "action = 'AUDIT_VIEW'").await;
    for (text, sentence) in [
        (
            "user:smithers",
            "No one you may see matches user:smithers; check the name or use their email.",
        ),
        (
            "user:son",
            "people match user:son; type more of the name, or use their email.",
        ),
    ] {
        let e = query::list(&svc, &client(), &boss, &filter(text), None, 50)
            .await
            .unwrap_err();
        assert!(e.to_string().ends_with(sentence), "{text}: {e}");
    }
    assert_eq!(count(&mut admin, "action = 'AUDIT_VIEW'").await, views);
}

#[tokio::test]
async fn the_tail_brings_only_newer_events_and_is_not_itself_audited() {
    let (tdb, svc) = seeded().await;
    let mut admin = tdb.admin().await;
    let boss = login(&svc, "admin@healthystellar.com").await;
    let page = query::list(&svc, &client(), &boss, &AuditFilter::default(), None, 50)
        .await
        .unwrap();
    let head = page.head;
    assert_eq!(
        head,
        count(&mut admin, "true").await - 1,
        "the head when the page was read: all but the page's own AUDIT_VIEW"
    );
    let views = count(&mut admin, "action = 'AUDIT_VIEW'").await;

    let (none, now) = query::newer(&svc, &client(), &boss, &filter("action:record_view"), head)
        .await
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(now, head + 1, "the page's AUDIT_VIEW only");
    assert_eq!(
        count(&mut admin, "action = 'AUDIT_VIEW'").await,
        views,
        "a poll writes nothing"
    );

    let smith = login(&svc, "dr.smith@healthystellar.com").await;
    let physical = record_id(&mut admin, "Annual Physical Examination").await;
    records::view(&svc, &client(), &smith, physical)
        .await
        .unwrap();
    let (new, moved) = query::newer(&svc, &client(), &boss, &filter("action:record_view"), head)
        .await
        .unwrap();
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].resource_id, Some(physical));
    assert!(moved > head);
    let (all_new, _) = query::newer(&svc, &client(), &boss, &AuditFilter::default(), head)
        .await
        .unwrap();
    let seqs: Vec<i64> = all_new.iter().map(|e| e.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {seqs:?}"
    );
    assert!(all_new.iter().any(|e| e.action == "LOGIN"));
}

#[tokio::test]
async fn an_admin_marks_an_event_reviewed_once_and_the_mark_is_audited() {
    let (tdb, svc) = seeded().await;
    let mut admin = tdb.admin().await;
    history(&svc, &mut admin).await;
    let boss = login(&svc, "admin@healthystellar.com").await;
    let page = query::list(
        &svc,
        &client(),
        &boss,
        &filter("action:emergency_access"),
        None,
        50,
    )
    .await
    .unwrap();
    let glass = &page.events[0];
    assert!(glass.review.is_none());
    let review = query::mark_reviewed(&svc, &client(), &boss, glass.seq)
        .await
        .unwrap();
    assert_eq!(review.by.name.as_deref(), Some("Admin User"));
    let again = query::mark_reviewed(&svc, &client(), &boss, glass.seq)
        .await
        .unwrap_err();
    assert!(
        matches!(&again, ServiceError::Conflict(m) if m.starts_with(&format!("Event {} was already marked reviewed by Admin User", glass.seq))),
        "{again:?}"
    );
    let page = query::list(
        &svc,
        &client(),
        &boss,
        &filter("action:emergency_access"),
        None,
        50,
    )
    .await
    .unwrap();
    assert_eq!(
        page.events[0].review.as_ref().map(|r| r.by.id),
        Some(boss.user.id)
    );
    let (resource, details): (Uuid, Value) = sqlx::query_as(
        "SELECT resource_id, details FROM audit_logs WHERE action = 'AUDIT_REVIEWED'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        (resource, details["seq"].as_i64()),
        (glass.id, Some(glass.seq))
    );

    // Nobody else marks; the mark cannot be changed or removed, even by the owner.
    let emma = login(&svc, "records@healthystellar.com").await;
    assert!(matches!(
        query::mark_reviewed(&svc, &client(), &emma, glass.seq).await,
        Err(ServiceError::Denied(_))
    ));
    assert!(matches!(
        query::mark_reviewed(&svc, &client(), &boss, 999_999).await,
        Err(ServiceError::Invalid(m)) if m == "There is no audit event number 999999."
    ));
    for statement in [
        "UPDATE audit_reviews SET reviewed_at = now()",
        "DELETE FROM audit_reviews",
        "TRUNCATE audit_reviews",
    ] {
        let e = sqlx::query(statement)
            .execute(&mut admin)
            .await
            .unwrap_err();
        assert_eq!(
            hsc::db::DbError::sqlstate(&e).as_deref(),
            Some("42501"),
            "{statement}"
        );
    }
}
