//! The log file: written at debug level, and still free of passwords, keys and record text.

use crate::harness::{Home, TestDb, run};

#[tokio::test]
async fn debug_logs_hold_no_password_key_or_record_text() {
    let tdb = TestDb::migrated().await;
    let home = Home::new();
    let key = "5e".repeat(32);
    for args in [
        &["seed"][..],
        &["migrate", "show"][..],
        &["sessions", "cleanup"][..],
        &["seed"][..],
    ] {
        let mut c = home.hsc(args);
        c.env("DATABASE_URL", tdb.url())
            .env("HSC_LOG", "debug")
            .env("ENCRYPTION_KEY", &key);
        run(c).success();
    }
    let logs = home.data_dir().join("logs");
    let mut text = String::new();
    for entry in std::fs::read_dir(&logs).unwrap() {
        text.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    assert!(
        text.contains("database seeded"),
        "the log is missing what happened:\n{text}"
    );
    assert!(text.contains("DEBUG"), "debug level was not on:\n{text}");
    let mut secrets: Vec<&str> = hsc::services::seed::record_texts();
    secrets.extend(["Test123!@#", key.as_str(), "Sumatriptan", "G43.909"]);
    for secret in secrets {
        assert!(!text.contains(secret), "{secret:?} reached the log");
    }
    // Logs are never written to the terminal.
    let mut c = home.hsc(&["migrate", "show"]);
    c.env("DATABASE_URL", tdb.url()).env("HSC_LOG", "trace");
    let out = run(c);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}
