//! End to end: the real `hsc` binary in a pseudo-terminal against real PostgreSQL. A physician
//! enrolls TOTP by reading the secret off the screen, quits, logs in again with a computed code,
//! and the terminal's modes are restored each time.

use std::num::NonZeroU16;

use portable_pty::PtySize;

use crate::harness::{Home, TestDb};
use crate::pty::{COLS, Console, ROWS};

/// Eight groups of four base32 characters: the secret as the enrollment screen shows it.
fn secret_on(screen: &str) -> Vec<u8> {
    let groups: Vec<&str> = screen
        .split_whitespace()
        .filter(|w| {
            w.len() == 4
                && w.bytes()
                    .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        })
        .collect();
    let text = groups
        .windows(8)
        .next()
        .map(|w| w.concat())
        .expect("the secret is on the screen");
    totp_rs::Secret::try_from_base32(&text).unwrap().to_vec()
}

fn code_at(secret: &[u8], unix: u64) -> String {
    totp_rs::Builder::new()
        .with_secret(secret.to_vec())
        .with_account_name("dr.smith@healthystellar.com")
        .with_issuer(Some("Healthy Stellar"))
        .build()
        .unwrap()
        .generate(unix)
        .to_string()
}

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

#[tokio::test]
async fn a_physician_enrolls_totp_then_signs_in_with_a_computed_code() {
    let (tdb, _svc) = TestDb::seeded().await;
    let home = Home::new();

    let mut c = Console::start(&home, &tdb.url());
    c.wait_for("Email:");
    assert!(!c.cooked(), "the console runs in raw mode");
    c.send("dr.smith@healthystellar.com\tTest123!@#\r");
    let screen = c.wait_for("Secret:");
    assert!(
        screen.contains("Physician accounts must use two-factor sign-in."),
        "{screen}"
    );
    let secret = secret_on(&screen);
    assert_eq!(secret.len(), 20, "160-bit secret");
    let enrolled_at = now();
    c.send(&format!("{}\r", code_at(&secret, enrolled_at)));
    let screen = c.wait_for("Save these backup codes now");
    let backup = screen
        .split_whitespace()
        .find(|w| w.len() == 19 && w.matches('-').count() == 3)
        .expect("a backup code")
        .to_string();
    c.send("\r");
    c.wait_for("Authenticator app");
    c.send("q");
    assert_eq!(c.exit_code(), 0);
    assert!(c.cooked(), "line editing and echo are restored");
    let raw = String::from_utf8_lossy(&c.raw);
    let entered = raw
        .find("\x1b[?1049h")
        .expect("entered the alternate screen");
    let left = raw.rfind("\x1b[?1049l").expect("left the alternate screen");
    assert!(left > entered);
    assert!(
        raw[left..].contains("\x1b[?25h"),
        "the cursor is shown again"
    );

    // Again, with the code of the next time step (the enrollment's own step is spent).
    let mut c = Console::start(&home, &tdb.url());
    c.wait_for("Email:");
    c.send("dr.smith@healthystellar.com\tTest123!@#\r");
    c.wait_for("Enter the 6-digit code");
    c.send(&format!("{}\r", code_at(&secret, enrolled_at + 30)));
    // A physician lands on the records; `0` is the account tab.
    c.wait_for("Annual Physical Examination");
    c.send("0");
    let screen = c.wait_for("Authenticator app");
    assert!(screen.contains("10 backup codes left"), "{screen}");
    c.send("\x03");
    assert_eq!(c.exit_code(), 0);
    assert!(c.cooked());

    // A backup code works once, from a third console.
    let mut c = Console::start(&home, &tdb.url());
    c.wait_for("Email:");
    c.send("dr.smith@healthystellar.com\tTest123!@#\r");
    c.wait_for("Enter the 6-digit code");
    c.send(&format!("{backup}\r"));
    c.wait_for("Annual Physical Examination");
    c.send("0");
    let screen = c.wait_for("Authenticator app");
    assert!(screen.contains("9 backup codes left"), "{screen}");
    c.send("q");
    assert_eq!(c.exit_code(), 0);

    let mut admin = tdb.admin().await;
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT action, details->>'reason' FROM audit_logs WHERE action IN ('MFA_ENABLED', 'LOGIN', 'LOGOUT', 'BACKUP_CODE_USED') ORDER BY seq",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    let expected: Vec<(String, Option<String>)> = [
        ("MFA_ENABLED", None),
        ("LOGIN", None),
        ("LOGOUT", Some("logout")),
        ("LOGIN", None),
        ("LOGOUT", Some("ctrl-c")),
        ("BACKUP_CODE_USED", None),
        ("LOGIN", None),
        ("LOGOUT", Some("logout")),
    ]
    .iter()
    .map(|(a, r)| (a.to_string(), r.map(String::from)))
    .collect();
    assert_eq!(rows, expected);
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE is_active")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(open, 0, "every console ended its session");
}

#[tokio::test]
async fn resizing_and_sigterm_are_handled_and_the_session_ends() {
    let (tdb, _svc) = TestDb::seeded().await;
    let home = Home::new();
    let mut c = Console::start(&home, &tdb.url());
    c.wait_for("Email:");
    // A patient needs no second factor by default.
    c.send("patient2@example.com\tTest123!@#\r");
    c.wait_for("Bob Baker");
    c.master
        .resize(PtySize {
            rows: 20,
            cols: 60,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    c.parser
        .screen_mut()
        .set_size(NonZeroU16::new(20).unwrap(), NonZeroU16::new(60).unwrap());
    c.wait_for("Terminal too small: 60×20");
    c.master
        .resize(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    c.parser.screen_mut().set_size(
        NonZeroU16::new(ROWS).unwrap(),
        NonZeroU16::new(COLS).unwrap(),
    );
    c.wait_for("Bob Baker");
    let pid = c.child.process_id().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(c.exit_code(), 0);
    assert!(c.cooked(), "SIGTERM restores the terminal");
    let mut admin = tdb.admin().await;
    let reason: String = sqlx::query_scalar(
        "SELECT details->>'reason' FROM audit_logs WHERE action = 'LOGOUT' ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(reason, "terminated");
}

#[tokio::test]
async fn sighup_and_a_panic_also_leave_the_terminal_as_it_was() {
    let (tdb, _svc) = TestDb::seeded().await;
    let home = Home::new();
    let mut c = Console::start(&home, &tdb.url());
    c.wait_for("Email:");
    c.send("patient3@example.com\tTest123!@#\r");
    c.wait_for("Carol Carter");
    let pid = c.child.process_id().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    assert_eq!(c.exit_code(), 0);
    assert!(c.cooked(), "SIGHUP restores the terminal");
    let mut admin = tdb.admin().await;
    let reason: String =
        sqlx::query_scalar("SELECT details->>'reason' FROM audit_logs WHERE action = 'LOGOUT' ORDER BY seq DESC LIMIT 1")
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert_eq!(reason, "connection closed");

    // A debug build panics on F12 when told to; the panic hook restores the terminal first.
    let mut c = Console::start_with(&home, &tdb.url(), &[("HSC_FAULT", "panic-on-f12")]);
    c.wait_for("Email:");
    assert!(!c.cooked());
    c.send("\x1b[24~");
    assert_ne!(c.exit_code(), 0, "a panic is a failure");
    assert!(c.cooked(), "the panic hook restored line editing and echo");
    let raw = String::from_utf8_lossy(&c.raw);
    // The hook restores before the message is printed (and the guard, unwinding, once more after).
    let left = raw.find("\x1b[?1049l").expect("left the alternate screen");
    assert!(
        raw[left..].contains("fault injected: panic-on-f12"),
        "the panic message is printed on the normal screen"
    );
}
