//! End to end: an admin's real `hsc` console on the Audit tab, in a pseudo-terminal, while a
//! physician works elsewhere. The physician's record view appears in the admin's trail within two
//! seconds (the live tail); the admin opens it, marks it reviewed and exports the filtered events
//! to a file readable by its owner only. Each step is on the trail.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use hsc::services::records;

use crate::auth::PASSWORD;
use crate::harness::{Home, TestDb};
use crate::pty::Console;
use crate::records::{client, login, record_id};

#[tokio::test]
async fn the_admins_trail_follows_new_events_and_exports_them() {
    let (tdb, mut svc) = TestDb::seeded().await;
    svc.policy.mfa_roles.clear();
    let home = Home::new();
    let mut admin = Console::start_with(
        &home,
        &tdb.url(),
        &[
            ("HSC_MFA_ROLES", "billing_staff"),
            ("AUDIT_HMAC_KEY", &"09".repeat(32)),
        ],
    );
    admin.sign_in("admin@healthystellar.com", PASSWORD);
    admin.wait_for("Account");
    admin.send("3");
    admin.wait_for("Every event, newest first · live");

    // Dr Smith opens Alice's physical in another process; the admin's screen shows it shortly.
    let mut conn = tdb.admin().await;
    let physical = record_id(&mut conn, "Annual Physical Examination").await;
    let smith = login(&svc, "dr.smith@healthystellar.com").await;
    let opened = Instant::now();
    records::view(&svc, &client(), &smith, physical)
        .await
        .unwrap();
    let screen = admin.wait_for("RECORD_VIEW");
    assert!(
        opened.elapsed() < Duration::from_secs(2),
        "the event took {:?} to appear",
        opened.elapsed()
    );
    assert!(screen.contains("John Smith → Alice Anderson"), "{screen}");
    assert!(screen.contains("new event"), "{screen}");

    // The newest event is selected: open it, mark it reviewed.
    admin.send("\r");
    let screen = admin.wait_for("Audit event");
    assert!(screen.contains(&physical.to_string()), "{screen}");
    admin.send("v");
    admin.wait_for("marked reviewed.");

    // Only this record's events, exported as JSON Lines.
    admin.send("r");
    admin.wait_for(&format!("resource:{physical}"));
    admin.settle(Duration::from_millis(300));
    admin.send("x");
    admin.wait_for("Export audit events");
    admin.send("\t");
    admin.send("\x1b[C");
    admin.send("\r");
    admin.wait_for("Yes, export");
    admin.send("\x1b[C");
    admin.send("\r");
    let screen = admin.wait_for("Exported 1 event to");
    let name = format!(
        "hsc-audit-{}.jsonl",
        chrono::Utc::now().date_naive().format("%Y-%m-%d")
    );
    assert!(screen.contains(&name), "{screen}");
    let file = home.data_dir().join("exports").join(&name);
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains(&physical.to_string()) && text.contains("RECORD_VIEW"),
        "{text}"
    );

    admin.send("q");
    assert_eq!(admin.exit_code(), 0);

    let actions: Vec<String> = tdb.audit_actions().await;
    for wanted in ["AUDIT_VIEW", "AUDIT_REVIEWED", "AUDIT_EXPORT"] {
        assert!(
            actions.iter().any(|a| a == wanted),
            "{wanted} in {actions:?}"
        );
    }
}
