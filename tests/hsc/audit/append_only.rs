//! No role changes or erases an audit row: not the application role, not the owner, not a superuser
//! going through the table, one of its monthly partitions or the queue. Every refusal is SQLSTATE
//! 42501 (insufficient_privilege).

use chrono::{Datelike, Utc};
use hsc::db::{Actor, DbError};
use sqlx::PgConnection;

use super::chain_of;

/// The partition holding this month's rows (the chain of the test wrote some there).
fn this_months_partition() -> String {
    let now = Utc::now();
    format!("audit_logs_y{}m{:02}", now.year(), now.month())
}

fn changes_of(table: &str) -> Vec<String> {
    vec![
        format!("UPDATE {table} SET action = 'LOGIN'"),
        format!("DELETE FROM {table}"),
        format!("TRUNCATE {table}"),
    ]
}

#[track_caller]
fn assert_refused(result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>, statement: &str) {
    match result {
        Ok(done) => panic!("{statement} was allowed ({} rows)", done.rows_affected()),
        Err(e) => assert_eq!(
            DbError::sqlstate(&e).as_deref(),
            Some("42501"),
            "{statement}: {e}"
        ),
    }
}

async fn execute(
    conn: &mut PgConnection,
    statement: &str,
) -> Result<sqlx::postgres::PgQueryResult, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
        .execute(conn)
        .await
}

#[tokio::test]
async fn the_app_role_can_neither_change_the_chain_nor_touch_the_queue() {
    let (tdb, db) = chain_of(3).await;
    let partition = this_months_partition();
    let mut statements = changes_of("audit_logs");
    statements.extend(changes_of(&partition));
    statements.extend(changes_of("audit_queue"));
    statements.extend([
        "INSERT INTO audit_logs (seq, id, occurred_at, xact, action, severity, outcome, details, prev_hash, hash) \
         VALUES (4, gen_random_uuid(), now(), 1, 'LOGIN', 'LOW', 'success', '{}', '', '')"
            .to_string(),
        format!("SELECT * FROM {partition}"),
        "SELECT * FROM audit_queue".to_string(),
        "SELECT * FROM audit_chain".to_string(),
        "UPDATE audit_chain SET seq = 0".to_string(),
    ]);
    for statement in &statements {
        // Each in a transaction of its own: a refusal aborts the transaction it happens in.
        let mut tx = db.begin(Actor::Anonymous).await.unwrap();
        assert_refused(execute(tx.conn(), statement).await, statement);
    }
    let mut admin = tdb.admin().await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(rows, 3);
    db.close().await;
}

#[tokio::test]
async fn not_even_a_superuser_changes_the_chain_or_the_queue_through_sql() {
    let (tdb, db) = chain_of(3).await;
    let mut admin = tdb.admin().await;
    let is_superuser: bool =
        sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert!(
        is_superuser,
        "the harness's admin connection is a superuser"
    );
    // A row still waiting in the queue, which only sealing may take out.
    sqlx::query(
        "INSERT INTO audit_queue (action, severity, outcome) VALUES ('LOGIN', 'LOW', 'success')",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    let mut statements = changes_of("audit_logs");
    statements.extend(changes_of(&this_months_partition()));
    statements.extend(changes_of("audit_queue"));
    for statement in &statements {
        assert_refused(execute(&mut admin, statement).await, statement);
    }
    let (logged, queued): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM audit_logs), (SELECT count(*) FROM audit_queue)",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!((logged, queued), (3, 1));
    // The queued row is sealed as usual, and the chain is whole.
    assert_eq!(db.seal_audit_now().await.unwrap(), 1);
    assert!(super::verify_all(&db).await.intact());
    db.close().await;
}
