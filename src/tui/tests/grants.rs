//! The Grants tab driven by keys and drawn at 80×24 and 120×40: the list with its detail pane and
//! filter, a clinician's read-only list, and which roles have the tab. The forms are in
//! `grants_forms`; the fixtures here serve both.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use crossterm::event::KeyCode;
use uuid::Uuid;

use super::records::{alice, carol, dr_smith, record_id};
use super::{Console, SIZES, smith};
use crate::services::auth::LoginStep;
use crate::services::grants::{
    AccessLevel, Candidate, Grant, GrantFilter, GrantPage, GrantStatus, GrantedRecord,
    RecordChoice, StatusFilter, Wanted,
};
use crate::services::records::{Person, RecordType};
use crate::services::sessions::Session;
use crate::services::users::{Role, UserSummary};
use crate::tui::msg::{Effect, GrantResult, GrantWork, Msg, Outcome};
use crate::tui::screens::Screen;
use crate::tui::screens::paged::FILTER_PAUSE;
use crate::tui::screens::records::browser::RecordPage;

pub(super) fn emma() -> UserSummary {
    UserSummary {
        id: Uuid::from_u128(10),
        email: "records@healthystellar.com".into(),
        first_name: "Emma".into(),
        last_name: "Evans".into(),
        role: Role::MedicalRecords,
    }
}

pub(super) fn williams() -> Person {
    Person {
        id: Uuid::from_u128(4),
        name: "Emily Williams".into(),
    }
}

pub(super) fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

pub(super) fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub(super) fn grant_id(n: u128) -> Uuid {
    Uuid::from_u128((0x3f2a_9c10 + n) << 96)
}

/// The seed's three grants, a revoked one and a lapsed break-glass grant.
pub(super) fn grants() -> Vec<Grant> {
    let seeded = |n,
                  patient: Person,
                  grantee: Person,
                  role,
                  records: &[(u128, RecordType, NaiveDate)],
                  level| Grant {
        id: grant_id(n),
        patient,
        grantee,
        grantee_role: Some(role),
        records: Some(
            records
                .iter()
                .map(|(r, t, d)| GrantedRecord::new(record_id(*r), Some(*t), Some(*d)))
                .collect(),
        ),
        level,
        status: GrantStatus::Active,
        expires_at: at(2027, 11, 27, 6),
        is_emergency: false,
        emergency_reason: None,
        granted_by: Person {
            id: Uuid::from_u128(10),
            name: "Emma Evans".into(),
        },
        created_at: at(2026, 11, 27, 6),
        revoked_at: None,
        revoked_by: None,
        revocation_reason: None,
    };
    let mut revoked = seeded(
        4,
        carol(),
        dr_smith(),
        Role::Physician,
        &[],
        AccessLevel::Read,
    );
    revoked.records = None;
    revoked.status = GrantStatus::Revoked;
    revoked.revoked_at = Some(at(2026, 11, 27, 8));
    revoked.revoked_by = revoked.granted_by.clone().into();
    revoked.revocation_reason = Some("Care episode ended".into());
    let mut emergency = seeded(
        5,
        alice(),
        williams(),
        Role::Nurse,
        &[],
        AccessLevel::ReadWrite,
    );
    emergency.records = None;
    emergency.is_emergency = true;
    emergency.emergency_reason = Some("Unconscious in the ED, allergies unknown".into());
    emergency.expires_at = at(2026, 11, 27, 7);
    emergency.status = GrantStatus::Active;
    vec![
        emergency,
        seeded(
            1,
            alice(),
            dr_smith(),
            Role::Physician,
            &[
                (1, RecordType::Consultation, day(2024, 1, 15)),
                (2, RecordType::LabResult, day(2024, 1, 20)),
            ],
            AccessLevel::ReadWrite,
        ),
        seeded(
            3,
            carol(),
            williams(),
            Role::Nurse,
            &[
                (5, RecordType::Treatment, day(2024, 2, 10)),
                (6, RecordType::Consultation, day(2024, 2, 24)),
            ],
            AccessLevel::Read,
        ),
        revoked,
    ]
}

/// Someone signed in, on the Records tab with an empty page, then on the Grants tab with `rows`.
pub(super) fn on_grants(user: UserSummary, size: (u16, u16), rows: Vec<Grant>) -> Console {
    let mut c = Console::new(size);
    let t = c.sign_in(&user.email.clone(), "Test123!@#");
    let session = Session::for_tests(user, at(2026, 11, 27, 18));
    c.send(Msg::Done(
        t,
        Outcome::Login(Ok(LoginStep::LoggedIn(session))),
    ));
    let t = c.ticket();
    c.send(Msg::Done(
        t,
        Outcome::Records(Box::new(crate::tui::msg::RecordResult::Page(Ok(
            RecordPage {
                rows: Vec::new(),
                next: None,
            },
        )))),
    ));
    c.key(KeyCode::Char('2'));
    assert!(matches!(c.state.screen, Screen::Grants));
    let Some(GrantWork::List { filter, after }) = work(&c) else {
        panic!("the tab asks for its first page: {:?}", c.effects)
    };
    assert_eq!((filter, after), (&GrantFilter::default(), &None));
    answer(
        &mut c,
        GrantResult::Page(Ok(GrantPage {
            grants: rows,
            next: None,
        })),
    );
    c
}

/// The grant work of the single effect just asked for.
pub(super) fn work(c: &Console) -> Option<&GrantWork> {
    match c.effects.as_slice() {
        [Effect::Grants { work, .. }] => Some(work),
        _ => None,
    }
}

pub(super) fn answer(c: &mut Console, result: GrantResult) {
    let t = c.ticket();
    c.send(Msg::Done(t, Outcome::Grants(Box::new(result))));
}

/// Types `text` into the name field with the focus: nothing is asked until typing pauses; then the
/// search for the whole text goes out and `found` comes back for it.
pub(super) fn search(c: &mut Console, text: &str, wanted: Wanted, found: Vec<Candidate>) {
    c.type_text(text);
    assert!(
        c.effects.is_empty(),
        "nothing is asked while typing: {:?}",
        c.effects
    );
    c.wait(FILTER_PAUSE);
    let Some(GrantWork::FindPeople { wanted: w, query }) = work(c) else {
        panic!("the search goes out once typing pauses: {:?}", c.effects)
    };
    assert_eq!(*w, wanted);
    assert!(query.ends_with(text), "{query:?}");
    answer(c, GrantResult::People(Ok(found)));
}

pub(super) fn candidate(person: Person, role: Role, eligible: bool) -> Candidate {
    Candidate {
        person,
        role,
        detail: (role == Role::Physician).then(|| "Cardiology".to_string()),
        eligible,
    }
}

pub(super) fn alice_records() -> Vec<RecordChoice> {
    vec![
        RecordChoice {
            id: record_id(2),
            record_type: RecordType::LabResult,
            record_date: day(2024, 1, 20),
            provider: "John Smith".into(),
        },
        RecordChoice {
            id: record_id(1),
            record_type: RecordType::Consultation,
            record_date: day(2024, 1, 15),
            provider: "John Smith".into(),
        },
    ]
}

#[test]
fn the_list_shows_grants_by_expiry_with_a_detail_pane() {
    for size in SIZES {
        let mut c = on_grants(emma(), size, grants());
        c.snapshot("grants_list");
        let screen = c.screen();
        assert!(screen.contains("[2 Grants]"), "{screen}");
        assert!(screen.contains("EMERGENCY"), "{screen}");
        assert!(screen.contains("break-glass: Unconscious"), "{screen}");
        c.key(KeyCode::Down);
        let screen = c.screen();
        assert!(
            screen.contains("3f2a9c11 · Active · read and write · 2 records (Consultation 2024-"),
            "{screen}"
        );
        assert!(
            screen.contains("2027-11-27 06:00 UTC (in 365 days)"),
            "{screen}"
        );
        c.key(KeyCode::Char('G'));
        c.snapshot("grants_list_revoked");
        assert!(c.screen().contains("by Emma Evans: Care episode ended"));
    }
}

#[test]
fn the_filter_asks_for_a_status_once_typing_pauses() {
    let mut c = on_grants(emma(), (120, 40), grants());
    c.key(KeyCode::Char('/'));
    c.type_text("revoked patient:carter");
    assert!(c.effects.is_empty(), "nothing is asked while typing");
    c.wait(std::time::Duration::from_millis(300));
    let Some(GrantWork::List { filter, .. }) = work(&c) else {
        panic!("{:?}", c.effects)
    };
    assert_eq!(filter.status, StatusFilter::Revoked);
    assert_eq!(filter.patient_words, ["carter"]);
    c.key(KeyCode::Enter);
    c.key(KeyCode::Char('/'));
    c.type_text(" colour:red");
    c.wait(std::time::Duration::from_millis(300));
    assert!(
        c.effects
            .iter()
            .all(|e| !matches!(e, Effect::Grants { .. }))
    );
    assert!(
        c.screen().contains("\"colour:red\" is not a filter"),
        "{}",
        c.screen()
    );
}

#[test]
fn a_clinician_sees_their_grants_read_only() {
    for size in SIZES {
        let held: Vec<Grant> = grants()
            .into_iter()
            .filter(|g| g.grantee.id == dr_smith().id)
            .collect();
        let mut c = on_grants(smith(), size, held);
        c.snapshot("grants_incoming");
        let screen = c.screen();
        assert!(!screen.contains("new grant"), "{screen}");
        assert!(screen.contains("(read-only)"), "{screen}");
        for key in ['n', 'e', 'x'] {
            c.key(KeyCode::Char(key));
            assert!(c.effects.is_empty(), "{key}: {:?}", c.effects);
            assert!(matches!(c.state.screen, Screen::Grants));
            assert!(c.state.grants.as_ref().unwrap().page.is_none());
        }
    }
}

#[test]
fn roles_without_grants_have_no_tab() {
    let mut c = Console::logged_in((80, 24));
    assert!(c.screen().contains("2 Grants"), "a physician has the tab");
    let mut billing = Console::new((80, 24));
    let t = billing.sign_in("billing@healthystellar.com", "Test123!@#");
    let session = Session::for_tests(super::records::billing(), at(2026, 11, 27, 18));
    billing.send(Msg::Done(
        t,
        Outcome::Login(Ok(LoginStep::LoggedIn(session))),
    ));
    assert!(!billing.screen().contains("Grants"), "{}", billing.screen());
    billing.key(KeyCode::Char('2'));
    assert!(!matches!(billing.state.screen, Screen::Grants));
    c.key(KeyCode::Char('2'));
    assert!(matches!(c.state.screen, Screen::Grants));
}

#[test]
fn an_older_search_answer_is_dropped_and_an_ended_session_signs_out() {
    let mut c = on_grants(emma(), (120, 40), grants());
    c.key(KeyCode::Char('n'));
    c.type_text("al");
    c.wait(FILTER_PAUSE);
    let first = c.ticket();
    c.type_text("i");
    assert!(
        !c.screen().contains("Looking… ") || c.effects.is_empty(),
        "a changed name asks nothing until typing pauses"
    );
    c.wait(FILTER_PAUSE);
    let second = c.ticket();
    let found = |who| {
        Outcome::Grants(Box::new(GrantResult::People(Ok(vec![candidate(
            who,
            Role::Patient,
            true,
        )]))))
    };
    c.send(Msg::Done(first, found(carol())));
    assert!(
        !c.screen().contains("Carol Carter"),
        "the answer to \"al\" came after \"ali\" was asked: dropped"
    );
    c.send(Msg::Done(second, found(alice())));
    assert!(c.screen().contains("Alice Anderson · Patient"));
    // Typing again forgets what was found: Enter cannot choose a person not shown for the text.
    c.type_text("x");
    c.key(KeyCode::Enter);
    assert!(c.screen().contains("Still looking"), "{}", c.screen());
    c.key(KeyCode::Backspace);
    c.wait(FILTER_PAUSE);
    c.send(Msg::Done(c.ticket(), found(alice())));
    c.key(KeyCode::Enter);
    assert!(
        c.effects.is_empty(),
        "a whole-chart grant reads no record list"
    );
    c.type_text("sm");
    c.wait(FILTER_PAUSE);
    let t = c.ticket();
    c.send(Msg::Done(
        t,
        Outcome::Grants(Box::new(GrantResult::People(Err(
            crate::services::ServiceError::SessionEnded,
        )))),
    ));
    assert!(matches!(c.state.screen, Screen::Login(_)));
    assert!(c.state.grants.is_none(), "the tab goes with the session");
    assert!(c.screen().contains("Your session has ended"));
}

#[test]
fn names_and_reasons_from_the_database_are_shown_not_obeyed() {
    let hostile = super::records::HOSTILE;
    let mut rows = grants();
    for g in &mut rows {
        g.patient.name = format!("Mallory{hostile}");
        g.grantee.name = format!("Eve{hostile}");
        g.granted_by.name = format!("Trent{hostile}");
    }
    rows[0].emergency_reason = Some(format!("Reason{hostile}"));
    rows[3].revocation_reason = Some(format!("Revoked{hostile}"));
    for size in SIZES {
        let mut c = on_grants(emma(), size, rows.clone());
        let mut screens = vec![c.screen()];
        c.key(KeyCode::Char('G'));
        screens.push(c.screen());
        c.key(KeyCode::Char('k'));
        c.key(KeyCode::Char('x'));
        c.type_text("Care episode ended");
        c.key(KeyCode::Enter);
        screens.push(c.screen());
        for screen in &screens {
            for raw in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\u{8}', '\r'] {
                assert!(
                    !screen.contains(raw),
                    "{raw:?} reached the screen:\n{screen}"
                );
            }
            assert!(screen.contains('␛'), "escapes are shown:\n{screen}");
        }
        assert!(screens[2].contains("Revoke this grant?"), "{}", screens[2]);
    }
}
