//! A draft is not lost silently: `q` with a changed draft open asks first (from the Account tab as
//! well), the record shown over a draft opens nothing deeper, a session that ends with a draft open
//! says on the login screen that it was discarded, and `{:?}` of the console shows neither the draft
//! nor a break-glass password.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyModifiers};

use super::Console;
use super::records::{annual, carol};
use super::records_editor::{edited, editor};
use crate::services::ServiceError;
use crate::services::sessions::SessionState;
use crate::tui::msg::{Effect, Msg, Outcome, RecordResult, RecordWork};
use crate::tui::screens::Screen;
use crate::tui::screens::records::Page;
use crate::tui::state::{DRAFT_DISCARDED, Note, SESSION_CHECK};

/// `edited`, then Ctrl-R: the record as saved now is shown over the draft.
fn over_the_draft(size: (u16, u16)) -> Console {
    let mut c = edited(size);
    c.press(KeyCode::Char('r'), KeyModifiers::CONTROL);
    c.answer(RecordResult::Detail(Ok(annual(true, 1))));
    assert!(matches!(
        c.state.records.as_ref().unwrap().pages.last(),
        Some(Page::Detail(d)) if d.over_draft
    ));
    c
}

/// The note under the login form (it wraps on screen).
fn login_note(c: &Console) -> String {
    match &c.state.screen {
        Screen::Login(l) => match &l.note {
            Some(Note::Info(text) | Note::Error(text)) => text.clone(),
            None => String::new(),
        },
        _ => panic!("not on the login screen:\n{}", c.screen()),
    }
}

/// The Account tab, its devices loaded.
fn account_tab(c: &mut Console) {
    c.key(KeyCode::Char('0'));
    assert!(matches!(c.state.screen, Screen::Account(_)));
    let t = c.ticket();
    c.send(Msg::Done(t, Outcome::Devices(Ok((Vec::new(), 0)))));
}

fn ends_session(c: &Console) -> bool {
    c.effects
        .iter()
        .any(|e| matches!(e, Effect::EndSession { .. }))
}

#[test]
fn q_from_the_account_tab_asks_before_a_draft_is_thrown_away() {
    let mut c = over_the_draft((80, 24));
    account_tab(&mut c);
    c.key(KeyCode::Char('q'));
    assert!(!ends_session(&c) && c.state.leaving.is_none(), "not yet");
    let screen = c.screen();
    assert!(
        screen.contains("Log out and throw it away?") && screen.contains("▶ [ No, keep editing ]"),
        "{screen}"
    );
    // Enter on the default keeps everything; digits do not switch tabs under the question.
    c.key(KeyCode::Char('1'));
    assert!(matches!(c.state.screen, Screen::Account(_)));
    c.key(KeyCode::Enter);
    assert!(c.state.quit_ask.is_none() && c.state.leaving.is_none());
    assert!(!c.screen().contains("Log out and throw it away?"));

    // The draft is where it was.
    c.key(KeyCode::Char('1'));
    c.key(KeyCode::Esc);
    assert!(matches!(
        c.state.records.as_ref().unwrap().pages.last(),
        Some(Page::Editor(_))
    ));
    assert!(editor(&c).reason.value() == "Added the follow-up plan");

    // Esc answers No as well; Yes logs out.
    c.press(KeyCode::Char('r'), KeyModifiers::CONTROL);
    c.answer(RecordResult::Detail(Ok(annual(true, 1))));
    account_tab(&mut c);
    c.key(KeyCode::Char('q'));
    c.key(KeyCode::Esc);
    assert!(c.state.quit_ask.is_none() && c.state.leaving.is_none());
    c.key(KeyCode::Char('q'));
    c.key(KeyCode::Right);
    assert!(c.screen().contains("▶ [ Yes, log out ]"), "{}", c.screen());
    c.key(KeyCode::Enter);
    assert!(ends_session(&c), "{:?}", c.effects);
    assert!(c.state.leaving.is_some());
}

#[test]
fn q_without_a_draft_logs_out_at_once() {
    let mut c = Console::open_annual((80, 24));
    c.key(KeyCode::Char('e'));
    c.key(KeyCode::Esc);
    assert!(c.state.records.as_ref().unwrap().editor().is_none());
    account_tab(&mut c);
    c.key(KeyCode::Char('q'));
    assert!(ends_session(&c), "{:?}", c.effects);
    assert!(c.state.quit_ask.is_none());
}

#[test]
fn the_record_over_a_draft_opens_no_history() {
    for size in [(80, 24), (120, 40)] {
        let mut c = over_the_draft(size);
        let screen = c.screen();
        assert!(!screen.contains("h history"), "{screen}");
        c.key(KeyCode::Char('h'));
        assert!(c.effects.is_empty(), "{:?}", c.effects);
        assert!(
            c.screen().contains("Your draft is still open"),
            "{}",
            c.screen()
        );
        // `q` here is nothing; the draft is one Esc away.
        c.key(KeyCode::Char('q'));
        assert!(c.state.leaving.is_none() && c.state.quit_ask.is_none());
        c.key(KeyCode::Esc);
        assert!(editor(&c).changed());
    }
}

#[test]
fn a_session_ended_elsewhere_says_the_draft_was_discarded() {
    let mut c = edited((120, 40));
    c.press(KeyCode::Char('s'), KeyModifiers::CONTROL);
    c.answer(RecordResult::Saved(Err(ServiceError::SessionEnded)));
    assert!(c.state.live.is_none());
    assert_eq!(
        login_note(&c),
        format!("Your session has ended. Sign in again to continue. {DRAFT_DISCARDED}")
    );
    assert!(c.screen().contains("Your unsaved record draft was"));

    // Without a draft the note says nothing of one.
    let mut c = Console::open_annual((120, 40));
    c.key(KeyCode::F(5));
    c.answer(RecordResult::Detail(Err(ServiceError::SessionEnded)));
    assert_eq!(
        login_note(&c),
        "Your session has ended. Sign in again to continue."
    );
}

#[test]
fn a_revoked_session_with_a_draft_waiting_out_an_outage_says_it_was_discarded() {
    let mut c = edited((120, 40));
    c.press(KeyCode::Char('s'), KeyModifiers::CONTROL);
    c.answer(RecordResult::Saved(Err(super::records_editor::down())));
    c.wait(SESSION_CHECK);
    let check = c
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::CheckSession { ticket, .. } => Some(*ticket),
            _ => None,
        })
        .expect("the session is checked");
    c.send(Msg::Done(
        check,
        Outcome::SessionState(Ok(SessionState::Revoked {
            reason: "ended by an administrator".into(),
        })),
    ));
    assert_eq!(
        login_note(&c),
        format!(
            "Your session was ended (ended by an administrator). Sign in again to continue. \
             {DRAFT_DISCARDED}"
        )
    );
}

#[test]
fn debug_output_shows_neither_the_draft_nor_the_password() {
    let mut c = edited((120, 40));
    c.type_text(" — Mallory's HIV result");
    c.press(KeyCode::Char('s'), KeyModifiers::CONTROL);
    assert!(matches!(c.work(), RecordWork::Save(_)));
    c.answer(RecordResult::Saved(Err(super::records_editor::down())));
    let printed = format!("{:?}\n{:?}", c.state, c.effects);
    for secret in ["Next visit in a year", "HIV result", "Routine annual"] {
        assert!(!printed.contains(secret), "{secret:?} in {printed}");
    }
    c.wait(Duration::from_secs(3));
    let printed = format!("{:?}", c.effects);
    assert!(printed.contains("Save(SaveRequest"), "{printed}");
    assert!(!printed.contains("HIV result"), "{printed}");

    let mut c = Console::physician((120, 40));
    c.key(KeyCode::Char('b'));
    c.type_text("ca");
    c.answer(RecordResult::Patients(Ok(vec![carol()])));
    c.key(KeyCode::Enter);
    c.key(KeyCode::Right);
    c.key(KeyCode::Enter);
    c.type_text("unconscious, allergies unknown");
    c.key(KeyCode::Tab);
    c.type_text("S3cret-Pass!");
    let printed = format!("{:?}", c.state);
    assert!(!printed.contains("S3cret-Pass!"), "{printed}");
    assert!(!printed.contains("Carol Carter"), "{printed}");
    c.key(KeyCode::Enter);
    assert!(matches!(c.work(), RecordWork::BreakGlass { .. }));
    let printed = format!("{:?}\n{:?}", c.state, c.effects);
    for secret in ["S3cret-Pass!", "allergies unknown"] {
        assert!(!printed.contains(secret), "{secret:?} in {printed}");
    }
}
