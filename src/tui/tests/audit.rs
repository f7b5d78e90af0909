//! The Audit tab driven by keys and drawn at 80×24 and 120×40: an admin's trail with serious events
//! marked in words, a patient's accounting of who looked at their records, the full event, the
//! filter, jumps to an event's user and record, the live tail, the "reviewed" mark and the export.

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::KeyCode;
use serde_json::json;
use uuid::Uuid;

use super::grants::emma;
use super::records::alice;
use super::{Console, SIZES, smith};
use crate::services::audit::export::{Exported, Format};
use crate::services::audit::filter::{AuditFilter, Who};
use crate::services::audit::query::{AuditEvent, AuditPage, Cursor, Named, Review};
use crate::services::audit::{Action, Severity};
use crate::services::auth::LoginStep;
use crate::services::sessions::Session;
use crate::services::users::{Role, UserSummary};
use crate::tui::msg::{AuditResult, AuditWork, Effect, Msg, Outcome, RecordResult};
use crate::tui::screens::Screen;
use crate::tui::screens::audit::TAIL_EVERY;
use crate::tui::screens::paged::FILTER_PAUSE;
use crate::tui::screens::records::browser::RecordPage;

fn admin() -> UserSummary {
    UserSummary {
        id: Uuid::from_u128(20),
        email: "admin@healthystellar.com".into(),
        first_name: "Admin".into(),
        last_name: "User".into(),
        role: Role::Admin,
    }
}

fn alice_user() -> UserSummary {
    UserSummary {
        id: alice().id,
        email: "patient1@example.com".into(),
        first_name: "Alice".into(),
        last_name: "Anderson".into(),
        role: Role::Patient,
    }
}

fn named(id: Uuid, name: &str, role: &str) -> Named {
    Named {
        id,
        name: Some(name.into()),
        role: Some(role.into()),
    }
}

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, h, m, s).unwrap()
}

fn event(seq: i64, action: Action, outcome: &str, when: DateTime<Utc>) -> AuditEvent {
    AuditEvent {
        seq,
        id: Uuid::from_u128(0xe000 + seq as u128),
        occurred_at: when,
        user: Some(named(smith().id, "John Smith", "physician")),
        session_id: Some(Uuid::from_u128(0x5e55)),
        action: action.name().into(),
        severity: action.severity().as_str().into(),
        resource_type: None,
        resource_id: None,
        patient: None,
        ip_address: Some("local".into()),
        user_agent: Some("hsc/0.1.0 (xterm-256color; local)".into()),
        outcome: outcome.into(),
        details: json!({}),
        break_glass_reason: None,
        review: None,
    }
}

fn record(n: u128) -> Uuid {
    Uuid::from_u128(0x1b2c_3d4e_0000_0000_0000_0000_0000_0000 + n)
}

/// Five events, newest first: break-glass, a refused attempt, a record opened, a failed sign-in
/// with a hostile terminal name, and an admin's reviewed AUDIT_VIEW.
fn events() -> Vec<AuditEvent> {
    let mut glass = event(5, Action::EmergencyAccess, "success", at(9, 40, 12));
    glass.user = Some(named(Uuid::from_u128(4), "Emily Williams", "nurse"));
    glass.patient = Some(named(alice().id, "Alice Anderson", "patient"));
    glass.resource_type = Some("access_grant".into());
    glass.resource_id = Some(Uuid::from_u128(0x3f2a_9c15 << 96));
    glass.break_glass_reason = Some("Unconscious in the ED, allergies unknown".into());
    glass.details = json!({"hours": 1, "expires_at": "2026-11-27T10:40:12+00:00"});

    let mut refused = event(4, Action::UnauthorizedAccessAttempt, "denied", at(9, 31, 0));
    refused.user = Some(named(Uuid::from_u128(9), "David Davis", "billing_staff"));
    refused.details = json!({"attempt": "view the audit trail"});

    let mut opened = event(3, Action::RecordView, "success", at(9, 30, 5));
    opened.patient = Some(named(alice().id, "Alice Anderson", "patient"));
    opened.resource_type = Some("medical_record".into());
    opened.resource_id = Some(record(1));
    opened.details = json!({"version": 2});

    let mut failed = event(2, Action::LoginFailed, "failed", at(9, 2, 44));
    failed.user = None;
    failed.session_id = None;
    failed.ip_address = Some("203.0.113.9".into());
    failed.user_agent = Some("evil\x1b]0;pwned\x07\u{202e}term".into());
    failed.details = json!({"reason": "unknown email \x1b[2J"});

    let mut viewed = event(1, Action::AuditView, "success", at(8, 0, 0));
    viewed.user = Some(named(admin().id, "Admin User", "admin"));
    viewed.review = Some(Review {
        by: named(admin().id, "Admin User", "admin"),
        at: at(8, 5, 0),
    });
    vec![glass, refused, opened, failed, viewed]
}

/// The patient's view: the accesses to Alice's records.
fn alices_events() -> Vec<AuditEvent> {
    events()
        .into_iter()
        .filter(|e| e.patient.as_ref().is_some_and(|p| p.id == alice().id))
        .collect()
}

/// `user` signed in, then on the Audit tab with `rows` (head 5).
fn on_audit(user: UserSummary, size: (u16, u16), rows: Vec<AuditEvent>) -> Console {
    let mut c = Console::new(size);
    let t = c.sign_in(&user.email.clone(), "Test123!@#");
    let browses = matches!(user.role, Role::Patient | Role::MedicalRecords);
    let session = Session::for_tests(user, at(18, 0, 0));
    c.send(Msg::Done(
        t,
        Outcome::Login(Ok(LoginStep::LoggedIn(session))),
    ));
    if browses {
        let t = c.ticket();
        c.send(Msg::Done(
            t,
            Outcome::Records(Box::new(RecordResult::Page(Ok(RecordPage {
                rows: Vec::new(),
                next: None,
            })))),
        ));
    }
    c.key(KeyCode::Char('3'));
    assert!(matches!(c.state.screen, Screen::Audit), "{}", c.screen());
    let Some(AuditWork::List { filter, after }) = work(&c) else {
        panic!("the tab asks for its first page: {:?}", c.effects)
    };
    assert_eq!((filter, after), (&AuditFilter::default(), &None));
    answer(
        &mut c,
        AuditResult::Page(Ok(AuditPage {
            events: rows,
            next: None,
            head: 5,
        })),
    );
    c
}

fn work(c: &Console) -> Option<&AuditWork> {
    match c.effects.as_slice() {
        [Effect::Audit { work, .. }] => Some(work),
        _ => None,
    }
}

fn answer(c: &mut Console, result: AuditResult) {
    let t = c.ticket();
    c.send(Msg::Done(t, Outcome::Audit(Box::new(result))));
}

#[test]
fn an_admin_sees_every_event_with_the_serious_ones_marked_in_words() {
    for size in SIZES {
        let mut c = on_audit(admin(), size, events());
        c.snapshot("audit_list_admin");
        let screen = c.screen();
        assert!(screen.contains("[3 Audit]"), "{screen}");
        assert!(
            screen.contains("▶ !!  11-27 09:40:12 CRITICAL"),
            "critical: {screen}"
        );
        assert!(screen.contains("BREAK-GLASS EMERGENCY"), "{screen}");
        assert!(screen.contains("!   11-27 09:31:00 HIGH"), "high: {screen}");
        assert!(
            screen.contains("Reason     Unconscious in the ED"),
            "{screen}"
        );
        c.key(KeyCode::Char('G'));
        let screen = c.screen();
        assert!(screen.contains("  ✓ 11-27 08:00:00"), "reviewed: {screen}");
        assert!(
            screen.contains("Reviewed   by Admin User at 2026-11-27 08:05 UTC"),
            "{screen}"
        );
    }
}

#[test]
fn a_patient_sees_who_looked_at_their_records_and_why_break_glass_was_used() {
    for size in SIZES {
        let mut c = on_audit(alice_user(), size, alices_events());
        c.snapshot("audit_list_patient");
        let screen = c.screen();
        assert!(screen.contains("Who looked at your records"), "{screen}");
        assert!(screen.contains("Emily Williams (nurse)"), "{screen}");
        assert!(screen.contains("BREAK-GLASS: emergency access"), "{screen}");
        assert!(screen.contains("Unconscious in the ED"), "{screen}");
        c.key(KeyCode::Down);
        assert!(
            c.screen().contains("opened record 1b2c3d4e"),
            "{}",
            c.screen()
        );
        // Marking reviewed is an admin's.
        c.key(KeyCode::Char('v'));
        assert!(c.effects.is_empty());
        assert!(c.screen().contains("Only admins mark events reviewed."));
    }
}

#[test]
fn an_event_opens_in_full_with_its_details_and_hostile_text_made_inert() {
    for size in SIZES {
        let mut c = on_audit(admin(), size, events());
        c.key(KeyCode::Down);
        c.key(KeyCode::Down);
        c.key(KeyCode::Down);
        c.key(KeyCode::Enter);
        c.snapshot("audit_event_full");
        let screen = c.screen();
        assert!(screen.contains("Audit event 2"), "{screen}");
        assert!(screen.contains("203.0.113.9"), "{screen}");
        assert!(screen.contains("\"reason\""), "{screen}");
        assert!(
            !screen.contains('\x1b') && !screen.contains('\u{202e}'),
            "{screen:?}"
        );
        c.key(KeyCode::Esc);
        assert!(c.screen().contains("Every event, newest first"));
    }
}

#[test]
fn the_filter_is_read_once_typing_pauses_and_a_bad_word_is_named() {
    let mut c = on_audit(admin(), (120, 40), events());
    c.key(KeyCode::Char('/'));
    c.type_text("severity:urgent");
    assert!(c.effects.is_empty());
    c.wait(FILTER_PAUSE);
    assert!(c.effects.is_empty(), "{:?}", c.effects);
    assert!(
        c.screen()
            .contains("\"urgent\" is not a severity; use low, medium, high or critical.")
    );
    for _ in 0.."urgent".len() {
        c.key(KeyCode::Backspace);
    }
    c.type_text("high outcome:denied");
    c.wait(FILTER_PAUSE);
    let Some(AuditWork::List {
        filter,
        after: None,
    }) = work(&c)
    else {
        panic!("{:?}", c.effects)
    };
    assert_eq!(filter.severity, Some(Severity::High));
    assert_eq!(
        filter.outcome,
        Some(crate::services::audit::Outcome::Denied)
    );
}

#[test]
fn an_event_leads_to_the_events_of_its_user_patient_and_record() {
    let mut c = on_audit(admin(), (120, 40), events());
    c.key(KeyCode::Down);
    c.key(KeyCode::Down);
    c.key(KeyCode::Char('u'));
    let Some(AuditWork::List { filter, .. }) = work(&c) else {
        panic!("{:?}", c.effects)
    };
    assert!(filter.user == Some(Who::Id(smith().id)));
    assert!(c.screen().contains(&format!("user:{}", smith().id)));
    answer(
        &mut c,
        AuditResult::Page(Ok(AuditPage {
            events: vec![events().remove(2)],
            next: None,
            head: 5,
        })),
    );
    c.key(KeyCode::Char('r'));
    let Some(AuditWork::List { filter, .. }) = work(&c) else {
        panic!("{:?}", c.effects)
    };
    let range = filter.resource.unwrap();
    assert_eq!((range.low, range.high), (record(1), record(1)));
    assert!(filter.user.is_none(), "a jump replaces the filter");
    // From the full event as well; an event without a patient says so.
    answer(
        &mut c,
        AuditResult::Page(Ok(AuditPage {
            events: vec![events().remove(3)],
            next: None,
            head: 5,
        })),
    );
    c.key(KeyCode::Enter);
    c.key(KeyCode::Char('p'));
    assert!(c.effects.is_empty());
    assert!(
        c.screen().contains("This event is about no patient."),
        "{}",
        c.screen()
    );
}

#[test]
fn new_events_appear_on_the_first_page_within_a_second_and_not_deeper() {
    let mut c = on_audit(admin(), (120, 40), events());
    c.wait(TAIL_EVERY / 2);
    assert!(c.effects.is_empty(), "not yet: {:?}", c.effects);
    c.wait(TAIL_EVERY / 2);
    let Some(AuditWork::Newer { filter, after_seq }) = work(&c) else {
        panic!("the tail polls: {:?}", c.effects)
    };
    assert_eq!((filter, *after_seq), (&AuditFilter::default(), 5));
    let mut six = event(6, Action::RecordUpdate, "success", at(9, 50, 0));
    six.resource_id = Some(record(1));
    let seven = event(7, Action::Logout, "success", at(9, 51, 0));
    answer(&mut c, AuditResult::Newer(Ok((vec![six, seven], 7))));
    let screen = c.screen();
    assert!(screen.contains("2 new events."), "{screen}");
    let logout = screen.find("LOGOUT").unwrap();
    let update = screen.find("RECORD_UPDATE").unwrap();
    let glass = screen.find("BREAK-GLASS").unwrap();
    assert!(logout < update && update < glass, "newest first: {screen}");
    c.wait(TAIL_EVERY);
    assert!(matches!(
        work(&c),
        Some(AuditWork::Newer { after_seq: 7, .. })
    ));
    answer(&mut c, AuditResult::Newer(Ok((Vec::new(), 7))));

    // Paused with `t`: no polls.
    c.key(KeyCode::Char('t'));
    c.wait(TAIL_EVERY * 3);
    assert!(c.effects.is_empty(), "{:?}", c.effects);
    assert!(c.screen().contains("paused"));
    c.key(KeyCode::Char('t'));
    c.wait(TAIL_EVERY);
    assert!(matches!(work(&c), Some(AuditWork::Newer { .. })));
}

#[test]
fn older_pages_are_not_followed() {
    let mut c = on_audit(admin(), (120, 40), Vec::new());
    c.key(KeyCode::F(5));
    answer(
        &mut c,
        AuditResult::Page(Ok(AuditPage {
            events: events(),
            next: Some(Cursor {
                occurred_at: at(8, 0, 0),
                seq: 1,
            }),
            head: 5,
        })),
    );
    c.key(KeyCode::PageDown);
    let Some(AuditWork::List { after: Some(_), .. }) = work(&c) else {
        panic!("{:?}", c.effects)
    };
    answer(
        &mut c,
        AuditResult::Page(Ok(AuditPage {
            events: Vec::new(),
            next: None,
            head: 5,
        })),
    );
    c.wait(TAIL_EVERY * 2);
    assert!(
        c.effects.is_empty(),
        "page 2 is not followed: {:?}",
        c.effects
    );
}

#[test]
fn an_admin_marks_an_event_reviewed_once() {
    let mut c = on_audit(admin(), (120, 40), events());
    c.key(KeyCode::Char('v'));
    assert!(matches!(work(&c), Some(AuditWork::Review { seq: 5 })));
    answer(
        &mut c,
        AuditResult::Reviewed {
            seq: 5,
            result: Ok(Review {
                by: named(admin().id, "Admin User", "admin"),
                at: at(10, 0, 0),
            }),
        },
    );
    let screen = c.screen();
    assert!(screen.contains("Event 5 marked reviewed."), "{screen}");
    assert!(screen.contains("!!✓"), "{screen}");
    c.key(KeyCode::Char('v'));
    assert!(c.effects.is_empty());
    assert!(
        c.screen()
            .contains("Event 5 was already marked reviewed by Admin User.")
    );
}

#[test]
fn the_filtered_events_export_after_a_confirm_that_names_the_file() {
    for size in SIZES {
        let mut c = on_audit(emma(), size, alices_events());
        c.key(KeyCode::Char('x'));
        assert!(
            c.screen().contains("hsc-audit-2026-11-27.csv"),
            "{}",
            c.screen()
        );
        c.key(KeyCode::Tab);
        c.key(KeyCode::Right);
        assert!(
            c.screen().contains("hsc-audit-2026-11-27.jsonl"),
            "the name follows the format"
        );
        c.key(KeyCode::Enter);
        c.snapshot("audit_export_confirm");
        assert!(c.screen().contains("AUDIT_EXPORT"));
        c.key(KeyCode::Enter);
        assert!(c.effects.is_empty(), "No is the default");
        c.key(KeyCode::Enter);
        c.key(KeyCode::Right);
        c.key(KeyCode::Enter);
        let Some(AuditWork::Export {
            filter,
            format,
            path,
        }) = work(&c)
        else {
            panic!("{:?}", c.effects)
        };
        assert_eq!(
            (filter, *format, path.to_str()),
            (
                &AuditFilter::default(),
                Format::Jsonl,
                Some("/srv/hsc/exports/hsc-audit-2026-11-27.jsonl")
            )
        );
        answer(
            &mut c,
            AuditResult::Exported(Ok(Exported {
                rows: 2,
                path: "/srv/hsc/exports/hsc-audit-2026-11-27.jsonl".into(),
            })),
        );
        let screen = c.screen();
        assert!(
            screen.contains("Exported 2 events to /srv/hsc/exports/hsc-audit-2026-11-27.jsonl"),
            "{screen}"
        );
    }
}

#[test]
fn an_export_names_a_file_in_the_exports_folder_never_a_place() {
    let mut c = on_audit(admin(), (120, 40), events());
    c.key(KeyCode::Char('x'));
    for _ in 0..40 {
        c.key(KeyCode::Backspace);
    }
    for bad in [
        "../../root/.ssh/authorized_keys",
        "/etc/cron.d/x",
        ".hidden",
    ] {
        c.type_text(bad);
        c.key(KeyCode::Enter);
        assert!(c.effects.is_empty(), "{bad}");
        let screen = c.screen();
        assert!(
            screen.contains("is not a plain file name"),
            "{bad}: {screen}"
        );
        for _ in 0..bad.len() {
            c.key(KeyCode::Backspace);
        }
    }
    c.key(KeyCode::Enter);
    assert!(c.screen().contains("Name the file to write the events to."));
}

#[test]
fn only_admins_records_staff_and_patients_have_the_tab() {
    let mut c = Console::logged_in((120, 40));
    assert!(!c.screen().contains("Audit"), "{}", c.screen());
    c.key(KeyCode::Char('3'));
    assert!(c.effects.is_empty());
    assert!(!matches!(c.state.screen, Screen::Audit));
}
