//! The audit trail's guarantees against real PostgreSQL (SPEC "Audit"): rows no role may change or
//! erase, one gapless chain however many writers, and `hsc audit verify` naming the first changed,
//! removed, inserted, reordered or truncated row, through the library and through the real binary.

mod append_only;
mod chain;

use hsc::db::{Actor, Database};
use hsc::services::audit::verify::{self, Checkpoint, Range, Report};
use hsc::services::audit::{self, Action, Client, Event, Outcome};
use serde_json::json;
use sqlx::PgConnection;

use crate::harness::{Home, Ran, TEST_ENCRYPTION_KEY, TestDb, run, test_audit_key};

/// `AUDIT_HMAC_KEY` for spawned binaries, matching [`test_audit_key`].
pub(crate) const TEST_AUDIT_KEY: &str =
    "0909090909090909090909090909090909090909090909090909090909090909";

/// Writes `n` audit rows, each in its own acting transaction (so each is sealed at its commit).
pub(crate) async fn write_events(db: &Database, n: usize) {
    for i in 0..n {
        let mut tx = db.begin(Actor::Anonymous).await.unwrap();
        let event = Event::new(Action::LoginFailed, Outcome::Failed, None)
            .details(json!({ "attempt": i, "reason": "wrong password" }));
        audit::write(tx.conn(), &Client::command_line(), &event)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
}

/// A chain of `n` sealed rows, seq 1..=n.
pub(crate) async fn chain_of(n: usize) -> (TestDb, Database) {
    let tdb = TestDb::migrated().await;
    let db = tdb.database().await;
    write_events(&db, n).await;
    (tdb, db)
}

/// Runs `statements` as the superuser with audit_logs' own triggers switched off: the tampering
/// only someone with the database's files or its superuser could do.
pub(crate) async fn tamper(admin: &mut PgConnection, statements: &[&str]) {
    sqlx::query("ALTER TABLE audit_logs DISABLE TRIGGER USER")
        .execute(&mut *admin)
        .await
        .unwrap();
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
            .execute(&mut *admin)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    sqlx::query("ALTER TABLE audit_logs ENABLE TRIGGER USER")
        .execute(&mut *admin)
        .await
        .unwrap();
}

/// Verifies the whole chain with the tests' key.
pub(crate) async fn verify_all(db: &Database) -> Report {
    verify_with(db, Range::default(), None).await
}

pub(crate) async fn verify_with(
    db: &Database,
    range: Range,
    checkpoint: Option<&Checkpoint>,
) -> Report {
    verify::verify(db, &test_audit_key(), &range, checkpoint, &mut ())
        .await
        .unwrap()
}

/// The real binary, pointed at `tdb` with the tests' keys.
pub(crate) fn hsc(home: &Home, tdb: &TestDb, args: &[&str]) -> Ran {
    let mut cmd = home.hsc(args);
    cmd.env("DATABASE_URL", tdb.url())
        .env("ENCRYPTION_KEY", TEST_ENCRYPTION_KEY)
        .env("AUDIT_HMAC_KEY", TEST_AUDIT_KEY);
    run(cmd)
}

/// `hsc audit verify` must fail with one sentence naming `seq` and `kind`.
#[track_caller]
pub(crate) fn assert_binary_names(ran: &Ran, seq: i64, kind: &str) {
    let line = ran.one_sentence_failure();
    assert!(
        line.contains(&format!("seq {seq}")) && line.contains(kind),
        "expected seq {seq} and `{kind}` in: {line}"
    );
}
