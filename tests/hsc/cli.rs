//! The command line as a person meets it: one sentence per problem, exit codes 0/1/2.

use std::os::unix::fs::PermissionsExt;

use crate::harness::{Home, TestDb, run};

#[test]
fn bad_configuration_is_one_sentence_naming_the_variable() {
    let home = Home::new();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[
                ("DB_HOST", "db"),
                ("DB_PORT", "abc"),
                ("DB_USERNAME", "u"),
                ("DB_NAME", "d"),
            ],
            "hsc: DB_PORT (from the environment) must be a port number from 1 to 65535, not \"abc\"",
        ),
        (
            &[
                ("DB_SSL_ENABLED", "true"),
                ("DB_SSL_CA", "/nonexistent/ca.pem"),
            ],
            "hsc: DB_SSL_CA (from the environment) names /nonexistent/ca.pem, which does not exist",
        ),
        (
            &[("DB_POOL_MIN", "21")],
            "hsc: DB_POOL_MIN (from the environment) is 21, larger than DB_POOL_MAX (20)",
        ),
        (
            &[("DATABASE_URL", "postgresql://u:s3cret@host:port/db")],
            "hsc: DATABASE_URL (from the environment) is not a valid PostgreSQL URL; expected postgresql://user:password@host:port/database",
        ),
        (
            &[("APP_ENV", "staging")],
            "hsc: APP_ENV (from the environment) must be development, test or production, not \"staging\"",
        ),
    ];
    for (vars, expected) in cases {
        for args in [&["config", "show"][..], &["migrate", "show"][..], &[][..]] {
            let mut c = home.hsc(args);
            c.envs(vars.iter().copied());
            assert_eq!(
                &run(c).one_sentence_failure(),
                expected,
                "{vars:?} {args:?}"
            );
        }
    }
}

#[test]
fn dotenv_in_the_working_directory_is_read_and_named() {
    let home = Home::new();
    std::fs::write(home.path().join(".env"), "DB_POOL_MAX=0\n").unwrap();
    let line = run(home.hsc(&["config", "show"])).one_sentence_failure();
    assert!(
        line.starts_with("hsc: DB_POOL_MAX (in ") && line.contains(".env) must be at least 1"),
        "{line}"
    );
}

#[test]
fn config_show_masks_every_secret() {
    let home = Home::new();
    let key = "0123456789abcdef".repeat(4);
    let mut c = home.hsc(&["config", "show"]);
    c.env(
        "DATABASE_URL",
        "postgresql://clinic:Hunter2pw@db.example:5432/stellar",
    )
    .env("ENCRYPTION_KEY", &key)
    .env("ENCRYPTION_OLD_KEYS", "fedcba9876543210".repeat(4))
    .env("AUDIT_HMAC_KEY", &key)
    .env("DB_PASSWORD", "AnotherPw");
    let out = run(c);
    out.success();
    for secret in ["Hunter2pw", key.as_str(), "fedcba9876543210", "AnotherPw"] {
        assert!(
            !out.stdout.contains(secret),
            "{secret} shown:\n{}",
            out.stdout
        );
    }
    assert!(
        out.stdout
            .contains("postgresql://clinic:****@db.example:5432/stellar  (from the environment)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("clinic@db.example:5432/stellar"),
        "{}",
        out.stdout
    );
}

#[test]
fn usage_errors_exit_with_2() {
    let home = Home::new();
    assert_eq!(run(home.hsc(&["frobnicate"])).code, Some(2));
    assert_eq!(run(home.hsc(&["migrate"])).code, Some(2));
    assert_eq!(run(home.hsc(&["migrate", "new"])).code, Some(2));
}

#[tokio::test]
async fn production_refuses_to_start_without_keys() {
    let tdb = TestDb::migrated().await;
    let home = Home::new();
    let mut c = home.hsc(&[]);
    c.env("DATABASE_URL", tdb.url())
        .env("APP_ENV", "production");
    let line = run(c).one_sentence_failure();
    assert!(
        line.starts_with(
            "hsc: ENCRYPTION_KEY is not set, and production refuses to start without it"
        ),
        "{line}"
    );
    let mut c = home.hsc(&[]);
    c.env("DATABASE_URL", tdb.url())
        .env("APP_ENV", "production")
        .env("ENCRYPTION_KEY", "ab".repeat(32));
    let line = run(c).one_sentence_failure();
    assert!(line.starts_with("hsc: AUDIT_HMAC_KEY is not set"), "{line}");
    assert!(
        !home.data_dir().join("keys").exists(),
        "production must not generate keys"
    );

    let mut c = home.hsc(&[]);
    c.env("DATABASE_URL", tdb.url())
        .env("APP_ENV", "production")
        .env("ENCRYPTION_KEY", "ab".repeat(32))
        .env("AUDIT_HMAC_KEY", "cd".repeat(32));
    // Past every check, the console itself needs a terminal, which this test does not give it.
    let line = run(c).one_sentence_failure();
    assert!(
        line.starts_with("hsc: the console needs a terminal"),
        "{line}"
    );
}

#[tokio::test]
async fn development_keys_are_generated_once_into_the_data_dir() {
    let tdb = TestDb::migrated().await;
    let home = Home::new();
    for _ in 0..2 {
        let mut c = home.hsc(&["sessions", "cleanup"]);
        c.env("DATABASE_URL", tdb.url());
        run(c).success();
    }
    let keys = home.data_dir().join("keys");
    assert_eq!(
        std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for file in ["encryption.key", "audit_hmac.key"] {
        let meta = std::fs::metadata(keys.join(file)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{file}");
    }
    assert_eq!(
        std::fs::read_dir(&keys).unwrap().count(),
        2,
        "no temporary files left behind"
    );
}

#[test]
fn migrate_new_creates_a_timestamped_pair_in_migrations() {
    let home = Home::new();
    let line = run(home.hsc(&["migrate", "new", "add_patient_phone"])).one_sentence_failure();
    assert!(line.contains("no migrations/ directory"), "{line}");
    std::fs::create_dir(home.path().join("migrations")).unwrap();
    let out = run(home.hsc(&["migrate", "new", "add_patient_phone"]));
    out.success();
    let mut names: Vec<String> = std::fs::read_dir(home.path().join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2);
    assert!(
        names[0].ends_with("_add_patient_phone.down.sql")
            && names[1].ends_with("_add_patient_phone.up.sql"),
        "{names:?}"
    );
    assert_eq!(
        names[0].split('_').next().unwrap().len(),
        14,
        "a YYYYMMDDHHMMSS timestamp: {names:?}"
    );
    let line = run(home.hsc(&["migrate", "new", "Add Phone"])).one_sentence_failure();
    assert!(line.contains("must be 1 to 60 lowercase letters"), "{line}");
}

#[tokio::test]
async fn an_unknown_keymap_command_or_theme_stops_the_console_with_a_sentence() {
    let tdb = TestDb::migrated().await;
    let home = Home::new();
    std::fs::create_dir_all(home.path().join("config")).unwrap();
    std::fs::write(
        home.path().join("config/config.toml"),
        "[keymap]\nteleport = \"t\"\n",
    )
    .unwrap();
    let mut c = home.hsc(&[]);
    c.env("DATABASE_URL", tdb.url());
    let line = run(c).one_sentence_failure();
    assert!(
        line.contains("config.toml [keymap] names \"teleport\", which is not a command"),
        "{line}"
    );

    std::fs::write(
        home.path().join("config/config.toml"),
        "[keymap]\nlock = \"f12\"\n",
    )
    .unwrap();
    let mut c = home.hsc(&[]);
    c.env("DATABASE_URL", tdb.url()).env("HSC_THEME", "neon");
    let line = run(c).one_sentence_failure();
    assert!(
        line.starts_with(
            "hsc: HSC_THEME (from the environment) must be default, high-contrast or monochrome"
        ),
        "{line}"
    );
}
