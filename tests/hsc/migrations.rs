//! Versioned migrations: reversible, checked before every command, never re-run when edited.

use hsc::db::migrate;
use hsc::db::{Actor, Maintenance};

use crate::harness::{Home, TestDb, run};

#[tokio::test]
async fn all_up_all_down_all_up_leaves_the_same_schema() {
    let tdb = TestDb::empty().await;
    let db = tdb.database().await;
    let applied = migrate::run(&db).await.unwrap();
    assert_eq!(
        applied.len(),
        migrate::MIGRATOR
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .count()
    );
    let first = tdb.dump_schema();
    assert!(
        first.contains("CREATE TABLE public.medical_records"),
        "{first}"
    );

    let mut reverted = Vec::new();
    while let Some(name) = migrate::revert(&db).await.unwrap() {
        reverted.push(name);
    }
    assert_eq!(reverted.len(), applied.len());
    assert_eq!(
        reverted.first().map(String::as_str),
        Some(newest().as_str()),
        "newest first"
    );
    let mut admin = tdb.admin().await;
    let leftovers: Vec<String> = sqlx::query_scalar(
        "SELECT relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'S', 'i') AND relname NOT LIKE '_sqlx_migrations%'",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(leftovers.is_empty(), "down left {leftovers:?}");
    let types: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype = 'e'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(types, 0, "down left enum types");

    migrate::run(&db).await.unwrap();
    let again = tdb.dump_schema();
    let differing: Vec<(&str, &str)> = first
        .lines()
        .zip(again.lines())
        .filter(|(a, b)| a != b)
        .take(5)
        .collect();
    assert!(
        first == again,
        "the schema after up, down, up differs from the first up ({} vs {} lines); first differences: {differing:#?}",
        first.lines().count(),
        again.lines().count()
    );
    db.close().await;
}

#[tokio::test]
async fn migrate_commands_apply_show_and_revert() {
    let tdb = TestDb::empty().await;
    let home = Home::new();
    let url = tdb.url();
    let show = || {
        let mut c = home.hsc(&["migrate", "show"]);
        c.env("DATABASE_URL", &url);
        run(c)
    };
    let out = show();
    out.success();
    assert!(
        state_of(&out.stdout, "0001_app_role").starts_with("pending"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("0 applied, {} pending", count())),
        "{}",
        out.stdout
    );

    let mut c = home.hsc(&["migrate", "run"]);
    c.env("DATABASE_URL", &url);
    let out = run(c);
    out.success();
    assert!(
        out.stdout.contains("applied 0001_app_role")
            && out.stdout.contains(&format!("applied {}", newest())),
        "{}",
        out.stdout
    );

    let out = show();
    assert!(
        out.stdout
            .contains(&format!("{} applied, 0 pending", count())),
        "{}",
        out.stdout
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(
        out.stdout
            .lines()
            .all(|l| !l.starts_with("applied") || l.contains(&today)),
        "{}",
        out.stdout
    );

    let mut c = home.hsc(&["migrate", "revert"]);
    c.env("DATABASE_URL", &url);
    assert_eq!(
        run(c).success().stdout.trim(),
        format!("reverted {}", newest())
    );
    let out = show();
    assert!(
        out.stdout
            .contains(&format!("{} applied, 1 pending", count() - 1)),
        "{}",
        out.stdout
    );
    assert!(
        state_of(&out.stdout, &newest()).starts_with("pending"),
        "{}",
        out.stdout
    );
    assert!(
        state_of(&out.stdout, &second_newest()).starts_with("applied"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn commands_stop_while_migrations_are_pending() {
    let home = Home::new();
    let empty = TestDb::empty().await;
    for args in [&["seed"][..], &[][..]] {
        let mut c = home.hsc(args);
        c.env("DATABASE_URL", empty.url());
        assert_eq!(
            run(c).one_sentence_failure(),
            format!("hsc: {} migrations pending: run `hsc migrate run`", count())
        );
    }

    let behind = TestDb::migrated().await;
    let mut admin = behind.admin().await;
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 6")
        .execute(&mut admin)
        .await
        .unwrap();
    let mut c = home.hsc(&["seed"]);
    c.env("DATABASE_URL", behind.url());
    assert_eq!(
        run(c).one_sentence_failure(),
        "hsc: 1 migration pending: run `hsc migrate run`"
    );
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(users, 0, "nothing ran");
}

#[tokio::test]
async fn a_migration_edited_after_it_was_applied_is_named_and_not_rerun() {
    let tdb = TestDb::migrated().await;
    let mut admin = tdb.admin().await;
    // What an edited file looks like from the database: a different checksum for an applied version.
    sqlx::query("UPDATE _sqlx_migrations SET checksum = '\\x00'::bytea WHERE version = 3")
        .execute(&mut admin)
        .await
        .unwrap();
    let home = Home::new();
    for args in [&["migrate", "run"][..], &["seed"][..], &[][..]] {
        let mut c = home.hsc(args);
        c.env("DATABASE_URL", tdb.url());
        let line = run(c).one_sentence_failure();
        assert!(
            line.starts_with(
                "hsc: migration 0003_users_sessions_mfa was edited after it was applied"
            ),
            "{line}"
        );
    }
    let mut c = home.hsc(&["migrate", "show"]);
    c.env("DATABASE_URL", tdb.url());
    let out = run(c);
    assert!(
        state_of(&out.stdout, "0003_users_sessions_mfa").starts_with("EDITED"),
        "{}",
        out.stdout
    );
    assert!(
        state_of(&out.stdout, "0004_medical_records").starts_with("applied"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn databases_sharing_one_server_migrate_up_and_down_independently() {
    let (a, b) = tokio::join!(TestDb::empty(), TestDb::empty());
    let (da, db) = tokio::join!(a.database(), b.database());
    let (ra, rb) = tokio::join!(migrate::run(&da), migrate::run(&db));
    ra.unwrap();
    rb.unwrap();
    while migrate::revert(&da).await.unwrap().is_some() {}
    // b still has its role and works through the door.
    let mut tx = db.begin(Actor::Anonymous).await.unwrap();
    let (who,): (String,) = sqlx::query_as("SELECT current_user::text")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(who, "hsc_app");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(n, 0);
    tx.commit().await.unwrap();
    migrate::run(&da).await.unwrap();
    migrate::require_current(&da).await.unwrap();
    da.close().await;
    db.close().await;
}

#[tokio::test]
async fn the_app_role_is_unprivileged_and_owns_nothing() {
    let tdb = TestDb::migrated().await;
    let mut admin = tdb.admin().await;
    let (superuser, bypass, login, createrole): (bool, bool, bool, bool) = sqlx::query_as(
        "SELECT rolsuper, rolbypassrls, rolcanlogin, rolcreaterole FROM pg_roles WHERE rolname = 'hsc_app'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(!superuser && !bypass && !login && !createrole);
    let owned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = 'hsc_app')",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(owned, 0);
}

#[tokio::test]
async fn updated_at_follows_every_update_and_created_at_cannot_be_rewritten() {
    let tdb = TestDb::migrated().await;
    let db = tdb.database().await;
    let mut tx = db.begin_maintenance(Maintenance::Seed).await.unwrap();
    let id: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO users (email, password_hash, first_name, last_name, role, created_at, updated_at) \
         VALUES ('t@example.com', 'x', 'T', 'T', 'nurse', now() - interval '1 day', now() - interval '1 day') RETURNING id",
    )
    .fetch_one(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.begin_maintenance(Maintenance::Seed).await.unwrap();
    let (created, updated, now): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as(
            "UPDATE users SET first_name = 'U', created_at = now() + interval '1 year', updated_at = '2000-01-01' \
             WHERE id = $1 RETURNING created_at, updated_at, now()",
        )
        .bind(id)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(
        created < now - chrono::Duration::hours(23),
        "created_at was rewritten"
    );
    assert!(updated >= now, "updated_at did not follow the update");
    db.close().await;
}

/// The line of `migrate show` output that names `migration`.
fn state_of<'a>(stdout: &'a str, migration: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.ends_with(migration))
        .unwrap_or_else(|| panic!("{migration} missing from:\n{stdout}"))
}

/// How many migrations the binary carries.
fn count() -> usize {
    migrate::MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .count()
}

/// The newest migration's name, as the commands print it.
fn newest() -> String {
    nth_newest(0)
}

fn second_newest() -> String {
    nth_newest(1)
}

fn nth_newest(n: usize) -> String {
    let mut ups: Vec<_> = migrate::MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .collect();
    ups.sort_by_key(|m| m.version);
    migrate::name_of(ups[ups.len() - 1 - n])
}
