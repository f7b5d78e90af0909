//! The application role is confined: with no acting user it sees no row of any guarded table, even
//! under a superuser login, and hsc refuses to start when the role could read past the policies.

use sqlx::Connection;
use uuid::Uuid;

use crate::harness::TestDb;
use crate::records::user_id;

#[tokio::test]
async fn without_a_user_the_application_role_sees_no_row_even_for_a_superuser_login() {
    let (tdb, svc) = TestDb::seeded().await;
    // Rows in every guarded table: a login (sessions, audit) and an enrolled second factor.
    crate::auth::enroll(&svc, "dr.smith@healthystellar.com").await;
    let mut admin = tdb.admin().await;
    let superuser: bool =
        sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert!(superuser, "the test logs in as a superuser");
    sqlx::query(
        "INSERT INTO audit_reviews (audit_seq, reviewed_by) SELECT 1, id FROM users LIMIT 1",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    for table in hsc::db::GUARDED_TABLES {
        if *table == "audit_queue" {
            // Rows wait there for milliseconds; the role may add to it, never read it.
            let mut tx = svc.db.begin(hsc::db::Actor::Anonymous).await.unwrap();
            let e = sqlx::query("SELECT count(*) FROM audit_queue")
                .fetch_one(tx.conn())
                .await
                .unwrap_err();
            assert_eq!(e.as_database_error().unwrap().code().unwrap(), "42501");
            continue;
        }
        let all: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut admin)
                .await
                .unwrap();
        assert!(all > 0, "{table} has rows to hide");
        // Plain SET ROLE with no context at all, and the app's own door with nobody acting.
        let mut tx = admin.begin().await.unwrap();
        sqlx::query("SET LOCAL ROLE hsc_app")
            .execute(&mut *tx)
            .await
            .unwrap();
        let seen: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        assert_eq!(seen, 0, "{table} without any context");
        tx.rollback().await.unwrap();
        let mut tx = svc.db.begin(hsc::db::Actor::Anonymous).await.unwrap();
        let seen: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(tx.conn())
                .await
                .unwrap();
        assert_eq!(seen, 0, "{table} with nobody acting");
    }
    // The content columns are not even readable by the role, whoever acts.
    let smith = user_id(&mut admin, "dr.smith@healthystellar.com").await;
    let mut tx = svc.db.begin(hsc::db::Actor::User(smith)).await.unwrap();
    let e = sqlx::query("SELECT title FROM medical_records LIMIT 1")
        .fetch_all(tx.conn())
        .await
        .unwrap_err();
    assert_eq!(e.as_database_error().unwrap().code().unwrap(), "42501");
}

#[tokio::test]
async fn hsc_refuses_a_role_that_could_read_past_the_policies() {
    let tdb = TestDb::migrated().await;
    let mut admin = tdb.admin().await;
    assert_eq!(
        hsc::db::confinement_problem(&mut admin, "hsc_app")
            .await
            .unwrap(),
        None
    );

    let probe = format!("hsc_probe_{}", Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE ROLE {probe} NOLOGIN BYPASSRLS"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let problem = hsc::db::confinement_problem(&mut admin, &probe)
        .await
        .unwrap()
        .unwrap();
    assert!(
        problem.contains("can bypass row-level security"),
        "{problem}"
    );

    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER ROLE {probe} NOBYPASSRLS"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE record_versions OWNER TO {probe}"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let problem = hsc::db::confinement_problem(&mut admin, &probe)
        .await
        .unwrap()
        .unwrap();
    assert!(
        problem.contains("owns (or has the rights of the owner of) record_versions"),
        "{problem}"
    );
    sqlx::query("ALTER TABLE record_versions OWNER TO CURRENT_USER")
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE {probe}")))
        .execute(&mut admin)
        .await
        .unwrap();

    sqlx::query("ALTER TABLE access_grants NO FORCE ROW LEVEL SECURITY")
        .execute(&mut admin)
        .await
        .unwrap();
    let problem = hsc::db::confinement_problem(&mut admin, "hsc_app")
        .await
        .unwrap()
        .unwrap();
    assert!(
        problem.contains("not enabled and forced on access_grants"),
        "{problem}"
    );
    // The console itself refuses to start in one sentence, before any screen.
    let home = crate::harness::Home::new();
    let mut c = home.hsc(&[]);
    c.env("DATABASE_URL", tdb.url());
    let out = crate::harness::run(c);
    assert_eq!(
        out.one_sentence_failure(),
        "hsc: refusing to start: row-level security is not enabled and forced on access_grants, so row-level \
         security would not protect the records"
    );
}
