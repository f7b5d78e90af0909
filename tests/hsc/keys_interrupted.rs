//! `hsc keys rotate` when things get in its way: a row being edited, a value under a key nobody
//! configured, Ctrl-C, pending migrations and production without a key.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::atomic::AtomicBool;

use hsc::crypto::{Aad, Keyring};
use hsc::services::audit::Client;
use hsc::services::keys::{self, RotateOptions, RotationError};
use hsc::services::seed;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::harness::{Home, TEST_ENCRYPTION_KEY, TestDb, run};
use crate::keys::*;

#[tokio::test]
async fn a_row_being_edited_is_skipped_not_waited_for_and_taken_by_a_later_pass() {
    let (tdb, svc) = TestDb::seeded().await;
    let mut admin = tdb.admin().await;
    let ids = medical_record_ids(&mut admin).await;
    let busy = ids[3];
    // A console user's edit holds the row.
    let mut editor = tdb.admin().await;
    sqlx::query("BEGIN").execute(&mut editor).await.unwrap();
    sqlx::query("SELECT 1 FROM medical_records WHERE id = $1 FOR UPDATE")
        .bind(busy)
        .execute(&mut editor)
        .await
        .unwrap();

    let ring = rotating_ring();
    let stop = AtomicBool::new(false);
    let (cli, options, mut quiet) = (Client::command_line(), RotateOptions::default(), ());
    let rotation = keys::rotate(&svc.db, &ring, &cli, &options, &stop, &mut quiet);
    let edit = async {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let mut look = tdb.admin().await;
        let values = sealed_values(&mut look).await;
        let waiting: BTreeSet<Uuid> = values
            .iter()
            .filter(|s| s.key() != id_of(B))
            .map(|s| s.id)
            .collect();
        sqlx::query("COMMIT").execute(&mut editor).await.unwrap();
        waiting
    };
    let (rotation, waiting) = tokio::join!(rotation, edit);
    assert_eq!(
        waiting,
        BTreeSet::from([busy]),
        "everything but the held row was rotated while it was held"
    );
    let rotation = rotation.unwrap();
    assert_eq!((rotation.rotated, rotation.stopped), (12, false));
    assert!(
        sealed_values(&mut admin)
            .await
            .iter()
            .all(|s| s.key() == id_of(B))
    );
}

#[tokio::test]
async fn a_value_under_an_unknown_key_stops_the_run_naming_the_table_and_row() {
    let (tdb, svc) = TestDb::seeded().await;
    let mut admin = tdb.admin().await;
    let ids = medical_record_ids(&mut admin).await;
    let bad = ids[2];
    let stranger = Keyring::new(&key(C), &[]);
    let sealed = stranger
        .seal(
            &Aad {
                table: "medical_records",
                column: "description",
                row_id: bad,
                version: 1,
            },
            b"written under a key nobody configured",
        )
        .unwrap();
    sqlx::query("UPDATE medical_records SET description = $2 WHERE id = $1")
        .bind(bad)
        .bind(sealed)
        .execute(&mut admin)
        .await
        .unwrap();
    let before = sealed_values(&mut admin).await;

    let options = RotateOptions {
        batch_size: 2,
        stop_after_batches: None,
    };
    let err = keys::rotate(
        &svc.db,
        &rotating_ring(),
        &Client::command_line(),
        &options,
        &AtomicBool::new(false),
        &mut (),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, RotationError::Unreadable { table: "medical_records", row_id, .. } if row_id == bad),
        "{err:?}"
    );
    let sentence = err.to_string();
    assert!(
        sentence.starts_with(&format!(
            "medical_records row {bad} could not be decrypted (description): the data was encrypted with key {}, \
             which is neither ENCRYPTION_KEY nor one of ENCRYPTION_OLD_KEYS",
            id_of(C)
        )),
        "{sentence}"
    );
    for text in seed::record_texts() {
        assert!(!sentence.contains(text));
    }

    // The batch before it committed; its own batch (ids 2 and 3) and everything after are untouched.
    let after = sealed_values(&mut admin).await;
    for (old, new) in before.iter().zip(&after) {
        let rotated = old.table == "medical_records" && ids[..2].contains(&old.id);
        assert_eq!(
            new.key() == id_of(B),
            rotated,
            "{} {} {}",
            new.table,
            new.column,
            new.id
        );
        if !rotated {
            assert_eq!(old.value, new.value);
        }
    }
    let audit = rotation_audit(&mut admin).await;
    let (phase, outcome, details) = audit.last().unwrap();
    assert_eq!((phase.as_str(), outcome.as_str()), ("failed", "failed"));
    assert_eq!(details["row_id"], bad.to_string());
    assert_eq!(details["table"], "medical_records");

    // The command says the same in one sentence; with key C among the old keys it finishes.
    let home = Home::new();
    let out = run(rotate_command(&home, &tdb, TEST_ENCRYPTION_KEY));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_eq!(last_line(&out), format!("hsc: {sentence}"));
    assert!(!out.stderr.contains("panicked"));
    let out = run(rotate_command(
        &home,
        &tdb,
        &format!("{TEST_ENCRYPTION_KEY},{KEY_C}"),
    ));
    out.success();
    assert_eq!(
        key_ids_by_sql(&mut admin).await,
        BTreeSet::from([id_of(B).0.to_vec()])
    );
}

/// Records sealed under key A, enough that a one-row-per-batch run takes a while.
async fn add_records(admin: &mut PgConnection, count: usize) {
    let ring = Keyring::new(&key(A), &[]);
    let (patient, provider): (Uuid, Uuid) =
        sqlx::query_as("SELECT patient_id, provider_id FROM medical_records LIMIT 1")
            .fetch_one(&mut *admin)
            .await
            .unwrap();
    let mut columns: BTreeMap<&str, Vec<Vec<u8>>> = BTreeMap::new();
    let ids: Vec<Uuid> = (0..count).map(|_| Uuid::new_v4()).collect();
    for id in &ids {
        for column in ["title", "description", "metadata"] {
            let aad = Aad {
                table: "medical_records",
                column,
                row_id: *id,
                version: 1,
            };
            columns
                .entry(column)
                .or_default()
                .push(ring.seal(&aad, b"generated").unwrap());
        }
    }
    sqlx::query(
        "INSERT INTO medical_records (id, patient_id, provider_id, created_by, updated_by, record_type, title, \
         description, metadata, record_date) \
         SELECT u.id, $5, $6, $6, $6, 'other', u.t, u.d, u.m, date '2024-03-01' \
         FROM unnest($1::uuid[], $2::bytea[], $3::bytea[], $4::bytea[]) AS u(id, t, d, m)",
    )
    .bind(&ids)
    .bind(&columns["title"])
    .bind(&columns["description"])
    .bind(&columns["metadata"])
    .bind(patient)
    .bind(provider)
    .execute(&mut *admin)
    .await
    .unwrap();
}

#[tokio::test]
async fn ctrl_c_stops_after_the_current_batch_and_the_next_run_resumes() {
    let (tdb, _svc) = TestDb::seeded().await;
    let mut admin = tdb.admin().await;
    add_records(&mut admin, 3000).await;
    let home = Home::new();
    let mut c = home.hsc(&["keys", "rotate", "--batch-size", "1"]);
    c.env("DATABASE_URL", tdb.url())
        .env("ENCRYPTION_KEY", KEY_B)
        .env("ENCRYPTION_OLD_KEYS", TEST_ENCRYPTION_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert_ne!(
            stderr.read_line(&mut line).unwrap(),
            0,
            "ended early:\n{seen}"
        );
        seen.push_str(&line);
        // Printed once the run has started (and Ctrl-C is being watched).
        if line.contains("row(s) under older keys") {
            break;
        }
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    seen.push_str(&rest);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{seen}");
    let last = seen.lines().last().unwrap();
    assert!(
        last.starts_with("hsc: interrupted after re-encrypting ")
            && last.ends_with(
                "row(s) are still under older keys, and running `hsc keys rotate` again resumes where this run stopped"
            ),
        "{seen}"
    );
    assert!(seen.contains("stopping after the current batch"), "{seen}");

    let audit = rotation_audit(&mut admin).await;
    let (phase, _, details) = audit.last().unwrap();
    assert_eq!(phase, "interrupted", "{audit:?}");
    let remaining = details["remaining"].as_u64().unwrap();
    assert!(remaining > 0, "stopped before the end: {details}");
    assert!(
        last.contains(&format!("; {remaining} row(s) are still under older keys")),
        "{last}"
    );
    let still_a: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM medical_records WHERE substring(title from 2 for 4) <> $1",
    )
    .bind(&id_of(B).0[..])
    .fetch_one(&mut admin)
    .await
    .unwrap();
    // Record versions of the seed are still to come as well.
    assert_eq!(u64::try_from(still_a).unwrap() + 6, remaining);

    let out = run(rotate_command(&home, &tdb, TEST_ENCRYPTION_KEY));
    out.success();
    assert!(
        out.stdout
            .contains(&format!("re-encrypted {remaining} row(s)")),
        "{}",
        out.stdout
    );
    let only_b = Keyring::new(&key(B), &[]);
    for s in sealed_values(&mut admin).await {
        only_b.open(&s.aad(), &s.value).unwrap();
    }
}

#[tokio::test]
async fn rotation_refuses_pending_migrations_and_needs_the_key_in_production() {
    let home = Home::new();
    let empty = TestDb::empty().await;
    let line = run(rotate_command(&home, &empty, TEST_ENCRYPTION_KEY)).one_sentence_failure();
    assert!(
        line.starts_with("hsc: ") && line.ends_with("pending: run `hsc migrate run`"),
        "{line}"
    );

    let tdb = TestDb::migrated().await;
    let mut c = home.hsc(&["keys", "rotate"]);
    c.env("DATABASE_URL", tdb.url())
        .env("APP_ENV", "production");
    let line = run(c).one_sentence_failure();
    assert!(
        line.starts_with(
            "hsc: ENCRYPTION_KEY is not set, and production refuses to start without it"
        ),
        "{line}"
    );

    // Rotation is a production task: with its keys configured it runs there.
    let mut c = rotate_command(&home, &tdb, TEST_ENCRYPTION_KEY);
    c.env("APP_ENV", "production")
        .env("AUDIT_HMAC_KEY", "cd".repeat(32));
    let out = run(c);
    out.success();
    assert!(
        out.stdout.starts_with("nothing to rotate"),
        "{}",
        out.stdout
    );

    let mut c = home.hsc(&["keys", "rotate", "--batch-size", "0"]);
    c.env("DATABASE_URL", tdb.url());
    assert_eq!(run(c).code, Some(2));
}
