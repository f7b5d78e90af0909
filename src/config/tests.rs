//! Configuration tests: every bad value is one sentence naming its variable.

use super::*;

fn sources(pairs: &[(&str, &str)]) -> Sources {
    Sources::from_maps(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        PathBuf::from("/tmp/hsc-default-data"),
    )
}

fn error(pairs: &[(&str, &str)]) -> String {
    match Config::from_sources(&sources(pairs)) {
        Ok(_) => panic!("expected a configuration error for {pairs:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_use_the_private_cluster() {
    let c = Config::from_sources(&sources(&[])).unwrap();
    assert!(matches!(c.database, DatabaseTarget::Local));
    assert_eq!((c.pool_min, c.pool_max), (2, 20));
    assert_eq!(c.app_env, AppEnv::Development);
    assert_eq!(c.timeouts.idle_lock, Duration::from_secs(15 * 60));
    assert_eq!(c.timeouts.absolute_session, Duration::from_secs(12 * 3600));
    assert_eq!(c.timeouts.lockout_attempts, 5);
    assert_eq!(c.timeouts.lockout, Duration::from_secs(30 * 60));
    assert_eq!(c.data_dir, PathBuf::from("/tmp/hsc-default-data"));
}

#[test]
fn bad_port_names_the_variable() {
    let e = error(&[
        ("DB_HOST", "db"),
        ("DB_PORT", "abc"),
        ("DB_USERNAME", "u"),
        ("DB_NAME", "d"),
    ]);
    assert_eq!(
        e,
        "DB_PORT (from the environment) must be a port number from 1 to 65535, not \"abc\""
    );
}

#[test]
fn pool_min_above_max_is_refused() {
    let e = error(&[("DB_POOL_MIN", "30"), ("DB_POOL_MAX", "20")]);
    assert!(e.starts_with("DB_POOL_MIN"), "{e}");
    assert!(e.contains("larger than DB_POOL_MAX (20)"), "{e}");
}

#[test]
fn malformed_url_is_refused_without_echoing_it() {
    let e = error(&[("DATABASE_URL", "mysql://root:hunter2@db/x")]);
    assert!(e.starts_with("DATABASE_URL"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    let e = error(&[("DATABASE_URL", "postgresql://u:hunter2@db:notaport/x")]);
    assert!(
        e.starts_with("DATABASE_URL") && !e.contains("hunter2"),
        "{e}"
    );
}

#[test]
fn unknown_app_env_is_refused() {
    assert_eq!(
        error(&[("APP_ENV", "staging")]),
        "APP_ENV (from the environment) must be development, test or production, not \"staging\""
    );
    assert!(error(&[("NODE_ENV", "prod")]).starts_with("NODE_ENV"));
}

#[test]
fn node_env_is_the_fallback() {
    let c = Config::from_sources(&sources(&[("NODE_ENV", "production")])).unwrap();
    assert_eq!(c.app_env, AppEnv::Production);
    let c =
        Config::from_sources(&sources(&[("APP_ENV", "test"), ("NODE_ENV", "production")])).unwrap();
    assert_eq!(c.app_env, AppEnv::Test);
    assert!(
        c.production_anywhere(),
        "the seeder must still see NODE_ENV=production"
    );
}

#[test]
fn missing_ca_file_is_named() {
    let e = error(&[
        ("DB_SSL_ENABLED", "true"),
        ("DB_SSL_CA", "/nonexistent/ca.crt"),
    ]);
    assert_eq!(
        e,
        "DB_SSL_CA (from the environment) names /nonexistent/ca.crt, which does not exist"
    );
}

#[test]
fn keys_must_be_64_hex_and_are_never_echoed() {
    let e = error(&[("ENCRYPTION_KEY", "secretsecret")]);
    assert!(
        e.starts_with("ENCRYPTION_KEY") && !e.contains("secretsecret"),
        "{e}"
    );
    let good = "ab".repeat(32);
    let e = error(&[("ENCRYPTION_OLD_KEYS", &format!("{good},zz"))]);
    assert!(e.contains("entry 2"), "{e}");
    let c = Config::from_sources(&sources(&[
        ("ENCRYPTION_KEY", &good),
        ("ENCRYPTION_OLD_KEYS", &format!("{good}, {good}")),
    ]))
    .unwrap();
    assert_eq!(c.encryption_old_keys.len(), 2);
    assert!(!format!("{c:?}").contains(&good));
}

#[test]
fn individual_parameters_build_a_server_target() {
    let c = Config::from_sources(&sources(&[
        ("DB_HOST", "db.example"),
        ("DB_PORT", "6543"),
        ("DB_USERNAME", "clinic"),
        ("DB_PASSWORD", "pw"),
        ("DB_NAME", "stellar"),
    ]))
    .unwrap();
    let DatabaseTarget::Server(o) = &c.database else {
        panic!("expected a server")
    };
    assert_eq!(describe_server(o), "clinic@db.example:6543/stellar");
    assert!(!format!("{:?}", c.database).contains("pw"));
    assert!(error(&[("DB_HOST", "db"), ("DB_USERNAME", "u")]).starts_with("DB_NAME"));
}

#[test]
fn tls_with_a_ca_verifies_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, "x").unwrap();
    let c = Config::from_sources(&sources(&[
        ("DATABASE_URL", "postgresql://u@h/d"),
        ("DB_SSL_ENABLED", "true"),
        ("DB_SSL_CA", ca.to_str().unwrap()),
    ]))
    .unwrap();
    let DatabaseTarget::Server(o) = &c.database else {
        panic!("expected a server")
    };
    assert!(matches!(o.get_ssl_mode(), PgSslMode::VerifyFull));
    let c = Config::from_sources(&sources(&[
        ("DATABASE_URL", "postgresql://u@h/d"),
        ("DB_SSL_ENABLED", "yes"),
    ]))
    .unwrap();
    let DatabaseTarget::Server(o) = &c.database else {
        panic!("expected a server")
    };
    assert!(matches!(o.get_ssl_mode(), PgSslMode::Require));
    assert!(error(&[("DB_SSL_ENABLED", "maybe")]).starts_with("DB_SSL_ENABLED"));
}

#[test]
fn layers_are_env_then_dotenv_then_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let dotenv = dir.path().join(".env");
    std::fs::write(&dotenv, "DB_POOL_MAX=15\nDB_POOL_MIN=3\n").unwrap();
    let toml = dir.path().join("config.toml");
    std::fs::write(
        &toml,
        "db_pool_max = 9\ndb_pool_min = 1\nhsc_idle_lock_minutes = 5\n[keymap]\nquit = \"q\"\n",
    )
    .unwrap();
    let mut s = sources(&[("DB_POOL_MAX", "30")]);
    s.read_dotenv(&dotenv).unwrap();
    s.read_config_file(&toml).unwrap();
    let c = Config::from_sources(&s).unwrap();
    assert_eq!(c.pool_max, 30, "environment wins");
    assert_eq!(c.pool_min, 3, ".env beats config.toml");
    assert_eq!(
        c.timeouts.idle_lock,
        Duration::from_secs(300),
        "config.toml beats defaults"
    );

    std::fs::write(&toml, "db_pool_max = [1]\n").unwrap();
    let mut s = sources(&[]);
    let e = s.read_config_file(&toml).unwrap_err().to_string();
    assert!(
        e.contains("config.toml") && e.contains("db_pool_max"),
        "{e}"
    );
    let mut s = sources(&[]);
    std::fs::write(&toml, "DB_POOL_MIN = 40\n").unwrap();
    s.read_config_file(&toml).unwrap();
    let e = Config::from_sources(&s).unwrap_err().to_string();
    assert!(
        e.starts_with("DB_POOL_MIN (in ") && e.contains("config.toml"),
        "{e}"
    );
}

#[test]
fn the_shipped_examples_are_valid_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("config.toml");
    std::fs::write(&toml, include_str!("../../assets/config.example.toml")).unwrap();
    let dotenv = dir.path().join(".env");
    std::fs::write(&dotenv, include_str!("../../.env.example")).unwrap();
    let mut s = sources(&[]);
    s.read_config_file(&toml).unwrap();
    s.read_dotenv(&dotenv).unwrap();
    let c = Config::from_sources(&s).unwrap();
    assert_eq!(
        (c.pool_min, c.pool_max, c.app_env),
        (2, 20, AppEnv::Development)
    );
    assert!(matches!(c.database, DatabaseTarget::Local));
}

#[test]
fn show_masks_secrets() {
    let key = "cd".repeat(32);
    let s = sources(&[
        (
            "DATABASE_URL",
            "postgresql://clinic:hunter2@db/stellar?password=also&sslmode=require",
        ),
        ("ENCRYPTION_KEY", &key),
        ("DB_PASSWORD", "pw-secret"),
    ]);
    let c = Config::from_sources(&s).unwrap();
    let text = format!("{:?}", show(&s, &c));
    assert!(
        !text.contains("hunter2")
            && !text.contains(&key)
            && !text.contains("pw-secret")
            && !text.contains("also"),
        "{text}"
    );
    assert!(
        text.contains("postgresql://clinic:****@db/stellar?password=****&sslmode=require"),
        "{text}"
    );
}

#[test]
fn the_keymap_table_is_read_from_config_toml() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("config.toml");
    std::fs::write(
        &toml,
        "hsc_log = \"info\"\n[keymap]\nlock = \"f12\"\nquit = [\"q\", \"ctrl-q\"]\n",
    )
    .unwrap();
    let mut s = sources(&[]);
    s.read_config_file(&toml).unwrap();
    let c = Config::from_sources(&s).unwrap();
    assert_eq!(c.keymap.get("lock").map(String::as_str), Some("f12"));
    assert_eq!(c.keymap.get("quit").map(String::as_str), Some("q,ctrl-q"));
    std::fs::write(&toml, "[keymap]\nlock = 5\n").unwrap();
    let e = sources(&[])
        .read_config_file(&toml)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[keymap] lock must be a key"), "{e}");
}

#[test]
fn a_ca_without_ssl_enabled_still_verifies_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, "x").unwrap();
    let c = Config::from_sources(&sources(&[
        ("DATABASE_URL", "postgresql://u@h/d"),
        ("DB_SSL_CA", ca.to_str().unwrap()),
    ]))
    .unwrap();
    let DatabaseTarget::Server(o) = &c.database else {
        panic!("expected a server")
    };
    assert!(matches!(o.get_ssl_mode(), PgSslMode::VerifyFull));
}

#[test]
fn grant_expiries_are_two_years_ahead_unless_configured() {
    let c = Config::from_sources(&sources(&[])).unwrap();
    assert_eq!(c.grant_max_days, 730);
    let c = Config::from_sources(&sources(&[("HSC_GRANT_MAX_DAYS", "90")])).unwrap();
    assert_eq!(c.grant_max_days, 90);
    let e = error(&[("HSC_GRANT_MAX_DAYS", "0")]);
    assert!(e.starts_with("HSC_GRANT_MAX_DAYS"), "{e}");
    let e = error(&[("HSC_GRANT_MAX_DAYS", "5000")]);
    assert!(e.contains("at most 3660 days"), "{e}");
}
