//! The one door: acting-user transactions switch to the app role with the user set, and leave
//! nothing behind on the pooled connection.

use hsc::db::{Actor, Database, Maintenance};
use uuid::Uuid;

use crate::harness::TestDb;

#[tokio::test]
async fn acting_transactions_run_as_the_app_role_and_reset_afterwards() {
    let tdb = TestDb::migrated().await;
    // One connection, so the second transaction reuses the first one's session.
    let db = Database::connect_with(tdb.options(), 1, 1, None)
        .await
        .unwrap();
    let user = Uuid::new_v4();
    let mut tx = db.begin(Actor::User(user)).await.unwrap();
    assert_eq!(tx.actor(), Actor::User(user));
    let (role, set): (String, String) =
        sqlx::query_as("SELECT current_user::text, current_setting('app.user_id')")
            .fetch_one(tx.conn())
            .await
            .unwrap();
    assert_eq!((role.as_str(), set), (hsc::db::APP_ROLE, user.to_string()));
    tx.commit().await.unwrap();

    let mut tx = db.begin_maintenance(Maintenance::Seed).await.unwrap();
    let (role, set): (String, Option<String>) =
        sqlx::query_as("SELECT current_user::text, current_setting('app.user_id', true)")
            .fetch_one(tx.conn())
            .await
            .unwrap();
    assert_ne!(
        role,
        hsc::db::APP_ROLE,
        "the role switch outlived its transaction"
    );
    assert!(
        set.unwrap_or_default().is_empty(),
        "the acting user outlived its transaction"
    );
    tx.commit().await.unwrap();

    let mut tx = db.begin(Actor::Anonymous).await.unwrap();
    let set: String = sqlx::query_scalar("SELECT current_setting('app.user_id')")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(set, "");
    drop(tx);
    db.close().await;
}

#[tokio::test]
async fn the_app_role_cannot_change_or_erase_the_audit_log() {
    let tdb = TestDb::migrated().await;
    let db = tdb.database().await;
    let mut tx = db.begin(Actor::Anonymous).await.unwrap();
    sqlx::query("INSERT INTO audit_queue (action, severity, outcome) VALUES ('LOGIN_FAILED', 'MEDIUM', 'failed')")
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        tdb.audit_actions().await,
        ["LOGIN_FAILED"],
        "sealed at commit"
    );
    for statement in [
        "INSERT INTO audit_logs (seq, id, occurred_at, xact, action, severity, outcome, details, prev_hash, hash) \
         VALUES (2, gen_random_uuid(), now(), 1, 'LOGIN', 'LOW', 'success', '{}', '', '')",
        "UPDATE audit_logs SET action = 'LOGIN'",
        "DELETE FROM audit_logs",
        "TRUNCATE audit_logs",
        "SELECT * FROM audit_queue",
        "UPDATE audit_queue SET action = 'LOGIN'",
        "DELETE FROM audit_queue",
        "TRUNCATE audit_queue",
        "INSERT INTO audit_queue (occurred_at, action, severity, outcome) VALUES ('2000-01-01', 'LOGIN', 'LOW', 'success')",
    ] {
        let mut tx = db.begin(Actor::Anonymous).await.unwrap();
        let err = sqlx::query(statement).execute(tx.conn()).await.unwrap_err();
        assert_eq!(
            hsc::db::DbError::sqlstate(&err).as_deref(),
            Some("42501"),
            "{statement} was allowed"
        );
    }
    db.close().await;
}

#[tokio::test]
async fn an_uncommitted_transaction_leaves_nothing() {
    let tdb = TestDb::migrated().await;
    let db = tdb.database().await;
    let mut tx = db.begin(Actor::Anonymous).await.unwrap();
    sqlx::query(
        "INSERT INTO audit_queue (action, severity, outcome) VALUES ('LOGIN', 'LOW', 'success')",
    )
    .execute(tx.conn())
    .await
    .unwrap();
    drop(tx);
    db.seal_audit_now().await.unwrap();
    let mut admin = tdb.admin().await;
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM audit_logs) + (SELECT count(*) FROM audit_queue)",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(n, 0);
    db.close().await;
}
