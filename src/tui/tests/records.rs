//! The Records tab drawn at 80×24 and 120×40: the browser (a physician's, and billing staff's with
//! no titles), a record, its editor, its history, a comparison, the break-glass question, and a
//! record whose every field tries to take over the terminal.

use chrono::{NaiveDate, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use uuid::Uuid;

use super::{Console, SIZES, smith};
use crate::services::records::diff;
use crate::services::records::{
    Content, Person, RecordDetail, RecordType, Version, VersionSummary,
};
use crate::services::sessions::Session;
use crate::services::users::{Role, UserSummary};
use crate::tui::msg::{Effect, Msg, Outcome, RecordResult, RecordWork};
use crate::tui::screens::records::browser::{RecordPage, RecordRow};

pub(super) fn billing() -> UserSummary {
    UserSummary {
        id: Uuid::from_u128(9),
        email: "billing@healthystellar.com".into(),
        first_name: "David".into(),
        last_name: "Davis".into(),
        role: Role::BillingStaff,
    }
}

fn person(id: u128, name: &str) -> Person {
    Person {
        id: Uuid::from_u128(id),
        name: name.into(),
    }
}

pub(super) fn alice() -> Person {
    person(101, "Alice Anderson")
}
pub(super) fn carol() -> Person {
    person(103, "Carol Carter")
}
pub(super) fn dr_smith() -> Person {
    person(1, "John Smith")
}

pub(super) fn record_id(n: u128) -> Uuid {
    Uuid::from_u128(0x1000 + n)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The seed's records, newest first; a physician sees Dr Smith's four.
pub(super) fn rows(role: Role) -> Vec<RecordRow> {
    let all = [
        (
            6,
            carol(),
            dr_smith(),
            RecordType::Consultation,
            "Follow-up Visit - Blood Pressure Check",
            date(2024, 2, 24),
        ),
        (
            5,
            carol(),
            dr_smith(),
            RecordType::Treatment,
            "Hypertension Treatment Plan",
            date(2024, 2, 10),
        ),
        (
            4,
            person(102, "Bob Baker"),
            person(2, "Sarah Johnson"),
            RecordType::Prescription,
            "Migraine Medication Prescription",
            date(2024, 2, 1),
        ),
        (
            3,
            person(102, "Bob Baker"),
            person(2, "Sarah Johnson"),
            RecordType::Diagnosis,
            "Migraine Headache Diagnosis",
            date(2024, 2, 1),
        ),
        (
            2,
            alice(),
            dr_smith(),
            RecordType::LabResult,
            "Blood Work - Complete Metabolic Panel",
            date(2024, 1, 20),
        ),
        (
            1,
            alice(),
            dr_smith(),
            RecordType::Consultation,
            "Annual Physical Examination",
            date(2024, 1, 15),
        ),
    ];
    all.into_iter()
        .filter(|r| role != Role::Physician || r.2 == dr_smith())
        .map(
            |(n, patient, provider, record_type, title, record_date)| RecordRow {
                id: record_id(n),
                patient,
                provider,
                record_type,
                title: (role == Role::Physician).then(|| title.to_string()),
                record_date,
                version: 1,
            },
        )
        .collect()
}

pub(super) fn stamp(day: u32, hour: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
}

pub(super) fn annual_content() -> Content {
    Content {
        title: "Annual Physical Examination".into(),
        description:
            "Routine annual physical examination. Patient reports no major health concerns. \
                      Vital signs normal."
                .into(),
        metadata: [
            ("bloodPressure", "120/80"),
            ("heartRate", "72"),
            ("temperature", "98.6"),
            ("weight", "165"),
            ("height", "70"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    }
}

/// Record 1 as the detail view gets it (content `None` for metadata-only staff).
pub(super) fn annual(content: bool, version: i32) -> RecordDetail {
    RecordDetail {
        id: record_id(1),
        patient: alice(),
        provider: dr_smith(),
        created_by: dr_smith(),
        updated_by: dr_smith(),
        record_type: RecordType::Consultation,
        status: "active".into(),
        record_date: date(2024, 1, 15),
        version,
        created_at: stamp(26, 9),
        updated_at: stamp(26, 9),
        content: content.then(annual_content),
    }
}

pub(super) fn versions() -> (Version, Version) {
    let v1 = Version {
        summary: VersionSummary {
            version: 1,
            changed_by: dr_smith(),
            changed_at: stamp(26, 9),
            reason: None,
        },
        record_type: RecordType::Consultation,
        record_date: date(2024, 1, 15),
        content: annual_content(),
    };
    let mut v2 = v1.clone();
    v2.summary = VersionSummary {
        version: 2,
        changed_by: dr_smith(),
        changed_at: stamp(27, 10),
        reason: Some("Added the follow-up plan".into()),
    };
    v2.content.description =
        "Routine annual physical examination. Patient reports no major health concerns. \
                              Vital signs normal.\nFollow up in twelve months."
            .into();
    v2.content.metadata[1].1 = "68".into();
    (v1, v2)
}

/// Every kind of text that must not reach a terminal as it is.
pub(super) const HOSTILE: &str = "\u{1b}[2J\u{1b}[31;44;5mRED\u{1b}]0;PWNED\u{7}\u{1b}]52;c;cm0gLXJmIC8=\u{7}\u{9b}31mC1\u{202e}fdp.exe\u{8}\u{7f}\r";

pub(super) fn hostile_detail() -> RecordDetail {
    let mut d = annual(true, 1);
    d.patient.name = format!("Mallory{HOSTILE}");
    let content = d.content.as_mut().unwrap();
    content.title = format!("Title {HOSTILE}");
    content.description = format!(
        "First {HOSTILE} line\n{}\nthird\tline\u{1b}[1;1H",
        "long ".repeat(1000)
    );
    content.metadata = vec![
        (format!("key{HOSTILE}"), format!("value{HOSTILE}")),
        ("plain".into(), "x".into()),
    ];
    d
}

impl Console {
    /// `user`, signed in, on the Records tab with `rows` as the first page.
    pub(super) fn as_user(size: (u16, u16), user: UserSummary, rows: Vec<RecordRow>) -> Console {
        let mut c = Console::new(size);
        let t = c.sign_in(&user.email.clone(), "Test123!@#");
        let session =
            Session::for_tests(user, Utc.with_ymd_and_hms(2026, 11, 27, 6, 0, 0).unwrap());
        c.send(Msg::Done(
            t,
            Outcome::Login(Ok(crate::services::auth::LoginStep::LoggedIn(session))),
        ));
        c.answer(RecordResult::Page(Ok(RecordPage { rows, next: None })));
        c
    }

    pub(super) fn physician(size: (u16, u16)) -> Console {
        Console::as_user(size, smith(), rows(Role::Physician))
    }

    /// Answers the single records effect `update` just asked for.
    pub(super) fn answer(&mut self, result: RecordResult) {
        let t = self.ticket();
        self.send(Msg::Done(t, Outcome::Records(Box::new(result))));
    }

    /// The records work of the single effect `update` just asked for.
    pub(super) fn work(&self) -> &RecordWork {
        match self.effects.as_slice() {
            [Effect::Records { work, .. }] => work,
            other => panic!("expected one records effect, got {other:?}"),
        }
    }

    pub(super) fn press(&mut self, code: KeyCode, modifiers: KeyModifiers) {
        self.send(Msg::Key(KeyEvent::new(code, modifiers)));
    }

    /// The physician's record 1 (the last row), opened.
    pub(super) fn open_annual(size: (u16, u16)) -> Console {
        let mut c = Console::physician(size);
        c.key(KeyCode::Char('G'));
        c.key(KeyCode::Enter);
        assert!(matches!(c.work(), RecordWork::View(id) if *id == record_id(1)));
        c.answer(RecordResult::Detail(Ok(annual(true, 1))));
        c
    }
}

#[test]
fn browser_for_a_physician_and_for_billing_staff() {
    for size in SIZES {
        let c = Console::physician(size);
        c.snapshot("records_browser_physician");
        let screen = c.screen();
        assert!(
            screen.contains("[1 Records]") && screen.contains(" 0 Account "),
            "{screen}"
        );
        assert!(screen.contains("Annual Physical"), "{screen}");

        let c = Console::as_user(size, billing(), rows(Role::BillingStaff));
        c.snapshot("records_browser_billing");
        let screen = c.screen();
        assert!(!screen.contains("Annual Physical"), "{screen}");
        assert_eq!(
            screen.matches('—').count(),
            6,
            "one dash per title:\n{screen}"
        );
    }
    // The tab bar is the same after any key.
    let mut c = Console::physician((80, 24));
    c.key(KeyCode::Char('j'));
    assert!(c.screen().contains("▶ 2024-02-10"), "{}", c.screen());
}

#[test]
fn record_detail_editor_history_and_comparison() {
    for size in SIZES {
        let mut c = Console::open_annual(size);
        c.snapshot("records_detail");

        c.key(KeyCode::Char('e'));
        assert!(
            c.effects.is_empty(),
            "the editor opens from the record on show"
        );
        for _ in 0..3 {
            c.key(KeyCode::Tab);
        }
        c.press(KeyCode::End, KeyModifiers::CONTROL);
        c.key(KeyCode::Enter);
        c.type_text("Follow up in twelve months.");
        c.snapshot("records_editor");
        c.key(KeyCode::Esc);
        c.key(KeyCode::Right);
        c.key(KeyCode::Enter);

        c.key(KeyCode::Char('h'));
        assert!(matches!(c.work(), RecordWork::History(id) if *id == record_id(1)));
        let (v1, v2) = versions();
        c.answer(RecordResult::History(Ok(vec![
            v2.summary.clone(),
            v1.summary.clone(),
        ])));
        c.key(KeyCode::Char(' '));
        c.key(KeyCode::Char('j'));
        c.key(KeyCode::Char(' '));
        c.snapshot("records_history");

        c.key(KeyCode::Char('c'));
        assert!(matches!(c.work(), RecordWork::Compare { a: 1, b: 2, .. }));
        let fields = diff::compare(&v1, &v2);
        c.answer(RecordResult::Compared(Ok((v1, v2, fields))));
        c.snapshot("records_diff");
        let screen = c.screen();
        assert!(
            screen.contains("- heartRate: 72") && screen.contains("+ heartRate: 68"),
            "{screen}"
        );
        assert!(screen.contains("+ Follow up in twelve months."), "{screen}");
    }
}

#[test]
fn billing_staff_see_the_index_card_only() {
    let mut c = Console::as_user((120, 40), billing(), rows(Role::BillingStaff));
    c.key(KeyCode::Char('G'));
    c.key(KeyCode::Enter);
    c.answer(RecordResult::Detail(Ok(annual(false, 1))));
    let screen = c.screen();
    assert!(
        screen.contains("Patient: Alice Anderson · Provider: John Smith"),
        "{screen}"
    );
    assert!(screen.contains("index card only"), "{screen}");
    assert!(!screen.contains("Routine annual"), "{screen}");
}

#[test]
fn the_break_glass_question_starts_on_no() {
    for size in SIZES {
        let mut c = Console::physician(size);
        c.key(KeyCode::Char('b'));
        c.type_text("car");
        assert!(matches!(c.work(), RecordWork::FindPatients(q) if q == "car"));
        c.answer(RecordResult::Patients(Ok(vec![carol()])));
        c.key(KeyCode::Enter);
        c.snapshot("records_break_glass");
        let screen = c.screen();
        assert!(screen.contains("▶ [ No, cancel ]"), "{screen}");
        assert!(
            screen.contains("tracked and reviewed") && screen.contains("1 hour"),
            "{screen}"
        );
    }
}

#[test]
fn a_hostile_record_is_shown_not_obeyed() {
    for size in SIZES {
        let mut c = Console::physician(size);
        c.key(KeyCode::Char('G'));
        c.key(KeyCode::Enter);
        c.answer(RecordResult::Detail(Ok(hostile_detail())));
        c.snapshot("records_hostile_detail");
        let mut screens = vec![c.screen()];
        for key in [
            KeyCode::PageDown,
            KeyCode::PageDown,
            KeyCode::Char('G'),
            KeyCode::Char('g'),
        ] {
            c.key(key);
            screens.push(c.screen());
        }
        c.key(KeyCode::Char('e'));
        screens.push(c.screen());
        for screen in &screens {
            let bad: Vec<char> = screen
                .chars()
                .filter(|ch| *ch != '\n' && crate::tui::sanitize::needs_escape(*ch))
                .collect();
            assert!(bad.is_empty(), "{bad:?} reached the screen:\n{screen}");
        }
        assert!(
            screens[0].contains("␛[31;44;5mRED␛]0;PWNED␇"),
            "{}",
            screens[0]
        );
        assert!(
            screens[0].contains("<U+009B>31mC1<U+202E>"),
            "{}",
            screens[0]
        );
    }
}
