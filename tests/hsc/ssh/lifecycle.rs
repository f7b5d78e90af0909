//! A server's life: many consoles side by side, one that panics, a flood from one address, the
//! host key kept across restarts, and SIGTERM signing everyone out on the record.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use super::{Remote, Served, connect, eventually, newest_session};
use crate::harness::TestDb;

#[tokio::test]
async fn sigterm_signs_every_console_out_on_the_record() {
    let (tdb, _svc) = TestDb::seeded().await;
    let mut served = Served::start(&tdb, &[], &[]);
    let mut smith = Remote::open(&served).await;
    let mut williams = Remote::open(&served).await;
    smith.sign_in("dr.smith@healthystellar.com").await;
    williams.sign_in("nurse.williams@healthystellar.com").await;
    smith.wait_for("[1 Records]").await;
    williams.wait_for("[1 Records]").await;

    assert_eq!(served.terminate(), Some(0));
    for remote in [&mut smith, &mut williams] {
        assert_eq!(remote.finish().await, Some(0));
        assert!(
            remote.text().contains("the server is shutting down"),
            "{}",
            remote.text()
        );
    }
    let mut db = tdb.admin().await;
    for email in [
        "dr.smith@healthystellar.com",
        "nurse.williams@healthystellar.com",
    ] {
        let session = newest_session(&mut db, email).await;
        eventually(
            &mut db,
            "SELECT revoked_reason FROM sessions WHERE id = $1 AND NOT is_active",
            session,
            "terminated",
        )
        .await;
        eventually(
            &mut db,
            "SELECT details->>'reason' FROM audit_logs WHERE session_id = $1 AND action = 'LOGOUT'",
            session,
            "terminated",
        )
        .await;
    }
}

#[tokio::test]
async fn a_panic_in_one_console_leaves_the_others_working() {
    let (tdb, _svc) = TestDb::seeded().await;
    let served = Served::start(
        &tdb,
        &[],
        &[("HSC_FAULT", "panic-on-f12,panic-in-update-on-f11")],
    );
    let mut smith = Remote::open(&served).await;
    let mut williams = Remote::open(&served).await;
    let mut brown = Remote::open(&served).await;
    smith.sign_in("dr.smith@healthystellar.com").await;
    williams.sign_in("nurse.williams@healthystellar.com").await;
    brown.sign_in("nurse.brown@healthystellar.com").await;
    smith.wait_for("Annual Physical Examination").await;
    williams.wait_for("[1 Records]").await;
    brown.wait_for("[1 Records]").await;

    // A bug in the console's update: that console closes, its session signed out on the record.
    brown.send("\x1b[23~").await;
    assert_eq!(brown.finish().await, Some(1));
    assert!(
        brown.text().contains("you are signed out"),
        "{}",
        brown.text()
    );
    let mut db = tdb.admin().await;
    let session = newest_session(&mut db, "nurse.brown@healthystellar.com").await;
    eventually(
        &mut db,
        "SELECT details->>'reason' FROM audit_logs WHERE session_id = $1 AND action = 'LOGOUT'",
        session,
        "internal error",
    )
    .await;

    // A panic anywhere else in a console's task: the task ends, the client is told.

    williams.send("\x1b[24~").await;
    assert_eq!(williams.finish().await, Some(70));
    assert!(
        williams
            .stderr
            .contains("the console failed and was closed"),
        "{}",
        williams.stderr
    );
    assert!(
        !williams.stderr.contains("fault injected"),
        "{}",
        williams.stderr
    );

    // Dr Smith carries on, and new connections are still served.
    smith.send("\r").await;
    smith.wait_for("Description").await;
    let mut third = Remote::open(&served).await;
    third.wait_for("Email:").await;
    smith.send("\x1b").await;
    // Esc and q typed together would read as Alt-q, as in any terminal.
    smith.pump(Duration::from_millis(300)).await;
    smith.send("q").await;
    assert_eq!(smith.finish().await, Some(0));
}

#[tokio::test]
async fn a_flood_from_one_address_is_cut_off_before_ssh_starts() {
    let (tdb, _svc) = TestDb::seeded().await;
    let served = Served::start(&tdb, &["--per-minute", "3"], &[]);
    let mut kept = Vec::new();
    for _ in 0..3 {
        kept.push(connect(&served, None).await.expect("within the limit"));
    }
    let refused = tokio::time::timeout(Duration::from_secs(10), connect(&served, None))
        .await
        .expect("refused at once, not left hanging");
    assert!(
        refused.is_err(),
        "the fourth connection in a minute is refused"
    );
}

#[tokio::test]
async fn the_host_key_is_made_once_private_and_kept_across_restarts() {
    let (tdb, _svc) = TestDb::seeded().await;
    let mut served = Served::start(&tdb, &[], &[]);
    let key = served.home.path().join("host_key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let first = served.fingerprint.clone();
    // The client accepted exactly the fingerprint printed.
    connect(&served, None).await.unwrap();
    assert_eq!(served.terminate(), Some(0));
    let home = std::mem::replace(&mut served.home, crate::harness::Home::new());
    drop(served);
    let again = Served::start_in(home, &tdb, &[], &[]);
    assert!(again.lines[0].contains("(existing)"), "{:?}", again.lines);
    assert_eq!(again.fingerprint, first);
    connect(&again, None).await.unwrap();
}
