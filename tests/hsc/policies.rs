//! What a query typed under the application role cannot do, whatever the console's code says: each
//! probe runs raw SQL as `hsc_app` with an acting user (or a sign-in in progress) in a transaction
//! that is rolled back, and must be refused by PostgreSQL itself.

use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::harness::TestDb;
use crate::records::{record_id, user_id};

/// How a probe ended: rows affected, or the SQLSTATE it was refused with.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    Rows(u64),
    Refused(String),
}

pub(crate) use Answer::{Refused, Rows};

/// Who the probe acts as.
pub(crate) enum As<'a> {
    User(&'a str),
    SigningIn(&'a str),
    Nobody,
}

/// Runs `sql` (binding `ids` in order) as hsc_app; with `commit`, commits so deferred checks run.
pub(crate) async fn probe(
    tdb: &TestDb,
    who: As<'_>,
    sql: &str,
    ids: &[Uuid],
    commit: bool,
) -> Answer {
    let mut conn = PgConnection::connect_with(&tdb.options()).await.unwrap();
    let (actor, email) = match who {
        As::User(e) => (Some(user_id(&mut conn, e).await), None),
        As::SigningIn(e) => (None, Some(e)),
        As::Nobody => (None, None),
    };
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE hsc_app")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SELECT hsc_set_actor($1, $2)")
        .bind(actor)
        .bind(email)
        .execute(&mut *tx)
        .await
        .unwrap();
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
    for id in ids {
        q = q.bind(*id);
    }
    let refused = |e: sqlx::Error| {
        Refused(
            e.as_database_error()
                .and_then(|d| d.code())
                .map(|c| c.to_string())
                .unwrap_or_else(|| e.to_string()),
        )
    };
    let answer = match q.execute(&mut *tx).await {
        Ok(done) => Rows(done.rows_affected()),
        Err(e) => return refused(e),
    };
    if commit {
        return match tx.commit().await {
            Ok(()) => answer,
            Err(e) => refused(e),
        };
    }
    tx.rollback().await.unwrap();
    answer
}

pub(crate) const DENIED: &str = "42501";
pub(crate) const CHECK: &str = "23514";

pub(crate) fn refused(code: &str) -> Answer {
    Refused(code.to_string())
}

#[tokio::test]
async fn users_cannot_promote_themselves_or_read_password_hashes() {
    let (tdb, _svc) = TestDb::seeded().await;
    let billing = As::User("billing@healthystellar.com");
    assert_eq!(
        probe(
            &tdb,
            billing,
            "UPDATE users SET role = 'admin' WHERE email = 'billing@healthystellar.com'",
            &[],
            false
        )
        .await,
        refused(DENIED)
    );
    for who in [
        As::User("patient1@example.com"),
        As::User("dr.smith@healthystellar.com"),
    ] {
        assert_eq!(
            probe(&tdb, who, "SELECT password_hash FROM users", &[], false).await,
            refused(DENIED)
        );
    }
    // A patient sees staff names but no other patient.
    let mut admin = tdb.admin().await;
    let bob = user_id(&mut admin, "patient2@example.com").await;
    assert_eq!(
        probe(
            &tdb,
            As::User("patient1@example.com"),
            "UPDATE users SET last_login_at = now() WHERE id = $1",
            &[bob],
            false
        )
        .await,
        Rows(0)
    );
    // Before the password is checked, sign-in may count failures — and nothing else.
    let signing_in = || As::SigningIn("dr.smith@healthystellar.com");
    assert_eq!(
        probe(
            &tdb,
            signing_in(),
            "UPDATE users SET failed_login_attempts = failed_login_attempts + 1",
            &[],
            false
        )
        .await,
        Rows(1)
    );
    assert_eq!(
        probe(
            &tdb,
            signing_in(),
            "UPDATE users SET password_hash = 'x'",
            &[],
            false
        )
        .await,
        refused(DENIED)
    );
    assert_eq!(
        probe(
            &tdb,
            signing_in(),
            "UPDATE users SET mfa_enabled = NOT mfa_enabled",
            &[],
            false
        )
        .await,
        refused(DENIED)
    );
    // The custom setting that keeps updated_at during key rotation is not listened to from the app role.
    let before: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT updated_at FROM users WHERE id = $1")
            .bind(bob)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    let mut conn = PgConnection::connect_with(&tdb.options()).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    for sql in [
        "SET LOCAL ROLE hsc_app",
        "SET LOCAL hsc.key_rotation = 'on'",
    ] {
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
    }
    sqlx::query("SELECT hsc_set_actor($1)")
        .bind(bob)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET last_login_at = now() WHERE id = $1")
        .bind(bob)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let after: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT updated_at FROM users WHERE id = $1")
            .bind(bob)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert!(after > before);
}

#[tokio::test]
async fn grants_go_only_to_someone_else_and_cannot_be_forged_revived_or_stretched() {
    let (tdb, _svc) = TestDb::seeded().await;
    let mut admin = tdb.admin().await;
    let alice = user_id(&mut admin, "patient1@example.com").await;
    let records = user_id(&mut admin, "records@healthystellar.com").await;
    let billing = user_id(&mut admin, "billing@healthystellar.com").await;
    let smith = user_id(&mut admin, "dr.smith@healthystellar.com").await;
    let johnson = user_id(&mut admin, "dr.johnson@healthystellar.com").await;
    let insert = "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by, \
                  is_emergency, emergency_reason) VALUES ($1, $2, 'ALL_RECORDS', 'READ', now() + interval '30 minutes', $3, $4::text IS NOT NULL, $4)";
    let grant = |who, patient, grantee, by, emergency: bool| {
        let tdb = &tdb;
        async move {
            let sql = if emergency {
                insert.replace("$4::text IS NOT NULL, $4", "true, 'patient unconscious'")
            } else {
                insert.replace("$4::text IS NOT NULL, $4", "false, NULL")
            };
            probe(tdb, who, &sql, &[patient, grantee, by], false).await
        }
    };
    // Records staff grant to a clinician, never to themselves or to billing.
    assert_eq!(
        grant(
            As::User("records@healthystellar.com"),
            alice,
            smith,
            records,
            false
        )
        .await,
        Rows(1)
    );
    assert_eq!(
        grant(
            As::User("records@healthystellar.com"),
            alice,
            records,
            records,
            false
        )
        .await,
        refused(DENIED)
    );
    assert_eq!(
        grant(
            As::User("records@healthystellar.com"),
            alice,
            billing,
            records,
            false
        )
        .await,
        refused(DENIED)
    );
    // A patient grants on their own chart only, and not in someone else's name.
    assert_eq!(
        grant(
            As::User("patient1@example.com"),
            alice,
            johnson,
            alice,
            false
        )
        .await,
        Rows(1)
    );
    assert_eq!(
        grant(
            As::User("patient1@example.com"),
            alice,
            johnson,
            smith,
            false
        )
        .await,
        refused(DENIED)
    );
    assert_eq!(
        grant(
            As::User("patient1@example.com"),
            alice,
            billing,
            alice,
            false
        )
        .await,
        refused(DENIED)
    );
    // Break-glass: for oneself, on a patient, within the hour.
    assert_eq!(
        grant(
            As::User("dr.johnson@healthystellar.com"),
            alice,
            johnson,
            johnson,
            true
        )
        .await,
        Rows(1)
    );
    assert_eq!(
        grant(
            As::User("dr.johnson@healthystellar.com"),
            smith,
            johnson,
            johnson,
            true
        )
        .await,
        refused(DENIED)
    );
    assert_eq!(
        grant(
            As::User("dr.johnson@healthystellar.com"),
            alice,
            smith,
            johnson,
            true
        )
        .await,
        refused(DENIED)
    );

    let alices: Uuid =
        sqlx::query_scalar("SELECT id FROM access_grants WHERE patient_id = $1 LIMIT 1")
            .bind(alice)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    let as_alice = || As::User("patient1@example.com");
    assert_eq!(
        probe(
            &tdb,
            as_alice(),
            "UPDATE access_grants SET granted_by = $2 WHERE id = $1",
            &[alices, smith],
            false
        )
        .await,
        refused(DENIED)
    );
    assert_eq!(
        probe(
            &tdb,
            as_alice(),
            "UPDATE access_grants SET access_level = 'READ_WRITE' WHERE id = $1",
            &[alices],
            false
        )
        .await,
        refused(DENIED)
    );
    // A revocation needs a reason, and names its real author and time whatever the query says.
    assert_eq!(
        probe(
            &tdb,
            as_alice(),
            "UPDATE access_grants SET status = 'REVOKED', revoked_at = now(), revoked_by = $2, \
               revocation_reason = 'x' WHERE id = $1",
            &[alices, smith],
            false
        )
        .await,
        refused(CHECK),
        "a revocation needs a reason"
    );
    assert_eq!(
        probe(
            &tdb,
            as_alice(),
            "UPDATE access_grants SET status = 'REVOKED', revoked_at = now() - interval '1 year', \
               revoked_by = $2, revocation_reason = 'no longer my physician' WHERE id = $1",
            &[alices, smith],
            true
        )
        .await,
        Rows(1)
    );
    let (revoked_by, revoked_at_is_now): (Uuid, bool) = sqlx::query_as(
        "SELECT revoked_by, revoked_at > now() - interval '1 minute' FROM access_grants WHERE id = $1",
    )
    .bind(alices)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        (revoked_by, revoked_at_is_now),
        (alice, true),
        "a revocation names its real author"
    );
    assert_eq!(
        probe(
            &tdb,
            As::User("records@healthystellar.com"),
            "UPDATE access_grants SET status = 'ACTIVE' WHERE id = $1",
            &[alices],
            false
        )
        .await,
        refused(CHECK)
    );
    // An emergency grant cannot be stretched past its hour.
    let emergency: Uuid = sqlx::query_scalar(
        "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by, is_emergency, emergency_reason) \
         VALUES ($1, $2, 'ALL_RECORDS', 'READ_WRITE', now() + interval '1 hour', $2, true, 'patient unconscious') RETURNING id",
    )
    .bind(alice)
    .bind(johnson)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        probe(
            &tdb,
            As::User("records@healthystellar.com"),
            "UPDATE access_grants SET expires_at = now() + interval '10 years' WHERE id = $1",
            &[emergency],
            false
        )
        .await,
        refused(CHECK)
    );
}

#[tokio::test]
async fn records_change_only_with_their_version_and_their_real_provider() {
    let (tdb, _svc) = TestDb::seeded().await;
    let mut admin = tdb.admin().await;
    let r = record_id(&mut admin, "Annual Physical Examination").await;
    let alice = user_id(&mut admin, "patient1@example.com").await;
    let smith = user_id(&mut admin, "dr.smith@healthystellar.com").await;
    let johnson = user_id(&mut admin, "dr.johnson@healthystellar.com").await;
    let as_smith = || As::User("dr.smith@healthystellar.com");
    assert_eq!(
        probe(
            &tdb,
            as_smith(),
            "UPDATE medical_records SET version = version + 5, updated_by = $2 WHERE id = $1",
            &[r, smith],
            false
        )
        .await,
        refused(CHECK)
    );
    // One version up, but without its version row: refused when the transaction ends.
    assert_eq!(
        probe(&tdb, as_smith(), "UPDATE medical_records SET version = version + 1, updated_by = $2, title = '\\x00' WHERE id = $1", &[r, smith], true).await,
        refused(CHECK)
    );
    assert_eq!(
        probe(
            &tdb,
            as_smith(),
            "UPDATE medical_records SET patient_id = $2 WHERE id = $1",
            &[r, johnson],
            false
        )
        .await,
        refused(DENIED)
    );
    // A record names its real provider: Smith cannot hand one to Johnson's list.
    let insert = "INSERT INTO medical_records (patient_id, provider_id, created_by, updated_by, record_type, title, description, \
                  metadata, record_date) VALUES ($1, $2, $3, $3, 'other', '\\x00', '\\x00', '\\x00', '2024-01-01')";
    assert_eq!(
        probe(&tdb, as_smith(), insert, &[alice, johnson, smith], false).await,
        refused(DENIED)
    );
    assert_eq!(
        probe(&tdb, as_smith(), insert, &[alice, smith, smith], false).await,
        Rows(1)
    );
}

#[tokio::test]
async fn audit_rows_and_second_factors_belong_to_whoever_acts() {
    let (tdb, _svc) = TestDb::seeded().await;
    let mut admin = tdb.admin().await;
    let smith = user_id(&mut admin, "dr.smith@healthystellar.com").await;
    let forge = "INSERT INTO audit_queue (user_id, action, severity, outcome) VALUES ($1, 'RECORD_VIEW', 'LOW', 'success')";
    assert_eq!(
        probe(&tdb, As::Nobody, forge, &[smith], false).await,
        refused(DENIED)
    );
    assert_eq!(
        probe(
            &tdb,
            As::User("patient1@example.com"),
            forge,
            &[smith],
            false
        )
        .await,
        refused(DENIED)
    );
    assert_eq!(
        probe(
            &tdb,
            As::SigningIn("dr.smith@healthystellar.com"),
            forge,
            &[smith],
            false
        )
        .await,
        Rows(1)
    );
    assert_eq!(
        probe(
            &tdb,
            As::User("dr.smith@healthystellar.com"),
            forge,
            &[smith],
            false
        )
        .await,
        Rows(1)
    );

    // Before the password is checked: devices can be counted, not changed; no session can be made.
    sqlx::query("INSERT INTO mfa_devices (user_id, device_name, secret_ciphertext, is_verified) VALUES ($1, 'Phone', '\\x00', true)")
        .bind(smith)
        .execute(&mut admin)
        .await
        .unwrap();
    let signing_in = || As::SigningIn("dr.smith@healthystellar.com");
    assert_eq!(
        probe(&tdb, signing_in(), "SELECT 1 FROM mfa_devices", &[], false).await,
        Rows(1)
    );
    assert_eq!(
        probe(&tdb, signing_in(), "DELETE FROM mfa_devices", &[], false).await,
        Rows(0)
    );
    assert_eq!(
        probe(
            &tdb,
            signing_in(),
            "DELETE FROM mfa_backup_codes",
            &[],
            false
        )
        .await,
        Rows(0)
    );
    assert_eq!(
        probe(&tdb, signing_in(), "INSERT INTO sessions (user_id, token_hash, expires_at) VALUES ($1, sha256('x'), now() + interval '1 hour')", &[smith], false).await,
        refused(DENIED)
    );
    // A session's expiry is not the user's to move, and an ended session stays ended.
    let session: Uuid = sqlx::query_scalar(
        "INSERT INTO sessions (user_id, token_hash, expires_at, is_active, revoked_at, revoked_reason) \
         VALUES ($1, sha256('y'), now() + interval '1 hour', false, now(), 'logout') RETURNING id",
    )
    .bind(smith)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    let as_smith = || As::User("dr.smith@healthystellar.com");
    assert_eq!(
        probe(
            &tdb,
            as_smith(),
            "UPDATE sessions SET expires_at = now() + interval '10 years' WHERE id = $1",
            &[session],
            false
        )
        .await,
        refused(DENIED)
    );
    assert_eq!(
        probe(
            &tdb,
            as_smith(),
            "UPDATE sessions SET is_active = true WHERE id = $1",
            &[session],
            false
        )
        .await,
        refused(CHECK)
    );
}
