//! Medical records against real PostgreSQL: row-level security (the whole SPEC matrix, through the
//! services and by raw SQL under the application role), encryption at rest, versions, audit rows in
//! the same transaction, and break-glass.

use chrono::NaiveDate;
use hsc::services::audit::Client;
use hsc::services::auth::{self, LoginStep};
use hsc::services::records::{self, Content, Draft, Filter, RecordType};
use hsc::services::sessions::Session;
use hsc::services::{ServiceError, Services};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::auth::PASSWORD;
use crate::harness::TestDb;

pub(crate) fn client() -> Client {
    Client::new(None, "xterm-256color")
}

/// A seeded database whose services ask no second factor, so every role can sign in with a password.
pub(crate) async fn seeded() -> (TestDb, Services) {
    let (tdb, mut svc) = TestDb::seeded().await;
    svc.policy.mfa_roles.clear();
    (tdb, svc)
}

pub(crate) async fn login(svc: &Services, email: &str) -> Session {
    match auth::login(svc, &client(), email, PASSWORD).await.unwrap() {
        LoginStep::LoggedIn(s) => s,
        other => panic!("{email} did not log in: {other:?}"),
    }
}

pub(crate) async fn user_id(admin: &mut PgConnection, email: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(admin)
        .await
        .unwrap()
}

/// The seed record with this title.
pub(crate) async fn record_id(admin: &mut PgConnection, title: &str) -> Uuid {
    let ids: Vec<(Uuid, Vec<u8>, i32)> =
        sqlx::query_as("SELECT record_id, title, version FROM record_versions")
            .fetch_all(&mut *admin)
            .await
            .unwrap();
    let keyring = crate::harness::test_keyring();
    ids.into_iter()
        .find(|(id, sealed, version)| {
            keyring
                .open_text(
                    &hsc::crypto::Aad {
                        table: "record_versions",
                        column: "title",
                        row_id: *id,
                        version: *version,
                    },
                    sealed,
                )
                .map(|t| t.as_str() == title)
                .unwrap_or(false)
        })
        .map(|(id, _, _)| id)
        .unwrap_or_else(|| panic!("no record titled {title}"))
}

pub(crate) fn draft(title: &str, description: &str) -> Draft {
    Draft {
        record_type: RecordType::Consultation,
        record_date: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
        content: Content {
            title: title.into(),
            description: description.into(),
            metadata: vec![("heartRate".into(), "70".into())],
        },
    }
}

async fn current_version(admin: &mut PgConnection, record: Uuid) -> i32 {
    sqlx::query_scalar("SELECT version FROM medical_records WHERE id = $1")
        .bind(record)
        .fetch_one(admin)
        .await
        .unwrap()
}

async fn exec(admin: &mut PgConnection, sql: &str, a: Uuid, b: Uuid) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(a)
        .bind(b)
        .execute(admin)
        .await
        .unwrap();
}

/// How X stands to record R (Alice's "Annual Physical Examination").
#[derive(Debug, Clone, Copy)]
enum Relation {
    Own,
    Authored,
    ReadGrant,
    ReadWriteGrant,
    ExpiredGrant,
    RevokedGrant,
    NoGrant,
    /// All of the patient's records, READ (the browser's patient-index path).
    ChartReadGrant,
    /// All of the patient's records, READ_WRITE.
    ChartReadWriteGrant,
    /// A break-glass grant (all records, READ_WRITE, one hour).
    EmergencyGrant,
}

const RELATIONS: [Relation; 10] = [
    Relation::Own,
    Relation::Authored,
    Relation::ReadGrant,
    Relation::ReadWriteGrant,
    Relation::ExpiredGrant,
    Relation::RevokedGrant,
    Relation::NoGrant,
    Relation::ChartReadGrant,
    Relation::ChartReadWriteGrant,
    Relation::EmergencyGrant,
];

/// Makes `relation` true between user `x` and record `r`, returning the SQL that undoes it.
async fn arrange(
    admin: &mut PgConnection,
    relation: Relation,
    x: Uuid,
    r: Uuid,
    patient_role: bool,
) -> Vec<&'static str> {
    let grant = |level: &str, expiry: &str, status: &str| {
        format!(
            "WITH g AS (INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, status, expires_at, \
                 granted_by, revoked_at, revoked_by, revocation_reason) \
             SELECT m.patient_id, $1, 'SELECTED_RECORDS', '{level}', '{status}', {expiry}, m.patient_id, \
                 CASE WHEN '{status}' = 'REVOKED' THEN now() END, CASE WHEN '{status}' = 'REVOKED' THEN m.patient_id END, \
                 CASE WHEN '{status}' = 'REVOKED' THEN 'test' END \
             FROM medical_records m WHERE m.id = $2 RETURNING id) \
             INSERT INTO access_grant_records (grant_id, record_id) SELECT g.id, $2 FROM g"
        )
    };
    let undo_grant = "DELETE FROM access_grants WHERE grantee_id = $1 AND $2 IS NOT NULL";
    match relation {
        Relation::Own if patient_role => {
            exec(
                admin,
                "UPDATE medical_records SET patient_id = $1 WHERE id = $2",
                x,
                r,
            )
            .await;
            exec(
                admin,
                "UPDATE record_versions SET patient_id = $1 WHERE record_id = $2",
                x,
                r,
            )
            .await;
            vec![
                "UPDATE medical_records SET patient_id = (SELECT id FROM users WHERE email = 'patient1@example.com') WHERE $1 IS NOT NULL AND id = $2",
                "UPDATE record_versions SET patient_id = (SELECT id FROM users WHERE email = 'patient1@example.com') WHERE $1 IS NOT NULL AND record_id = $2",
            ]
        }
        Relation::Own => {
            exec(
                admin,
                "UPDATE medical_records SET provider_id = $1 WHERE id = $2",
                x,
                r,
            )
            .await;
            vec![
                "UPDATE medical_records SET provider_id = (SELECT id FROM users WHERE email = 'dr.smith@healthystellar.com') WHERE $1 IS NOT NULL AND id = $2",
            ]
        }
        Relation::Authored => {
            exec(
                admin,
                "UPDATE medical_records SET created_by = $1 WHERE id = $2",
                x,
                r,
            )
            .await;
            vec![
                "UPDATE medical_records SET created_by = (SELECT id FROM users WHERE email = 'dr.smith@healthystellar.com') WHERE $1 IS NOT NULL AND id = $2",
            ]
        }
        Relation::ReadGrant => {
            exec(
                admin,
                &grant("READ", "now() + interval '1 day'", "ACTIVE"),
                x,
                r,
            )
            .await;
            vec![undo_grant]
        }
        Relation::ReadWriteGrant => {
            exec(
                admin,
                &grant("READ_WRITE", "now() + interval '1 day'", "ACTIVE"),
                x,
                r,
            )
            .await;
            vec![undo_grant]
        }
        Relation::ExpiredGrant => {
            exec(
                admin,
                &grant("READ_WRITE", "now() - interval '1 minute'", "ACTIVE"),
                x,
                r,
            )
            .await;
            vec![undo_grant]
        }
        Relation::RevokedGrant => {
            exec(
                admin,
                &grant("READ_WRITE", "now() + interval '1 day'", "REVOKED"),
                x,
                r,
            )
            .await;
            vec![undo_grant]
        }
        Relation::NoGrant => vec![],
        Relation::ChartReadGrant | Relation::ChartReadWriteGrant | Relation::EmergencyGrant => {
            let (level, emergency) = match relation {
                Relation::ChartReadGrant => ("READ", "false, NULL"),
                Relation::ChartReadWriteGrant => ("READ_WRITE", "false, NULL"),
                _ => ("READ_WRITE", "true, 'patient unconscious'"),
            };
            let sql = format!(
                "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by, \
                 is_emergency, emergency_reason) \
                 SELECT m.patient_id, $1, 'ALL_RECORDS', '{level}', now() + interval '1 hour', m.patient_id, {emergency} \
                 FROM medical_records m WHERE m.id = $2"
            );
            exec(admin, &sql, x, r).await;
            vec![undo_grant]
        }
    }
}

/// SPEC's answer for `role` standing in `relation` to a record: list, view, create, update, where
/// view is C (content), M (metadata only) or - (refused).
fn expected(role: &str, relation: Relation) -> &'static str {
    use Relation::*;
    match (role, relation) {
        (
            "physician" | "nurse",
            Own | Authored | ReadWriteGrant | ChartReadWriteGrant | EmergencyGrant,
        ) => "list view:C create update",
        ("physician" | "nurse", ReadGrant | ChartReadGrant) => "list view:C - -",
        ("physician" | "nurse", _) => "- view:- - -",
        ("patient", Own) => "list view:C - -",
        ("patient", _) => "- view:- - -",
        // Records staff see every index card and never content: grants go to physicians and nurses
        // only, and one made to records staff before 0012 (here, by the owner) opens nothing.
        ("medical_records", _) => "list view:M - -",
        ("billing_staff", _) => "list view:M - -",
        ("admin", _) => "- view:- - -",
        _ => unreachable!(),
    }
}

/// What the services answer.
async fn through_services(
    svc: &Services,
    session: &Session,
    r: Uuid,
    patient: Uuid,
    admin: &mut PgConnection,
) -> String {
    let mut listed = false;
    let mut after = None;
    loop {
        match records::list(svc, &client(), session, &Filter::default(), after, 50).await {
            Ok(page) => {
                listed |= page.records.iter().any(|s| s.id == r);
                match page.next {
                    Some(c) if !page.records.is_empty() => after = Some(c),
                    _ => break,
                }
            }
            Err(ServiceError::Denied(_)) => break,
            Err(e) => panic!("list failed: {e}"),
        }
    }
    let view = match records::view(svc, &client(), session, r).await {
        Ok(d) if d.content.is_some() => "view:C",
        Ok(_) => "view:M",
        Err(ServiceError::Denied(_)) => "view:-",
        Err(e) => panic!("view failed: {e}"),
    };
    let create = match records::create(
        svc,
        &client(),
        session,
        patient,
        Uuid::new_v4(),
        &draft("Matrix note", "created"),
    )
    .await
    {
        Ok(_) => "create",
        Err(ServiceError::Denied(_)) => "-",
        Err(e) => panic!("create failed: {e}"),
    };
    let base = current_version(admin, r).await;
    let text = format!("updated {}", Uuid::new_v4());
    let update = match records::update(
        svc,
        &client(),
        session,
        r,
        Uuid::new_v4(),
        base,
        &draft("Annual Physical Examination", &text),
        "matrix",
    )
    .await
    {
        Ok(_) => "update",
        Err(ServiceError::Denied(_)) => "-",
        Err(e) => panic!("update failed: {e}"),
    };
    format!(
        "{} {view} {create} {update}",
        if listed { "list" } else { "-" }
    )
}

/// What raw SQL under the application role answers, in a transaction that is rolled back.
async fn by_raw_sql(tdb: &TestDb, x: Uuid, r: Uuid, patient: Uuid) -> String {
    let mut conn = PgConnection::connect_with(&tdb.options()).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE hsc_app")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SELECT hsc_set_actor($1)")
        .bind(x)
        .execute(&mut *tx)
        .await
        .unwrap();
    let listed: i64 = sqlx::query_scalar("SELECT count(*) FROM medical_records WHERE id = $1")
        .bind(r)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let content: i64 =
        sqlx::query_scalar("SELECT count(*) FROM record_versions WHERE record_id = $1")
            .bind(r)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    let view = match (listed, content) {
        (0, _) => "view:-",
        (_, 0) => "view:M",
        _ => "view:C",
    };
    sqlx::query("SAVEPOINT probe")
        .execute(&mut *tx)
        .await
        .unwrap();
    let create = sqlx::query(
        "INSERT INTO medical_records (patient_id, provider_id, created_by, updated_by, record_type, title, description, \
         metadata, record_date) VALUES ($1, $2, $2, $2, 'other', '\\x00', '\\x00', '\\x00', '2024-01-01')",
    )
    .bind(patient)
    .bind(x)
    .execute(&mut *tx)
    .await;
    let create = match create {
        Ok(_) => "create",
        Err(e) => {
            let code = e
                .as_database_error()
                .and_then(|d| d.code())
                .unwrap_or_default()
                .to_string();
            assert!(code == "42501", "create failed otherwise: {e}");
            "-"
        }
    };
    sqlx::query("ROLLBACK TO SAVEPOINT probe")
        .execute(&mut *tx)
        .await
        .unwrap();
    let update = sqlx::query(
        "UPDATE medical_records SET updated_by = $1, version = version + 1 WHERE id = $2",
    )
    .bind(x)
    .bind(r)
    .execute(&mut *tx)
    .await;
    let update = match update {
        Ok(done) if done.rows_affected() == 1 => "update",
        Ok(_) => "-",
        Err(e) => {
            let code = e
                .as_database_error()
                .and_then(|d| d.code())
                .unwrap_or_default()
                .to_string();
            assert!(code == "42501", "update failed otherwise: {e}");
            "-"
        }
    };
    tx.rollback().await.unwrap();
    format!(
        "{} {view} {create} {update}",
        if listed > 0 { "list" } else { "-" }
    )
}

#[tokio::test]
async fn every_role_and_relation_gets_exactly_the_spec_answer_from_services_and_from_sql() {
    let (tdb, svc) = seeded().await;
    let mut admin = tdb.admin().await;
    let r = record_id(&mut admin, "Annual Physical Examination").await;
    let people = [
        ("physician", "dr.johnson@healthystellar.com"),
        ("nurse", "nurse.brown@healthystellar.com"),
        ("patient", "patient2@example.com"),
        ("medical_records", "records@healthystellar.com"),
        ("billing_staff", "billing@healthystellar.com"),
        ("admin", "admin@healthystellar.com"),
    ];
    let mut want = String::new();
    let mut got_services = String::new();
    let mut got_sql = String::new();
    for (role, email) in people {
        let x = user_id(&mut admin, email).await;
        let session = login(&svc, email).await;
        for relation in RELATIONS {
            let undo = arrange(&mut admin, relation, x, r, role == "patient").await;
            let patient: Uuid =
                sqlx::query_scalar("SELECT patient_id FROM medical_records WHERE id = $1")
                    .bind(r)
                    .fetch_one(&mut admin)
                    .await
                    .unwrap();
            let line =
                |answer: &str| format!("{role:<16} {:<15} {answer}\n", format!("{relation:?}"));
            want += &line(expected(role, relation));
            got_sql += &line(&by_raw_sql(&tdb, x, r, patient).await);
            got_services += &line(&through_services(&svc, &session, r, patient, &mut admin).await);
            for sql in undo {
                exec(&mut admin, sql, x, r).await;
            }
            // A record the probe created would be a care relationship for the next relation.
            for sql in ["WITH created AS (SELECT record_id FROM record_versions \
                     WHERE change_id IS NOT NULL AND version = 1 AND changed_by = $1 AND record_id <> $2), \
                 gone AS (DELETE FROM record_versions WHERE record_id IN (SELECT record_id FROM created)) \
                 DELETE FROM medical_records WHERE id IN (SELECT record_id FROM created)"]
            {
                exec(&mut admin, sql, x, r).await;
            }
        }
    }
    assert_eq!(got_sql, want, "raw SQL under hsc_app");
    assert_eq!(got_services, want, "through the services");
}
