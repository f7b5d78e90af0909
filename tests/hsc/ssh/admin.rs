//! An admin over SSH deactivates a nurse who is signed in over SSH too: her console is signed out
//! within the 30 seconds of its session check, and the trail says who did it, from where.

use std::time::{Duration, Instant};

use super::{Remote, Served, eventually, newest_session};
use crate::harness::TestDb;

#[tokio::test]
async fn deactivating_a_user_from_the_admin_tab_ends_their_console_within_30_seconds() {
    let (tdb, _svc) = TestDb::seeded().await;
    let served = Served::start(&tdb, &[], &[]);
    let mut nurse = Remote::open(&served).await;
    nurse.sign_in("nurse.williams@healthystellar.com").await;
    nurse.wait_for("[1 Records]").await;

    let mut admin = Remote::open(&served).await;
    admin.sign_in("admin@healthystellar.com").await;
    admin.wait_for("Account").await;
    admin.send("4").await;
    admin.wait_for("[Users]").await;
    admin.wait_for("nurse.williams").await;
    admin.send("/").await;
    admin.send("williams").await;
    admin.wait_for("page 1 · 1 shown").await;
    admin.send("\r").await;
    admin.pump(Duration::from_millis(300)).await;
    admin.send("d").await;
    admin.wait_for("Deactivate Emily Williams").await;
    admin.send("\x1b[C").await;
    admin.pump(Duration::from_millis(100)).await;
    admin.send("\r").await;
    let deactivated = Instant::now();
    admin.wait_for("Deactivated Emily Williams").await;

    // The nurse's console notices at its next session check and signs her out.
    let deadline = deactivated + Duration::from_secs(35);
    while !nurse.text().contains("Email:") {
        assert!(
            Instant::now() < deadline,
            "still signed in:\n{}",
            nurse.text()
        );
        nurse.pump(Duration::from_millis(200)).await;
    }
    assert!(
        deactivated.elapsed() <= Duration::from_secs(32),
        "{:?}",
        deactivated.elapsed()
    );

    let mut db = tdb.admin().await;
    let session = newest_session(&mut db, "nurse.williams@healthystellar.com").await;
    eventually(
        &mut db,
        "SELECT revoked_reason FROM sessions WHERE id = $1 AND NOT is_active",
        session,
        "user deactivated",
    )
    .await;
    let admin_session = newest_session(&mut db, "admin@healthystellar.com").await;
    eventually(
        &mut db,
        "SELECT ip_address FROM audit_logs WHERE session_id = $1 AND action = 'USER_UPDATED'",
        admin_session,
        "127.0.0.1",
    )
    .await;
}
