//! End to end: two real `hsc` consoles in pseudo-terminals against one seeded PostgreSQL. A nurse
//! has a record open through the only grant that lets her see it; records staff revoke that grant
//! in their own console, through its confirm modal; the nurse's very next action on the open
//! record is refused, and the record leaves her screen and her list.

use std::time::Duration;

use crate::auth::PASSWORD;
use crate::harness::{Home, TestDb};
use crate::pty::Console;

/// The console with no role asked for a second factor, so every seeded user signs in with a password.
fn console(home: &Home, url: &str) -> Console {
    Console::start_with(home, url, &[("HSC_MFA_ROLES", "admin")])
}

const CTRL_R: &str = "\x12";

#[tokio::test]
async fn a_grant_revoked_in_one_console_refuses_the_open_record_in_another() {
    let (tdb, _svc) = TestDb::seeded().await;
    let nurse_home = Home::new();
    let staff_home = Home::new();

    // Nurse Williams opens Carol's treatment plan: Dr Smith wrote it, so Carol's grant is her only
    // way to it.
    let mut nurse = console(&nurse_home, &tdb.url());
    nurse.sign_in("nurse.williams@healthystellar.com", PASSWORD);
    nurse.wait_for("Hypertension Treatment Plan");
    nurse.send("j");
    nurse.settle(Duration::from_millis(200));
    nurse.send("\r");
    let screen = nurse.wait_for("Treatment plan for newly diagnosed hypertension");
    assert!(screen.contains("Carol Carter"), "{screen}");

    // Records staff find the grant by its grantee and revoke it.
    let mut staff = console(&staff_home, &tdb.url());
    staff.sign_in("records@healthystellar.com", PASSWORD);
    staff.wait_for("[1 Records]");
    staff.send("2");
    staff.wait_for("3 shown");
    staff.send("/");
    staff.type_keys("grantee:williams");
    staff.send("\r");
    let screen = staff.wait_for("1 shown");
    assert!(screen.contains("Carol Carter"), "{screen}");
    staff.send("x");
    staff.wait_for("Revoke this grant.");
    staff.type_keys("Care episode ended");
    staff.send("\r");
    let screen = staff.wait_for("Yes, revoke");
    assert!(screen.contains("ends immediately"), "{screen}");
    staff.send("\t");
    staff.send("\r");
    staff.wait_for("Revoked: Emily Williams no longer has access");

    // The nurse still sees what was drawn; her next action asks the database, which refuses.
    nurse.send(CTRL_R);
    let screen = nurse.wait_for("You may not open this record");
    assert!(
        !screen.contains("Treatment plan for newly diagnosed hypertension"),
        "the record's text leaves the screen:\n{screen}"
    );
    // Back in the browser, the record is gone from the list too (it was read again).
    nurse.send("\x1b");
    nurse.settle(Duration::from_millis(500));
    let screen = nurse.wait_for("1 shown");
    assert!(
        !screen.contains("Hypertension Treatment Plan"),
        "the list no longer shows the record:\n{screen}"
    );
    assert!(
        screen.contains("Follow-up Visit"),
        "her own record stays:\n{screen}"
    );
    nurse.send("q");
    assert_eq!(nurse.exit_code(), 0);
    staff.send("q");
    assert_eq!(staff.exit_code(), 0);

    let actions = tdb.audit_actions().await;
    for action in ["GRANT_LIST", "GRANT_REVOKE", "UNAUTHORIZED_ACCESS_ATTEMPT"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    let mut admin = tdb.admin().await;
    let (status, reason): (String, Option<String>) = sqlx::query_as(
        "SELECT g.status::text, g.revocation_reason FROM access_grants g \
         JOIN users u ON u.id = g.grantee_id WHERE u.email = 'nurse.williams@healthystellar.com'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), reason.as_deref()),
        ("REVOKED", Some("Care episode ended"))
    );
}
