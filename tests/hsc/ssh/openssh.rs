//! OpenSSH's own `ssh`, in a pseudo-terminal, against `hsc serve`: sign in, page, resize, drop the
//! connection; then the database says where the session came from and why it ended.

use std::time::Duration;

use hsc::services::records::{self, Content, Draft, RecordType};
use portable_pty::CommandBuilder;
use uuid::Uuid;

use super::{Served, eventually, newest_session, session_trail};
use crate::harness::TestDb;
use crate::pty::Console;

const PG_DN: &str = "\x1b[6~";

fn ssh(served: &Served, extra: &[&str]) -> CommandBuilder {
    let mut cmd = CommandBuilder::new("ssh");
    cmd.env_clear();
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.env("HOME", served.home.path());
    cmd.env("TERM", "xterm-256color");
    cmd.args(extra);
    cmd.args(served.ssh_args());
    cmd
}

/// Sixty more records for Alice by Dr Smith, so his list has a second page.
async fn sixty_records(tdb: &TestDb) {
    let (_, mut svc) = (0, tdb.services().await);
    svc.policy.mfa_roles.clear();
    let smith = crate::records::login(&svc, "dr.smith@healthystellar.com").await;
    let alice = crate::records::user_id(&mut tdb.admin().await, "patient1@example.com").await;
    for n in 0..60 {
        let draft = Draft {
            record_type: RecordType::Consultation,
            record_date: chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap()
                + chrono::Duration::days(n),
            content: Content {
                title: format!("Weekly check {n:02}"),
                description: "Blood pressure taken.".into(),
                metadata: Vec::new(),
            },
        };
        records::create(
            &svc,
            &crate::records::client(),
            &smith,
            alice,
            Uuid::new_v4(),
            &draft,
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn openssh_signs_in_pages_resizes_and_a_dropped_connection_signs_out() {
    let (tdb, _svc) = TestDb::seeded().await;
    sixty_records(&tdb).await;
    let served = Served::start(&tdb, &[], &[]);
    assert!(
        served.lines[0].contains("(created now)"),
        "{:?}",
        served.lines
    );

    let mut c = Console::spawn(ssh(&served, &["-tt"]));
    c.sign_in("dr.smith@healthystellar.com", crate::auth::PASSWORD);
    c.wait_for("[1 Records]");
    c.wait_for("page 1 · 50 shown");
    c.settle(Duration::from_millis(300));
    c.send(PG_DN);
    let screen = c.wait_for("page 2");
    assert!(
        screen.contains("Annual Physical Examination") || screen.contains("Weekly check"),
        "{screen}"
    );

    // A bigger window: the console redraws to fill it (its status line moves to the new last row).
    let last_row = |c: &Console, rows: u16, cols: u16| {
        c.parser
            .screen()
            .rows(0, cols)
            .nth(usize::from(rows) - 1)
            .unwrap_or_default()
    };
    let before = last_row(&c, crate::pty::ROWS, crate::pty::COLS);
    assert!(!before.trim().is_empty(), "{}", c.screen());
    c.resize(120, 40);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while last_row(&c, 40, 120).trim().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no redraw at 120×40:\n{}",
            c.screen()
        );
        c.pump(Duration::from_millis(100));
    }

    // The connection drops (the client is killed): the session ends as "connection closed".
    c.child.kill().unwrap();
    let mut db = tdb.admin().await;
    let session = newest_session(&mut db, "dr.smith@healthystellar.com").await;
    eventually(
        &mut db,
        "SELECT revoked_reason FROM sessions WHERE id = $1 AND NOT is_active",
        session,
        "connection closed",
    )
    .await;
    let source: String = sqlx::query_scalar("SELECT ip_address FROM sessions WHERE id = $1")
        .bind(session)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(source, "127.0.0.1");
    eventually(
        &mut db,
        "SELECT details->>'reason' FROM audit_logs WHERE session_id = $1 AND action = 'LOGOUT'",
        session,
        "connection closed",
    )
    .await;
    let trail = session_trail(&mut db, session).await;
    let actions: Vec<&str> = trail.iter().map(|(a, _, _)| a.as_str()).collect();
    assert!(actions.starts_with(&["LOGIN"]), "{actions:?}");
    assert!(
        actions.iter().filter(|a| **a == "RECORD_LIST").count() >= 2,
        "{actions:?}"
    );
    assert_eq!(actions.last(), Some(&"LOGOUT"), "{actions:?}");
    assert!(
        trail
            .iter()
            .all(|(_, ip, _)| ip.as_deref() == Some("127.0.0.1")),
        "every row names the client's address: {trail:?}"
    );
    let agent: String = sqlx::query_scalar(
        "SELECT user_agent FROM audit_logs WHERE session_id = $1 AND action = 'LOGIN'",
    )
    .bind(session)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert!(agent.contains("xterm-256color; ssh"), "{agent}");
}

/// What OpenSSH prints and exits with for `before` DESTINATION `after`.
fn run_ssh(served: &Served, before: &[&str], after: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new("ssh")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", served.home.path())
        .args(before)
        .args(served.ssh_args())
        .args(after)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn openssh_is_told_why_commands_subsystems_and_forwarding_are_refused() {
    let (tdb, _svc) = TestDb::seeded().await;
    let served = Served::start(&tdb, &[], &[]);

    let (code, out, said) = run_ssh(&served, &[], &["cat /etc/passwd"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(out.is_empty(), "{out}");
    assert!(
        said.contains("hsc: commands are not accepted; connect with `ssh -t`"),
        "{said}"
    );

    let (code, _, said) = run_ssh(&served, &["-T"], &[]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("hsc: the console needs a terminal"), "{said}");

    let (code, _, said) = run_ssh(&served, &["-s"], &["sftp"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains(r#"hsc: the "sftp" subsystem is not offered"#),
        "{said}"
    );

    let (code, _, said) = run_ssh(&served, &["-W", "127.0.0.1:5432"], &[]);
    assert_eq!(code, Some(255), "{said}");
    assert!(
        said.contains("administratively prohibited: hsc: port forwarding is not allowed"),
        "{said}"
    );

    let (code, _, said) = run_ssh(
        &served,
        &[
            "-N",
            "-o",
            "ExitOnForwardFailure=yes",
            "-R",
            "0:127.0.0.1:1",
        ],
        &[],
    );
    assert_eq!(code, Some(255), "{said}");
    assert!(said.contains("remote port forwarding failed"), "{said}");
}
