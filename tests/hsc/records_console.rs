//! End to end: the real `hsc` binary in a pseudo-terminal against a seeded PostgreSQL. A physician
//! edits a record and finds version 2 in its history; a record made of escape sequences, BIDI
//! overrides, a 5,000-character line and a 1 MB description, with a second version saved for a
//! reason made of the same, is opened, scrolled, looked up in its history, compared and edited
//! without one of its bytes reaching the terminal as a command; billing staff see the list without
//! titles.

use std::time::Duration;

use hsc::services::audit::Client;
use hsc::services::auth::{self, LoginStep};
use hsc::services::records::{self, Content, Draft, RecordType};
use uuid::Uuid;

use crate::auth::PASSWORD;
use crate::harness::{Home, TestDb};
use crate::pty::Console;

/// The console with no role asked for a second factor, so every seeded user signs in with a password.
fn console(home: &Home, url: &str) -> Console {
    Console::start_with(home, url, &[("HSC_MFA_ROLES", "admin")])
}

const CTRL_S: &str = "\x13";
const CTRL_END: &str = "\x1b[1;5F";
const PG_DN: &str = "\x1b[6~";
const ESC: &str = "\x1b";

#[tokio::test]
async fn a_physician_edits_a_record_and_its_history_shows_version_2() {
    let (tdb, _svc) = TestDb::seeded().await;
    let home = Home::new();
    let mut c = console(&home, &tdb.url());
    c.sign_in("dr.smith@healthystellar.com", PASSWORD);
    let screen = c.wait_for("Annual Physical Examination");
    assert!(screen.contains("[1 Records]"), "{screen}");
    assert!(
        screen.contains("Follow-up Visit - Blood Pressure Check"),
        "{screen}"
    );
    assert!(
        !screen.contains("Migraine"),
        "Dr Johnson's records are not Dr Smith's:\n{screen}"
    );

    // The newest first: the follow-up visit.
    c.send("\r");
    let screen = c.wait_for("Description");
    assert!(
        screen.contains("Follow-up visit to monitor blood pressure"),
        "{screen}"
    );
    assert!(
        screen.contains("bloodPressure") && screen.contains("128/82"),
        "{screen}"
    );

    c.send("e");
    c.wait_for("Reason for change");
    c.send("\t\t\t");
    c.send(CTRL_END);
    c.type_keys(" Recheck in two weeks.");
    c.send("\t\t");
    c.type_keys("Added the recheck");
    c.send(CTRL_S);
    let screen = c.wait_for("Saved as version 2.");
    assert!(screen.contains("version 2"), "{screen}");
    c.wait_for("Recheck in two");

    c.send("h");
    let screen = c.wait_for("Added the recheck");
    assert!(screen.contains("v2") && screen.contains("v1"), "{screen}");
    assert!(screen.contains("(first version)"), "{screen}");
    c.send("q");
    assert_eq!(c.exit_code(), 0);

    let mut admin = tdb.admin().await;
    let versions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM record_versions v JOIN medical_records m ON m.id = v.record_id \
         WHERE m.record_date = '2024-02-24'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(versions, 2, "one save, one new version");
    let actions: Vec<String> = tdb.audit_actions().await;
    for action in [
        "RECORD_LIST",
        "RECORD_VIEW",
        "RECORD_UPDATE",
        "RECORD_VERSION_VIEW",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

/// Everything a record could carry to take over a terminal; none of it is sent as it is.
const PAYLOADS: [&str; 6] = [
    "\x1b[2J",
    "\x1b[31;44;5m",
    "\x1b]0;PWNED\x07",
    "\x1b]52;c;cm0gLXJmIC8=\x07",
    "\u{9b}31;44m",
    "\u{202E}",
];

fn hostile(text: &str) -> String {
    format!("{text}{}\x08\x0b\x0c\x7f{text}", PAYLOADS.concat())
}

/// None of the payloads' bytes is in `raw` (what the console wrote while `when`).
#[track_caller]
fn assert_inert(raw: &[u8], when: &str) {
    let find = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    for (needle, what) in [
        (&b"\x1b[31;44;5m"[..], "the record's colours"),
        (b"\x1b]0;PWNED", "a window title"),
        (b"\x1b]52;", "a clipboard write"),
        ("\u{9b}".as_bytes(), "a C1 control (CSI)"),
        ("\u{202E}".as_bytes(), "a BIDI override"),
        (b"PWNED\x07", "a BEL"),
        (b"\x08\x0b\x0c", "C0 controls"),
    ] {
        assert!(!find(needle), "{what} reached the terminal {when}");
    }
}

#[tokio::test]
async fn a_hostile_record_cannot_drive_the_terminal() {
    let (tdb, mut svc) = TestDb::seeded().await;
    svc.policy.mfa_roles.clear();
    let client = Client::new(None, "xterm-256color");
    let LoginStep::LoggedIn(session) =
        auth::login(&svc, &client, "dr.smith@healthystellar.com", PASSWORD)
            .await
            .unwrap()
    else {
        panic!("Dr Smith signs in with a password here")
    };
    let alice: Uuid =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'patient1@example.com'")
            .fetch_one(&mut tdb.admin().await)
            .await
            .unwrap();
    let mut description = format!("{}\n{}\n", hostile("Top"), "w".repeat(5000));
    let mut n = 0;
    while description.len() < 1_000_000 {
        n += 1;
        description.push_str(&format!(
            "line {n:06} of the long description {}\n",
            hostile("")
        ));
    }
    let draft = Draft {
        record_type: RecordType::Emergency,
        record_date: chrono::Utc::now().date_naive(),
        content: Content {
            title: hostile("Evil"),
            description,
            metadata: vec![
                (format!("k{}", PAYLOADS.concat()), hostile("v")),
                ("plain".into(), "value".into()),
            ],
        },
    };
    let saved = records::create(&svc, &client, &session, alice, Uuid::new_v4(), &draft)
        .await
        .unwrap();
    assert_eq!(saved.version, 1);
    // Version 2: one hostile line more at the top, saved for a hostile reason.
    let mut second = draft.clone();
    second.content.description = format!("{}\n{}", hostile("Second"), draft.content.description);
    let saved = records::update(
        &svc,
        &client,
        &session,
        saved.record,
        Uuid::new_v4(),
        1,
        &second,
        &hostile("Why"),
    )
    .await
    .unwrap();
    assert_eq!(saved.version, 2);

    let home = Home::new();
    let mut c = console(&home, &tdb.url());
    c.sign_in("dr.smith@healthystellar.com", PASSWORD);
    let screen = c.wait_for("Emergency");
    assert!(screen.contains("Evil␛[2J␛[31;44;5m"), "{screen}");
    // The newest record is the hostile one: open it, scroll it, go to its end and back.
    c.send("\r");
    let screen = c.wait_for("Description");
    assert!(screen.contains("␛]0;PWNED␇"), "{screen}");
    assert!(screen.contains("<U+009B>31;44m<U+202E>"), "{screen}");
    for _ in 0..3 {
        c.send(PG_DN);
        c.settle(Duration::from_millis(150));
    }
    c.wait_for("wwwwwwwwww");
    c.send("G");
    c.wait_for("line 0");
    c.send("g");
    c.wait_for("Metadata");

    // The history lists the hostile reason; version 2 shows it again, and the comparison shows
    // the hostile line it added.
    let from = c.raw.len();
    c.send("h");
    let screen = c.wait_for("(first version)");
    assert!(screen.contains("Why␛[2J␛[31;44;5m"), "{screen}");
    c.send("\r");
    let screen = c.wait_for("Reason for the change: Why");
    assert!(screen.contains("Why␛[2J␛[31;44;5m␛]0;PWNED␇"), "{screen}");
    assert!(screen.contains("Second␛[2J"), "{screen}");
    c.settle(Duration::from_millis(200));
    c.send(ESC);
    c.wait_for("(first version)");
    c.type_keys(" j c");
    let screen = c.wait_for("+ Second␛[2J");
    assert!(
        screen.contains("+ Second␛[2J␛[31;44;5m␛]0;PWNED␇"),
        "{screen}"
    );
    assert!(screen.contains("  Top␛[2J"), "{screen}");
    c.send("\x1b[B");
    c.settle(Duration::from_millis(300));
    assert_inert(&c.raw[from..], "from the history or the comparison");
    c.send(ESC);
    c.settle(Duration::from_millis(200));
    c.send(ESC);
    c.wait_for("Last changed by");

    // The editor takes the megabyte too, and its end.
    c.send("e");
    c.wait_for("Reason for change");
    c.send("\t\t\t");
    c.send(CTRL_END);
    c.settle(Duration::from_millis(500));
    c.send(ESC);
    c.wait_for("line 1 of");
    c.settle(Duration::from_millis(200));
    c.send(ESC);
    c.wait_for("Newest first");
    c.send("q");
    assert_eq!(c.exit_code(), 0);

    assert_inert(&c.raw, "at any time");
    let watcher = c.parser.callbacks();
    assert!(watcher.titles.is_empty(), "the window title was set");
    assert!(watcher.clipboard.is_empty(), "the clipboard was written");
    assert_eq!(watcher.bells, 0, "the terminal rang");
    // The rendered screen never held the controls themselves either.
    assert!(!c.screen().contains('\u{202E}'));
}

#[tokio::test]
async fn billing_staff_see_the_list_without_titles() {
    let (tdb, _svc) = TestDb::seeded().await;
    let home = Home::new();
    let mut c = console(&home, &tdb.url());
    c.sign_in("billing@healthystellar.com", PASSWORD);
    let screen = c.wait_for("Bob Baker");
    assert!(
        screen.contains("Alice Anderson") && screen.contains("Carol Carter"),
        "{screen}"
    );
    assert!(screen.contains("6 shown"), "{screen}");
    for title in [
        "Annual Physical",
        "Migraine",
        "Hypertension",
        "Blood Work",
        "Follow-up",
    ] {
        assert!(
            !screen.contains(title),
            "{title} shown to billing:\n{screen}"
        );
    }
    let dashes = screen.lines().filter(|l| l.contains(" — ")).count();
    assert_eq!(dashes, 6, "{screen}");
    // The index card opens; the content does not.
    c.send("G\r");
    let screen = c.wait_for("index card only");
    assert!(screen.contains("Patient: Alice Anderson"), "{screen}");
    assert!(!screen.contains("Routine annual"), "{screen}");
    c.settle(Duration::from_millis(200));
    c.send(ESC);
    c.wait_for("6 shown");
    c.send("q");
    assert_eq!(c.exit_code(), 0);
}
