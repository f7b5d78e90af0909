//! The development seed: SPEC's rows, encrypted, idempotent, refused in production.

use std::collections::BTreeMap;

use hsc::config::{Config, Sources};
use hsc::crypto::{Aad, Keyring};
use hsc::services::passwords;
use hsc::services::seed::{self, SEED_PASSWORD, SeedSummary};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::harness::{Home, TestDb, run};

fn dev_config() -> Config {
    Config::from_sources(&Sources::from_maps(BTreeMap::new(), std::env::temp_dir())).unwrap()
}

fn keyring() -> Keyring {
    Keyring::new(&Zeroizing::new([7u8; 32]), &[])
}

/// Everything a seeded database holds that a person would compare: emails and decrypted titles.
async fn snapshot(tdb: &TestDb, keyring: &Keyring) -> (Vec<String>, Vec<String>, i64, i64) {
    let mut admin = tdb.admin().await;
    let emails: Vec<String> = sqlx::query_scalar("SELECT email FROM users ORDER BY email")
        .fetch_all(&mut admin)
        .await
        .unwrap();
    let rows: Vec<(Uuid, i32, Vec<u8>)> =
        sqlx::query_as("SELECT id, version, title FROM medical_records")
            .fetch_all(&mut admin)
            .await
            .unwrap();
    let mut titles: Vec<String> = rows
        .iter()
        .map(|(id, version, title)| {
            let aad = Aad {
                table: "medical_records",
                column: "title",
                row_id: *id,
                version: *version,
            };
            keyring.open_text(&aad, title).unwrap().to_string()
        })
        .collect();
    titles.sort();
    let grants: i64 =
        sqlx::query_scalar("SELECT count(*) FROM access_grants WHERE status = 'ACTIVE'")
            .fetch_one(&mut admin)
            .await
            .unwrap();
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM record_versions")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    (emails, titles, grants, versions)
}

#[tokio::test]
async fn seed_writes_spec_data_encrypted_and_a_second_run_leaves_the_same_rows() {
    let tdb = TestDb::migrated().await;
    let db = tdb.database().await;
    let keyring = keyring();
    let summary = seed::run(&dev_config(), &db, &keyring).await.unwrap();
    assert_eq!(
        summary,
        SeedSummary {
            users: 10,
            records: 6,
            grants: 3
        }
    );
    let first = snapshot(&tdb, &keyring).await;
    let mut expected_emails: Vec<String> =
        seed::USERS.iter().map(|u| u.email.to_string()).collect();
    expected_emails.sort();
    assert_eq!(first.0, expected_emails);
    assert!(
        first
            .1
            .contains(&"Follow-up Visit - Blood Pressure Check".to_string())
    );
    assert_eq!((first.2, first.3), (3, 6));

    seed::run(&dev_config(), &db, &keyring).await.unwrap();
    assert_eq!(snapshot(&tdb, &keyring).await, first);

    let mut admin = tdb.admin().await;
    // Record 6 was written by nurse Williams for Dr. Smith's patient Carol.
    let (creator, provider): (String, String) = sqlx::query_as(
        "SELECT c.email, p.email FROM medical_records r JOIN users c ON c.id = r.created_by JOIN users p ON p.id = r.provider_id \
         WHERE r.record_date = '2024-02-24'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        (creator.as_str(), provider.as_str()),
        (
            "nurse.williams@healthystellar.com",
            "dr.smith@healthystellar.com"
        )
    );
    // Carol → nurse Williams, READ, on exactly records 5 and 6.
    let (level, records, expires_in_days): (String, i64, f64) = sqlx::query_as(
        "SELECT g.access_level::text, (SELECT count(*) FROM access_grant_records WHERE grant_id = g.id), \
         (extract(epoch FROM g.expires_at - now()) / 86400)::float8 FROM access_grants g JOIN users u ON u.id = g.grantee_id \
         WHERE u.email = 'nurse.williams@healthystellar.com'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!((level.as_str(), records), ("READ", 2));
    assert!(
        (364.0..=366.0).contains(&expires_in_days),
        "{expires_in_days}"
    );
    let (hash, npi): (String, Option<String>) = sqlx::query_as(
        "SELECT password_hash, npi FROM users WHERE email = 'dr.johnson@healthystellar.com'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(hash.starts_with("$argon2id$") && passwords::verify(SEED_PASSWORD, &hash));
    assert_eq!(npi.as_deref(), Some("0987654321"));
    let mfa: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE mfa_enabled")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(mfa, 0);
    db.close().await;
}

#[tokio::test]
async fn no_record_text_is_stored_in_the_clear() {
    let tdb = TestDb::migrated().await;
    let db = tdb.database().await;
    seed::run(&dev_config(), &db, &keyring()).await.unwrap();
    db.close().await;
    let dump = tdb.dump_all();
    assert!(
        dump.windows(5).any(|w| w == b"Alice"),
        "the dump should hold the (unencrypted) user names"
    );
    for text in seed::record_texts() {
        assert!(
            !dump.windows(text.len()).any(|w| w == text.as_bytes()),
            "{text:?} is readable in pg_dump"
        );
    }
    assert!(
        !dump.windows(9).any(|w| w == b"Sumatript"),
        "metadata is readable in pg_dump"
    );
}

#[tokio::test]
async fn seed_refuses_in_production_and_changes_nothing() {
    let tdb = TestDb::migrated().await;
    let home = Home::new();
    let mut c = home.hsc(&["seed"]);
    c.env("DATABASE_URL", tdb.url());
    let out = run(c);
    out.success();
    assert!(
        out.stdout
            .contains("seeded 10 users, 6 records and 3 access grants"),
        "{}",
        out.stdout
    );
    let mut admin = tdb.admin().await;
    let before: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM users ORDER BY id")
        .fetch_all(&mut admin)
        .await
        .unwrap();

    let key = "ab".repeat(32);
    for (var, value) in [("APP_ENV", "production"), ("NODE_ENV", "production")] {
        let mut c = home.hsc(&["seed"]);
        c.env("DATABASE_URL", tdb.url())
            .env(
                "APP_ENV",
                if var == "NODE_ENV" {
                    "development"
                } else {
                    value
                },
            )
            .env(var, value)
            .env("ENCRYPTION_KEY", &key)
            .env("AUDIT_HMAC_KEY", &key);
        let line = run(c).one_sentence_failure();
        assert!(
            line.contains("refuses to run when APP_ENV or NODE_ENV is production"),
            "{line}"
        );
    }
    let after: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM users ORDER BY id")
        .fetch_all(&mut admin)
        .await
        .unwrap();
    assert_eq!(before, after);
}
