//! `hsc keys rotate`: every sealed value moves to the current key, in batches that each commit on
//! their own, resumable after an interruption, never sealing a value twice, audited.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;

use hsc::crypto::{Aad, KeyId, Keyring, key_id_of};
use hsc::services::audit::Client;
use hsc::services::auth;
use hsc::services::keys::{self, RotateOptions};
use hsc::services::seed;
use sqlx::PgConnection;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::auth::{client, enroll, pending};
use crate::harness::{Home, Ran, TEST_ENCRYPTION_KEY, TestDb, run};

/// Key A is the harness key the seed encrypts with; B is the new key; C is one nobody configured.
pub(crate) fn key(byte: u8) -> Zeroizing<[u8; 32]> {
    Zeroizing::new([byte; 32])
}
pub(crate) const A: u8 = 7;
pub(crate) const B: u8 = 0x0b;
pub(crate) const C: u8 = 0x0c;
pub(crate) const KEY_B: &str = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b";
pub(crate) const KEY_C: &str = "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c";

pub(crate) fn id_of(byte: u8) -> KeyId {
    Keyring::new(&key(byte), &[]).current_key_id()
}

/// B writes, A still reads: the keyring of a rotation.
pub(crate) fn rotating_ring() -> Keyring {
    Keyring::new(&key(B), &[key(A)])
}

/// One sealed value, with what its AAD binds it to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Sealed {
    pub(crate) table: &'static str,
    pub(crate) column: &'static str,
    /// The row's own id.
    pub(crate) id: Uuid,
    /// The id the AAD names (record_versions: the record's).
    pub(crate) aad_row: Uuid,
    pub(crate) version: i32,
    pub(crate) value: Vec<u8>,
}

impl Sealed {
    pub(crate) fn aad(&self) -> Aad<'_> {
        Aad {
            table: self.table,
            column: self.column,
            row_id: self.aad_row,
            version: self.version,
        }
    }

    pub(crate) fn key(&self) -> KeyId {
        key_id_of(&self.value).unwrap()
    }
}

/// Every sealed value in the database, read behind hsc's back.
pub(crate) async fn sealed_values(admin: &mut PgConnection) -> Vec<Sealed> {
    type Row = (Uuid, Uuid, i32, Vec<Option<Vec<u8>>>);
    let tables: [(&str, &[&str], &str); 3] = [
        (
            "medical_records",
            &["title", "description", "metadata"],
            "SELECT id, id, version, ARRAY[title, description, metadata] FROM medical_records",
        ),
        (
            "record_versions",
            &["title", "description", "metadata", "change_reason"],
            "SELECT id, record_id, version, ARRAY[title, description, metadata, change_reason] FROM record_versions",
        ),
        (
            "mfa_devices",
            &["secret_ciphertext"],
            "SELECT id, id, 1, ARRAY[secret_ciphertext] FROM mfa_devices",
        ),
    ];
    let mut out = Vec::new();
    for (table, columns, sql) in tables {
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *admin)
            .await
            .unwrap();
        for (id, aad_row, version, values) in rows {
            for (column, value) in columns.iter().zip(values) {
                if let Some(value) = value {
                    out.push(Sealed {
                        table,
                        column,
                        id,
                        aad_row,
                        version,
                        value,
                    });
                }
            }
        }
    }
    out.sort();
    out
}

/// The distinct key ids in every ciphertext column, as PostgreSQL reads them (bytes 2..5).
pub(crate) async fn key_ids_by_sql(admin: &mut PgConnection) -> BTreeSet<Vec<u8>> {
    sqlx::query_scalar(
        "SELECT DISTINCT k FROM (
            SELECT substring(title from 2 for 4) AS k FROM medical_records
            UNION ALL SELECT substring(description from 2 for 4) FROM medical_records
            UNION ALL SELECT substring(metadata from 2 for 4) FROM medical_records
            UNION ALL SELECT substring(title from 2 for 4) FROM record_versions
            UNION ALL SELECT substring(description from 2 for 4) FROM record_versions
            UNION ALL SELECT substring(metadata from 2 for 4) FROM record_versions
            UNION ALL SELECT substring(change_reason from 2 for 4) FROM record_versions WHERE change_reason IS NOT NULL
            UNION ALL SELECT substring(secret_ciphertext from 2 for 4) FROM mfa_devices
        ) keys",
    )
    .fetch_all(admin)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

pub(crate) async fn row_counts(admin: &mut PgConnection) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM medical_records), (SELECT count(*) FROM record_versions), \
         (SELECT count(*) FROM mfa_devices)",
    )
    .fetch_one(admin)
    .await
    .unwrap()
}

/// KEY_ROTATION rows, oldest first: phase, outcome, details.
pub(crate) async fn rotation_audit(
    admin: &mut PgConnection,
) -> Vec<(String, String, serde_json::Value)> {
    sqlx::query_as(
        "SELECT details->>'phase', outcome::text, details FROM audit_logs \
         WHERE action = 'KEY_ROTATION' ORDER BY seq",
    )
    .fetch_all(admin)
    .await
    .unwrap()
}

/// Gives record `record` a second version (with a change reason), sealed under key A as the records
/// service would seal it: the record row at version 2, and a version row bound to the record's id.
pub(crate) async fn add_second_version(admin: &mut PgConnection, record: Uuid) {
    let ring = Keyring::new(&key(A), &[]);
    let seal = |table: &'static str, column: &'static str, text: &str| {
        ring.seal(
            &Aad {
                table,
                column,
                row_id: record,
                version: 2,
            },
            text.as_bytes(),
        )
        .unwrap()
    };
    sqlx::query(
        "UPDATE medical_records SET version = 2, title = $2, description = $3, metadata = $4 WHERE id = $1",
    )
    .bind(record)
    .bind(seal("medical_records", "title", "Second title"))
    .bind(seal("medical_records", "description", "Second description"))
    .bind(seal("medical_records", "metadata", "{\"v\":2}"))
    .execute(&mut *admin)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO record_versions (record_id, version, patient_id, provider_id, record_type, title, description, \
         metadata, status, record_date, changed_by, change_reason) \
         SELECT id, 2, patient_id, provider_id, record_type, $2, $3, $4, status, record_date, updated_by, $5 \
         FROM medical_records WHERE id = $1",
    )
    .bind(record)
    .bind(seal("record_versions", "title", "Second title"))
    .bind(seal("record_versions", "description", "Second description"))
    .bind(seal("record_versions", "metadata", "{\"v\":2}"))
    .bind(seal("record_versions", "change_reason", "Corrected the dosage"))
    .execute(&mut *admin)
    .await
    .unwrap();
}

/// `hsc keys rotate` against `tdb` with ENCRYPTION_KEY=B and ENCRYPTION_OLD_KEYS=`old`.
pub(crate) fn rotate_command(home: &Home, tdb: &TestDb, old: &str) -> std::process::Command {
    let mut c = home.hsc(&["keys", "rotate"]);
    c.env("DATABASE_URL", tdb.url())
        .env("ENCRYPTION_KEY", KEY_B)
        .env("ENCRYPTION_OLD_KEYS", old);
    c
}

pub(crate) fn last_line(ran: &Ran) -> &str {
    ran.stderr.lines().last().unwrap_or_default()
}

pub(crate) async fn medical_record_ids(admin: &mut PgConnection) -> Vec<Uuid> {
    sqlx::query_scalar("SELECT id FROM medical_records ORDER BY id")
        .fetch_all(admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn rotation_moves_every_value_to_the_new_key_and_a_second_run_has_nothing_to_do() {
    let (tdb, svc) = TestDb::seeded().await;
    let (_, enrollment, _, at) = enroll(&svc, "dr.smith@healthystellar.com").await;
    let mut admin = tdb.admin().await;
    let ids = medical_record_ids(&mut admin).await;
    add_second_version(&mut admin, ids[0]).await;
    let before = sealed_values(&mut admin).await;
    let counts = row_counts(&mut admin).await;
    assert_eq!(counts, (6, 7, 1));
    assert!(before.iter().all(|s| s.key() == id_of(A)));
    let stamps = "SELECT array_agg(updated_at::text ORDER BY id) FROM \
                  (SELECT id, updated_at FROM medical_records UNION ALL SELECT id, updated_at FROM mfa_devices) t";
    let updated_before: Vec<String> = sqlx::query_scalar(stamps)
        .fetch_one(&mut admin)
        .await
        .unwrap();

    let home = Home::new();
    let out = run(rotate_command(&home, &tdb, TEST_ENCRYPTION_KEY));
    out.success();
    // Re-encryption is not an edit: no record or device looks recently changed.
    let updated_after: Vec<String> = sqlx::query_scalar(stamps)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(updated_after, updated_before);
    // 6 records + 7 versions + 1 device.
    assert!(
        out.stdout
            .contains(&format!("re-encrypted 14 row(s) to key {}", id_of(B))),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("14 row(s) under older keys") && out.stderr.contains("14/14 rows"),
        "stderr is not a terminal, so progress comes as plain lines:\n{}",
        out.stderr
    );

    // PostgreSQL itself sees only key B in every ciphertext column.
    assert_eq!(
        key_ids_by_sql(&mut admin).await,
        BTreeSet::from([id_of(B).0.to_vec()])
    );
    assert_eq!(row_counts(&mut admin).await, counts, "no row added or lost");
    let after = sealed_values(&mut admin).await;
    assert_eq!(after.len(), before.len());
    let only_b = Keyring::new(&key(B), &[]);
    let only_a = Keyring::new(&key(A), &[]);
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(
            (old.table, old.column, old.id),
            (new.table, new.column, new.id)
        );
        assert_ne!(old.value, new.value);
        assert_eq!(
            *only_a.open(&old.aad(), &old.value).unwrap(),
            *only_b.open(&new.aad(), &new.value).unwrap(),
            "{} {} {} holds the same plaintext under key B",
            new.table,
            new.column,
            new.id
        );
    }
    // The seeded texts read back with B alone, through the same AADs the seed and the records service use.
    let mut texts: Vec<String> = after
        .iter()
        .filter(|s| s.table == "record_versions" && s.version == 1 && s.column != "metadata")
        .map(|s| only_b.open_text(&s.aad(), &s.value).unwrap().to_string())
        .collect();
    texts.sort();
    let mut expected: Vec<String> = seed::record_texts().iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(texts, expected);
    let reason = after.iter().find(|s| s.column == "change_reason").unwrap();
    assert_eq!(
        &*only_b.open_text(&reason.aad(), &reason.value).unwrap(),
        "Corrected the dosage"
    );

    // The authenticator secret still opens on the normal sign-in path, with key B only.
    let svc_b = hsc::services::Services {
        db: tdb.database().await,
        keyring: Keyring::new(&key(B), &[]),
        policy: svc.policy.clone(),
    };
    let p = pending(&svc_b, "dr.smith@healthystellar.com").await;
    let code = enrollment.code_at(at + 30).unwrap();
    auth::submit_code(&svc_b, &client(), &p, &code)
        .await
        .expect("the rotated TOTP secret opens with key B alone");

    let audit = rotation_audit(&mut admin).await;
    let phases: Vec<&str> = audit.iter().map(|(p, ..)| p.as_str()).collect();
    assert_eq!(phases.first(), Some(&"started"));
    assert_eq!(phases.last(), Some(&"finished"));
    assert!(phases.contains(&"batch"));
    let (_, outcome, finished) = audit.last().unwrap();
    assert_eq!(outcome, "success");
    assert_eq!(finished["rows"], 14);
    assert_eq!(finished["key_id"], id_of(B).to_string());
    let batch_rows: u64 = audit
        .iter()
        .filter(|(p, ..)| p == "batch")
        .map(|(_, _, d)| d["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(
        batch_rows, 14,
        "each batch is audited in its own transaction"
    );
    for (_, _, details) in &audit {
        let text = details.to_string();
        assert!(
            !text.contains(KEY_B) && !text.contains(TEST_ENCRYPTION_KEY),
            "no key material in the audit log: {text}"
        );
    }

    // Again: nothing left, nothing touched.
    let out = run(rotate_command(&home, &tdb, TEST_ENCRYPTION_KEY));
    out.success();
    assert!(
        out.stdout.starts_with(&format!(
            "nothing to rotate: every encrypted value is already under key {}",
            id_of(B)
        )),
        "{}",
        out.stdout
    );
    assert_eq!(sealed_values(&mut admin).await, after, "nothing re-sealed");
    let audit = rotation_audit(&mut admin).await;
    let (_, _, last) = audit.last().unwrap();
    assert_eq!(
        (last["phase"].as_str(), last["rows"].as_u64()),
        (Some("finished"), Some(0))
    );
}

#[tokio::test]
async fn an_interrupted_rotation_resumes_without_sealing_anything_twice() {
    let (tdb, svc) = TestDb::seeded().await;
    let mut admin = tdb.admin().await;
    let before = sealed_values(&mut admin).await;

    // Two batches of two rows, then stop as Ctrl-C would.
    let options = RotateOptions {
        batch_size: 2,
        stop_after_batches: Some(2),
    };
    let first = keys::rotate(
        &svc.db,
        &rotating_ring(),
        &Client::command_line(),
        &options,
        &AtomicBool::new(false),
        &mut (),
    )
    .await
    .unwrap();
    assert!(first.stopped);
    assert_eq!((first.rotated, first.remaining), (4, 8));
    let halfway = sealed_values(&mut admin).await;
    let rotated_rows: BTreeSet<Uuid> = halfway
        .iter()
        .filter(|s| s.key() == id_of(B))
        .map(|s| s.id)
        .collect();
    // The rows of medical_records with the four smallest ids, each wholly rotated.
    let ids = medical_record_ids(&mut admin).await;
    assert_eq!(rotated_rows, ids[..4].iter().copied().collect());
    assert!(
        halfway
            .iter()
            .all(|s| (s.key() == id_of(B)) == rotated_rows.contains(&s.id))
    );
    let audit = rotation_audit(&mut admin).await;
    let phases: Vec<&str> = audit.iter().map(|(p, ..)| p.as_str()).collect();
    assert_eq!(phases, ["started", "batch", "batch", "interrupted"]);
    assert_eq!(audit[3].2["remaining"], 8);

    // A second run, from the command line, finishes the rest and leaves the first four as they were.
    let home = Home::new();
    let out = run(rotate_command(&home, &tdb, TEST_ENCRYPTION_KEY));
    out.success();
    assert!(
        out.stdout.contains("re-encrypted 8 row(s)"),
        "{}",
        out.stdout
    );
    let after = sealed_values(&mut admin).await;
    let only_b = Keyring::new(&key(B), &[]);
    let only_a = Keyring::new(&key(A), &[]);
    for ((old, mid), new) in before.iter().zip(&halfway).zip(&after) {
        assert_eq!(new.key(), id_of(B));
        if rotated_rows.contains(&new.id) {
            assert_eq!(mid.value, new.value, "sealed once, not again");
        }
        assert_eq!(
            *only_a.open(&old.aad(), &old.value).unwrap(),
            *only_b.open(&new.aad(), &new.value).unwrap()
        );
    }
}
