//! The hash chain: concurrent writers still make one gapless, unforked chain, and verification names
//! the first row that was changed, removed, inserted, reordered or cut off the end — by the library
//! and by `hsc audit verify`, over the whole chain or a range of it, and only with the right key.

use chrono::{Duration, Utc};
use hsc::crypto::AuditKey;
use hsc::services::audit::chain::GENESIS;
use hsc::services::audit::verify::{
    self, Bound, ChangedBy, Checkpoint, InsertedBy, Problem, Range, VerifyError, Witness,
};
use serde_json::Value;
use zeroize::Zeroizing;

use super::{assert_binary_names, chain_of, hsc, tamper, verify_all, verify_with, write_events};
use crate::harness::{Home, TestDb};

fn range(from: Option<Bound>, to: Option<Bound>) -> Range {
    Range { from, to }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_make_one_gapless_chain_without_a_fork() {
    let tdb = TestDb::migrated().await;
    let db = tdb.database().await;
    let writers: Vec<_> = (0..16)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { write_events(&db, 50).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    db.seal_audit_now().await.unwrap();

    let mut admin = tdb.admin().await;
    let rows: Vec<(i64, Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT seq, prev_hash, hash FROM audit_logs ORDER BY seq")
            .fetch_all(&mut admin)
            .await
            .unwrap();
    let seqs: Vec<i64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(seqs, (1..=800).collect::<Vec<i64>>(), "gapless, no doubles");
    assert_eq!(rows[0].1, GENESIS);
    for pair in rows.windows(2) {
        assert_eq!(pair[1].1, pair[0].2, "seq {} forks", pair[1].0);
    }
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_queue")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(queued, 0, "every committed row was sealed");

    let report = verify_all(&db).await;
    assert_eq!(report.problem, None);
    assert_eq!((report.from, report.to, report.rows), (1, 800, 800));
    db.close().await;
}

#[tokio::test]
async fn an_intact_chain_verifies_and_every_run_is_audited() {
    let (tdb, db) = chain_of(5).await;
    let home = Home::new();
    let ran = hsc(&home, &tdb, &["audit", "verify"]);
    ran.success();
    assert_eq!(ran.stdout.trim(), "audit chain intact: 5 rows, seq 1–5");
    assert_eq!(ran.stderr, "", "no progress bar off a terminal");

    // The binary's own AUDIT_VERIFY row is now seq 6, and the library sees it too.
    let report = verify_all(&db).await;
    assert!(report.intact());
    assert_eq!((report.from, report.to, report.rows), (1, 6, 6));

    let mut admin = tdb.admin().await;
    let audited: Vec<(Option<uuid::Uuid>, String, String, Value)> = sqlx::query_as(
        "SELECT user_id, user_agent, outcome::text, details FROM audit_logs \
         WHERE action = 'AUDIT_VERIFY' ORDER BY seq",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(audited.len(), 2, "one row per run");
    let (user, agent, outcome, details) = &audited[1];
    assert_eq!(*user, None);
    assert!(agent.starts_with("hsc-cli/"), "{agent}");
    assert_eq!(outcome, "success");
    assert_eq!(
        *details,
        serde_json::json!({"from": 1, "to": 6, "rows": 6, "intact": true, "first_bad_seq": null,
                           "problem": null, "checkpoint_seq": null})
    );
    db.close().await;
}

#[tokio::test]
async fn a_changed_row_is_named_as_changed() {
    let (tdb, db) = chain_of(20).await;
    tamper(
        &mut tdb.admin().await,
        &["UPDATE audit_logs SET details = '{\"attempt\": 999}' WHERE seq = 7"],
    )
    .await;
    let report = verify_all(&db).await;
    let Some(Problem::Changed { row, by }) = &report.problem else {
        panic!("{:?}", report.problem);
    };
    assert_eq!(
        (row.seq, *by, row.action.as_str()),
        (7, ChangedBy::Contents, "LOGIN_FAILED")
    );
    assert_eq!(report.rows, 6, "the rows before it were verified");
    let sentence = report.problem.as_ref().unwrap().to_string();
    assert!(!sentence.contains("999"), "no row contents: {sentence}");
    assert!(sentence.contains(&row.id.to_string()), "{sentence}");

    let ran = hsc(&Home::new(), &tdb, &["audit", "verify"]);
    assert_binary_names(&ran, 7, "changed");
    assert_eq!(ran.stdout, "");

    // The run is audited as a failure naming the row, not what it says.
    let details: Value = sqlx::query_scalar(
        "SELECT details FROM audit_logs WHERE action = 'AUDIT_VERIFY' ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&mut tdb.admin().await)
    .await
    .unwrap();
    assert_eq!(details["intact"], false);
    assert_eq!(details["first_bad_seq"], 7);
    assert_eq!(details["problem"], "changed");
    db.close().await;
}

#[tokio::test]
async fn removed_rows_are_named_with_the_seqs_that_are_missing() {
    let (tdb, db) = chain_of(20).await;
    tamper(
        &mut tdb.admin().await,
        &["DELETE FROM audit_logs WHERE seq BETWEEN 7 AND 9"],
    )
    .await;
    let report = verify_all(&db).await;
    let Some(Problem::Removed { missing, row }) = &report.problem else {
        panic!("{:?}", report.problem);
    };
    assert_eq!(*missing, Some((7, 9)));
    assert_eq!(row.as_ref().map(|r| r.seq), Some(10));
    assert_binary_names(&hsc(&Home::new(), &tdb, &["audit", "verify"]), 7, "removed");
    db.close().await;

    // The first row, and a removal whose gap was closed by renumbering the rest.
    let (tdb, db) = chain_of(20).await;
    tamper(
        &mut tdb.admin().await,
        &["DELETE FROM audit_logs WHERE seq = 1"],
    )
    .await;
    let problem = verify_all(&db).await.problem.unwrap();
    assert_eq!((problem.kind(), problem.seq()), ("removed", 1));
    db.close().await;

    let (tdb, db) = chain_of(20).await;
    tamper(
        &mut tdb.admin().await,
        &[
            "DELETE FROM audit_logs WHERE seq = 12",
            "UPDATE audit_logs SET seq = seq - 1 WHERE seq > 12",
            "UPDATE audit_chain SET seq = seq - 1",
        ],
    )
    .await;
    let problem = verify_all(&db).await.problem.unwrap();
    assert!(
        matches!(&problem, Problem::Removed { missing: None, row: Some(r) } if r.seq == 12),
        "{problem:?}"
    );
    assert!(problem.to_string().contains("closed up"), "{problem}");
    db.close().await;
}

/// A forged copy of row `seq` (another id and action, a millisecond later or earlier): someone
/// without the key can copy the links but cannot sign it.
fn forge(seq: i64, shift: &str) -> String {
    format!(
        "INSERT INTO audit_logs (seq, id, occurred_at, xact, user_id, session_id, action, severity, \
         resource_type, resource_id, patient_id, ip_address, user_agent, outcome, details, prev_hash, hash) \
         SELECT seq, gen_random_uuid(), occurred_at {shift} interval '1 millisecond', xact, user_id, \
         session_id, 'LOGIN', severity, resource_type, resource_id, patient_id, ip_address, user_agent, \
         outcome, details, prev_hash, sha256(hash) FROM audit_logs WHERE seq = {seq}"
    )
}

#[tokio::test]
async fn an_inserted_row_is_named_whether_its_seq_is_doubled_or_the_rest_renumbered() {
    // The forgery sorts after the genuine row, then before it.
    for shift in ["+", "-"] {
        let (tdb, db) = chain_of(20).await;
        tamper(&mut tdb.admin().await, &[&forge(7, shift)]).await;
        let report = verify_all(&db).await;
        let Some(Problem::Inserted { row, by }) = &report.problem else {
            panic!("{shift}: {:?}", report.problem);
        };
        assert_eq!(
            (row.seq, *by, row.action.as_str()),
            (7, InsertedBy::DuplicateSeq, "LOGIN")
        );
        assert_binary_names(
            &hsc(&Home::new(), &tdb, &["audit", "verify"]),
            7,
            "inserted",
        );
        db.close().await;
    }

    // Room made at seq 7 by renumbering everything after, and the forgery put there.
    let (tdb, db) = chain_of(20).await;
    tamper(
        &mut tdb.admin().await,
        &[
            "UPDATE audit_logs SET seq = seq + 1 WHERE seq >= 7",
            &forge(8, "+").replace("SELECT seq,", "SELECT 7,"),
            "UPDATE audit_chain SET seq = seq + 1",
        ],
    )
    .await;
    let report = verify_all(&db).await;
    let Some(Problem::Inserted { row, by }) = &report.problem else {
        panic!("{:?}", report.problem);
    };
    assert_eq!((row.seq, *by), (7, InsertedBy::Unlinked));
    assert_binary_names(
        &hsc(&Home::new(), &tdb, &["audit", "verify"]),
        7,
        "inserted",
    );
    db.close().await;

    // A forgery appended after the head.
    let (tdb, db) = chain_of(20).await;
    tamper(
        &mut tdb.admin().await,
        &[&forge(20, "+").replace("SELECT seq,", "SELECT 21,")],
    )
    .await;
    let problem = verify_all(&db).await.problem.unwrap();
    assert_eq!((problem.kind(), problem.seq()), ("inserted", 21));
    db.close().await;
}

#[tokio::test]
async fn swapped_rows_are_named_as_reordered() {
    let (tdb, db) = chain_of(20).await;
    tamper(
        &mut tdb.admin().await,
        &["UPDATE audit_logs SET seq = CASE seq WHEN 7 THEN 8 ELSE 7 END WHERE seq IN (7, 8)"],
    )
    .await;
    let report = verify_all(&db).await;
    let Some(Problem::Reordered { row, links_to }) = &report.problem else {
        panic!("{:?}", report.problem);
    };
    assert_eq!((row.seq, *links_to), (7, 8));
    assert_binary_names(
        &hsc(&Home::new(), &tdb, &["audit", "verify"]),
        7,
        "reordered",
    );
    db.close().await;
}

#[tokio::test]
async fn a_truncated_tail_is_caught_by_the_chain_head() {
    let (tdb, db) = chain_of(20).await;
    tamper(
        &mut tdb.admin().await,
        &["DELETE FROM audit_logs WHERE seq > 17"],
    )
    .await;
    // The binary first: every run appends its own row, which would then follow the gap.
    assert_binary_names(
        &hsc(&Home::new(), &tdb, &["audit", "verify"]),
        18,
        "truncated",
    );
    db.close().await;

    let (tdb, db) = chain_of(20).await;
    tamper(
        &mut tdb.admin().await,
        &["DELETE FROM audit_logs WHERE seq > 17"],
    )
    .await;
    let report = verify_all(&db).await;
    assert_eq!(
        report.problem,
        Some(Problem::Truncated {
            last: 17,
            expected: 20,
            witness: Witness::Head
        })
    );
    assert_eq!(report.rows, 17);
    // Later runs see the rows sealed after the gap, so the same loss reads as a removal.
    let problem = verify_all(&db).await.problem.unwrap();
    assert!(
        matches!(
            &problem,
            Problem::Removed {
                missing: Some((18, 20)),
                ..
            }
        ),
        "{problem:?}"
    );
    db.close().await;
}

#[tokio::test]
async fn a_checkpoint_catches_a_tail_removed_with_the_head_moved_back() {
    let (tdb, db) = chain_of(20).await;
    let home = Home::new();
    let ran = hsc(&home, &tdb, &["audit", "checkpoint"]);
    ran.success();
    let line = ran
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("--checkpoint "))
        .unwrap_or_else(|| panic!("no --checkpoint line in:\n{}", ran.stdout))
        .to_string();
    let checkpoint: Checkpoint = line.parse().unwrap();
    assert_eq!(checkpoint.seq, 20);
    assert!(ran.stdout.contains("off this machine"), "{}", ran.stdout);
    assert_eq!(
        verify::checkpoint(&db).await.unwrap().checkpoint(),
        checkpoint
    );

    tamper(
        &mut tdb.admin().await,
        &[
            "DELETE FROM audit_logs WHERE seq > 15",
            "UPDATE audit_chain SET (seq, hash, occurred_at) = \
             (SELECT seq, hash, occurred_at FROM audit_logs WHERE seq = 15)",
        ],
    )
    .await;
    let ran = hsc(&home, &tdb, &["audit", "verify", "--checkpoint", &line]);
    assert_binary_names(&ran, 16, "truncated");
    assert!(ran.stderr.contains("checkpoint"), "{}", ran.stderr);

    // Without the checkpoint the shortened chain is consistent (the binary's row is now seq 16);
    // with it, once the chain grows past seq 20 again, its row 20 is not the one recorded.
    assert!(verify_all(&db).await.intact());
    write_events(&db, 5).await;
    let report = verify_with(&db, Range::default(), Some(&checkpoint)).await;
    let Some(Problem::Changed { row, by }) = &report.problem else {
        panic!("{:?}", report.problem);
    };
    assert_eq!((row.seq, *by), (20, ChangedBy::Checkpoint));
    db.close().await;
}

#[tokio::test]
async fn a_range_checks_its_rows_and_the_row_before_it() {
    let (tdb, db) = chain_of(40).await;
    tamper(
        &mut tdb.admin().await,
        &["UPDATE audit_logs SET action = 'LOGIN' WHERE seq = 25"],
    )
    .await;
    let seq = |n| Some(Bound::Seq(n));
    let intact = verify_with(&db, range(seq(1), seq(20)), None).await;
    assert_eq!(
        (intact.problem, intact.from, intact.to, intact.rows),
        (None, 1, 20, 20)
    );
    let intact = verify_with(&db, range(seq(27), seq(40)), None).await;
    assert_eq!((intact.problem, intact.rows), (None, 14));
    for (from, to) in [(20, 30), (26, 40), (25, 25)] {
        // From 26 on, row 25 is the anchor whose own signature is checked.
        let problem = verify_with(&db, range(seq(from), seq(to)), None)
            .await
            .problem
            .unwrap();
        assert_eq!(
            (problem.kind(), problem.seq()),
            ("changed", 25),
            "{from}..{to}"
        );
    }
    let today = Utc::now().date_naive();
    let problem = verify_with(
        &db,
        range(Some(Bound::Date(today)), Some(Bound::Date(today))),
        None,
    )
    .await
    .problem
    .unwrap();
    assert_eq!(problem.seq(), 25);

    let home = Home::new();
    let ran = hsc(
        &home,
        &tdb,
        &["audit", "verify", "--from", "1", "--to", "20"],
    );
    ran.success();
    assert_eq!(ran.stdout.trim(), "audit chain intact: 20 rows, seq 1–20");
    let day = today.to_string();
    assert_binary_names(
        &hsc(
            &home,
            &tdb,
            &["audit", "verify", "--from", &day, "--to", "30"],
        ),
        25,
        "changed",
    );
    db.close().await;
}

#[tokio::test]
async fn bad_ranges_and_checkpoints_are_refused_naming_the_option() {
    let (tdb, db) = chain_of(3).await;
    let refused = |result: Result<verify::Report, VerifyError>| match result {
        Err(VerifyError::Range(sentence)) => sentence,
        other => panic!("{other:?}"),
    };
    let key = crate::harness::test_audit_key();
    let future = Utc::now() + Duration::hours(1);
    let yesterday = Utc::now().date_naive().pred_opt().unwrap();
    for (range, option) in [
        (range(Some(Bound::Seq(9)), None), "--from"),
        (range(Some(Bound::Time(future)), None), "--from"),
        (range(None, Some(Bound::Date(yesterday))), "--to"),
        (range(Some(Bound::Seq(3)), Some(Bound::Seq(2))), "--from"),
    ] {
        let sentence = refused(verify::verify(&db, &key, &range, None, &mut ()).await);
        assert!(sentence.contains(option), "{sentence}");
    }

    let home = Home::new();
    for args in [
        &["audit", "verify", "--from", "soon"][..],
        &["audit", "verify", "--to", "0"],
        &["audit", "verify", "--checkpoint", "20"],
        &["audit", "verify", "--checkpoint", "20:abcd"],
    ] {
        let ran = hsc(&home, &tdb, args);
        assert_eq!(ran.code, Some(2), "{args:?}: {}", ran.stderr);
        assert!(ran.stderr.contains(args[2]), "{args:?}: {}", ran.stderr);
    }
    let ran = hsc(&home, &tdb, &["audit", "verify", "--from", "99"]);
    let line = ran.one_sentence_failure();
    assert!(
        line.contains("--from 99") && line.contains("past the end"),
        "{line}"
    );
    db.close().await;
}

#[tokio::test]
async fn another_key_finds_the_first_row_changed() {
    let (tdb, db) = chain_of(4).await;
    let other = AuditKey(Zeroizing::new([1u8; 32]));
    let report = verify::verify(&db, &other, &Range::default(), None, &mut ())
        .await
        .unwrap();
    let Some(Problem::Changed { row, by }) = &report.problem else {
        panic!("{:?}", report.problem);
    };
    assert_eq!((row.seq, *by, report.rows), (1, ChangedBy::Contents, 0));

    let home = Home::new();
    let mut cmd = home.hsc(&["audit", "verify"]);
    cmd.env("DATABASE_URL", tdb.url())
        .env("ENCRYPTION_KEY", crate::harness::TEST_ENCRYPTION_KEY)
        .env("AUDIT_HMAC_KEY", "01".repeat(32));
    assert_binary_names(&crate::harness::run(cmd), 1, "changed");
    db.close().await;
}
