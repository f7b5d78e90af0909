//! The Records tab's browser and pages key by key: the filter as you type (once typing pauses;
//! stale pages dropped), a filtered search that stopped at its scan budget, keyset paging, the
//! break-glass question, tabs, the comparison's signs without colour, and the help.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use crossterm::event::KeyCode;
use ratatui::style::Color;
use uuid::Uuid;

use super::Console;
use super::records::{alice, annual, carol, record_id, rows, versions};
use super::records_editor::{edited, editor};
use crate::services::records::{Cursor, EmergencyGrant, diff};
use crate::services::users::Role;
use crate::tui::msg::{Effect, Msg, Outcome, RecordResult, RecordWork};
use crate::tui::screens::Screen;
use crate::tui::screens::records::Page;
use crate::tui::screens::records::browser::{FILTER_PAUSE, RecordPage};
use crate::tui::theme::{Palette, Theme};

/// The records work `update` just asked for, once typing has paused.
fn after_the_pause(c: &mut Console) -> &RecordWork {
    assert!(
        c.effects.is_empty(),
        "nothing is asked while typing: {:?}",
        c.effects
    );
    c.wait(FILTER_PAUSE);
    c.work()
}

#[test]
fn the_filter_lists_as_it_is_typed_and_drops_stale_pages() {
    let mut c = Console::physician((120, 40));
    c.key(KeyCode::Char('/'));
    c.key(KeyCode::Char('a'));
    let RecordWork::List { filter, after } = after_the_pause(&mut c) else {
        panic!()
    };
    assert_eq!(
        (filter.words.clone(), *after),
        (vec!["a".to_string()], None)
    );
    let first = c.ticket();
    c.key(KeyCode::Char('l'));
    let RecordWork::List { filter, .. } = after_the_pause(&mut c) else {
        panic!()
    };
    assert_eq!(filter.words, ["al"]);
    let second = c.ticket();
    assert!(second > first);

    // The answer to "a" comes last but is no longer wanted.
    let alice_rows: Vec<_> = rows(Role::Physician)
        .into_iter()
        .filter(|r| r.patient == alice())
        .collect();
    c.send(Msg::Done(
        second,
        Outcome::Records(Box::new(RecordResult::Page(Ok(RecordPage {
            rows: alice_rows,
            next: None,
        })))),
    ));
    c.send(Msg::Done(
        first,
        Outcome::Records(Box::new(RecordResult::Page(Ok(RecordPage {
            rows: Vec::new(),
            next: None,
        })))),
    ));
    let tab = c.state.records.as_ref().unwrap();
    assert_eq!(tab.browser.list.rows.len(), 2, "the stale page was dropped");

    // q and digits are text here; a filter that does not parse is one sentence, the list stays.
    c.type_text(" q1");
    assert!(c.state.leaving.is_none());
    assert!(matches!(c.state.screen, Screen::Records));
    c.type_text(" 2024-13");
    c.wait(FILTER_PAUSE);
    assert!(c.effects.is_empty(), "{:?}", c.effects);
    let screen = c.screen();
    assert!(
        screen.contains("Error: \"2024-13\" is not a date"),
        "{screen}"
    );
    assert_eq!(c.state.records.as_ref().unwrap().browser.list.rows.len(), 2);

    // Esc clears the filter and lists everything again, at once.
    c.key(KeyCode::Esc);
    let RecordWork::List { filter, .. } = c.work() else {
        panic!()
    };
    assert!(filter.is_empty());
    assert!(!c.state.typing());
}

#[test]
fn the_filter_asks_once_typing_pauses_and_enter_asks_at_once() {
    let mut c = Console::physician((120, 40));
    c.key(KeyCode::Char('/'));
    for ch in "car".chars() {
        c.key(KeyCode::Char(ch));
        c.wait(Duration::from_millis(100));
        assert!(c.effects.is_empty(), "a key every 100 ms: {:?}", c.effects);
    }
    c.wait(Duration::from_millis(100));
    assert!(c.effects.is_empty(), "200 ms after the last key");
    c.wait(Duration::from_millis(100));
    let RecordWork::List { filter, .. } = c.work() else {
        panic!()
    };
    assert_eq!(filter.words, ["car"], "one list for the whole burst");
    c.answer(RecordResult::Page(Ok(RecordPage {
        rows: rows(Role::Physician)[..2].to_vec(),
        next: None,
    })));
    c.wait(FILTER_PAUSE * 4);
    assert!(c.effects.is_empty(), "nothing more once it is listed");

    // Enter does not wait for the pause.
    c.type_text("ol");
    c.key(KeyCode::Enter);
    let RecordWork::List { filter, .. } = c.work() else {
        panic!()
    };
    assert_eq!(filter.words, ["carol"]);
    assert!(!c.state.typing());
    c.wait(FILTER_PAUSE * 4);
    assert!(c.effects.is_empty(), "not asked a second time");
}

#[test]
fn a_search_stopped_by_its_scan_budget_says_so_and_pgdn_searches_on() {
    let mut c = Console::physician((120, 40));
    let cursor = Cursor {
        record_date: chrono::NaiveDate::from_ymd_opt(2019, 3, 1).unwrap(),
        id: record_id(900),
    };
    c.key(KeyCode::Char('/'));
    c.type_text("carter");
    after_the_pause(&mut c);
    // The service looked through its 2,000 rows and found none, but there are more to look at.
    c.answer(RecordResult::Page(Ok(RecordPage {
        rows: Vec::new(),
        next: Some(cursor),
    })));
    let screen = c.screen();
    assert!(
        screen.contains("No match in the records searched so far — PgDn searches further."),
        "{screen}"
    );
    assert!(!screen.contains("No records match the filter."), "{screen}");

    // PgDn goes on from where the search stopped, even from the filter line.
    assert!(c.state.typing());
    c.key(KeyCode::PageDown);
    let RecordWork::List { filter, after } = c.work() else {
        panic!()
    };
    assert_eq!(
        (filter.words.clone(), *after),
        (vec!["carter".into()], Some(cursor))
    );
    c.answer(RecordResult::Page(Ok(RecordPage {
        rows: rows(Role::Physician)[..2].to_vec(),
        next: None,
    })));
    let screen = c.screen();
    assert!(screen.contains("page 2 · 2 shown"), "{screen}");
    assert!(screen.contains("Follow-up Visit"), "{screen}");

    // A search that looked through everything and found nothing says that.
    c.key(KeyCode::PageUp);
    assert!(matches!(c.work(), RecordWork::List { after: None, .. }));
    c.answer(RecordResult::Page(Ok(RecordPage {
        rows: Vec::new(),
        next: None,
    })));
    let screen = c.screen();
    assert!(screen.contains("No records match the filter."), "{screen}");
    assert!(!screen.contains("searched so far"), "{screen}");
}

#[test]
fn pages_follow_keyset_cursors_both_ways() {
    let mut c = Console::physician((80, 24));
    let cursor = Cursor {
        record_date: chrono::NaiveDate::from_ymd_opt(2024, 1, 15).unwrap(),
        id: record_id(1),
    };
    c.key(KeyCode::F(5));
    c.answer(RecordResult::Page(Ok(RecordPage {
        rows: rows(Role::Physician),
        next: Some(cursor),
    })));
    c.key(KeyCode::PageDown);
    assert!(matches!(c.work(), RecordWork::List { after: Some(a), .. } if *a == cursor));
    assert!(
        c.screen().contains("loading"),
        "a spinner while the page loads"
    );
    let page_two = c.ticket();
    c.key(KeyCode::Char('k'));
    assert!(
        c.effects.is_empty(),
        "keys still answer while the page loads"
    );
    c.send(Msg::Done(
        page_two,
        Outcome::Records(Box::new(RecordResult::Page(Ok(RecordPage {
            rows: rows(Role::Physician)[..1].to_vec(),
            next: None,
        })))),
    ));
    assert!(c.screen().contains("page 2"), "{}", c.screen());
    c.key(KeyCode::PageDown);
    assert!(c.effects.is_empty(), "no page after the last");
    assert!(c.screen().contains("This is the last page."));
    c.key(KeyCode::PageUp);
    assert!(matches!(c.work(), RecordWork::List { after: None, .. }));
}

#[test]
fn break_glass_cancels_on_enter_and_asks_reason_and_password() {
    let mut c = Console::physician((120, 40));
    c.key(KeyCode::Char('b'));
    c.type_text("ca");
    c.answer(RecordResult::Patients(Ok(vec![carol()])));
    c.key(KeyCode::Enter);
    c.key(KeyCode::Enter);
    assert!(c.effects.is_empty());
    assert!(
        c.state.records.as_ref().unwrap().pages.is_empty(),
        "Enter on the default answer cancels"
    );

    c.key(KeyCode::Char('b'));
    c.type_text("ca");
    c.answer(RecordResult::Patients(Ok(vec![carol()])));
    c.key(KeyCode::Enter);
    c.key(KeyCode::Right);
    c.key(KeyCode::Enter);
    c.type_text("short");
    c.key(KeyCode::Tab);
    c.type_text("Test123!@#");
    c.key(KeyCode::Enter);
    assert!(c.effects.is_empty());
    assert!(
        c.screen().contains("at least 10 characters"),
        "{}",
        c.screen()
    );
    c.type_text(": unconscious, allergies unknown");
    c.key(KeyCode::Tab);
    c.key(KeyCode::Enter);
    let RecordWork::BreakGlass {
        patient,
        reason,
        password,
    } = c.work()
    else {
        panic!()
    };
    assert_eq!(*patient, carol().id);
    assert_eq!(reason, "short: unconscious, allergies unknown");
    assert_eq!(password.as_str(), "Test123!@#");
    let Some(Page::BreakGlass(b)) = c.state.records.as_ref().unwrap().pages.last() else {
        panic!()
    };
    assert_eq!(
        b.password.value(),
        "",
        "the password left the field at once"
    );
    assert!(
        !c.screen().contains("Test123"),
        "the password is never drawn"
    );
    c.answer(RecordResult::Emergency(Ok(EmergencyGrant {
        grant: Uuid::from_u128(77),
        patient: carol(),
        expires_at: Utc.with_ymd_and_hms(2026, 11, 27, 11, 0, 0).unwrap(),
    })));
    assert!(
        matches!(c.work(), RecordWork::List { .. }),
        "the browser reloads"
    );
    assert!(
        c.screen().contains(
            "Emergency access to Carol Carter's records is open until 2026-11-27 11:00 UTC"
        ),
        "{}",
        c.screen()
    );
}

#[test]
fn digits_switch_tabs_and_an_open_record_waits() {
    let mut c = edited((120, 40));
    c.key(KeyCode::Char('0'));
    assert!(
        matches!(c.state.screen, Screen::Records),
        "0 is text in the editor"
    );
    assert!(editor(&c).reason.value().ends_with('0'));

    let mut c = Console::open_annual((120, 40));
    c.key(KeyCode::Char('0'));
    assert!(matches!(c.state.screen, Screen::Account(_)));
    assert!(matches!(c.effects.as_slice(), [Effect::LoadDevices { .. }]));
    c.key(KeyCode::Char('1'));
    assert!(matches!(c.state.screen, Screen::Records));
    assert!(c.effects.is_empty(), "the tab was kept as it was");
    assert!(c.screen().contains("Annual Physical Examination"));
}

#[test]
fn the_comparison_keeps_its_signs_without_colour() {
    for palette in [Palette::Default, Palette::Monochrome] {
        let mut c = Console::open_annual((120, 40));
        c.state.settings.theme = Theme::new(palette);
        c.key(KeyCode::Char('h'));
        let (v1, v2) = versions();
        c.answer(RecordResult::History(Ok(vec![
            v2.summary.clone(),
            v1.summary.clone(),
        ])));
        c.key(KeyCode::Char(' '));
        c.key(KeyCode::Down);
        c.key(KeyCode::Char(' '));
        c.key(KeyCode::Char('c'));
        let fields = diff::compare(&v1, &v2);
        c.answer(RecordResult::Compared(Ok((v1, v2, fields))));
        let (w, h) = c.state.size;
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
        terminal
            .draw(|f| crate::tui::view::draw(&c.state, f))
            .unwrap();
        let buffer = terminal.backend().buffer().clone();
        let row = (0..h)
            .find(|y| {
                let line: String = (0..w)
                    .map(|x| buffer[(x, *y)].symbol().to_string())
                    .collect();
                line.contains("- heartRate: 72")
            })
            .expect("the removed line is shown with its sign");
        let x = (0..w).find(|x| buffer[(*x, row)].symbol() == "-").unwrap();
        let colour = buffer[(x + 2, row)].fg;
        match palette {
            Palette::Monochrome => assert_eq!(colour, Color::Reset, "no colour, the sign says it"),
            _ => assert_eq!(colour, Color::Red),
        }
    }
}

#[test]
fn the_new_commands_are_in_the_help_and_can_be_rebound() {
    let mut c = Console::physician((80, 24));
    c.key(KeyCode::Char('?'));
    let screen = c.screen();
    for line in [
        "e  edit the record",
        "n  add a record for a patient",
        "h  the record's versions",
        "b  emergency access to a patient (break-glass)",
        "/  filter the list",
        "0  Account tab",
    ] {
        assert!(screen.contains(line), "{line:?} missing:\n{screen}");
    }
    c.key(KeyCode::Esc);
    c.key(KeyCode::Enter);
    c.answer(RecordResult::Detail(Ok(annual(true, 1))));
    c.key(KeyCode::Char('e'));
    c.key(KeyCode::F(1));
    let screen = c.screen();
    assert!(screen.contains("Ctrl-S  save the draft"), "{screen}");
    assert!(
        screen.contains("F5/Ctrl-R  reload from the database"),
        "{screen}"
    );
    assert!(screen.contains("letters are text"), "{screen}");

    let mut overrides = std::collections::BTreeMap::new();
    overrides.insert("edit".to_string(), "x".to_string());
    overrides.insert("save".to_string(), "f2".to_string());
    let mut c = Console::open_annual((80, 24));
    c.state.settings.keymap = crate::tui::keymap::Keymap::with_overrides(&overrides).unwrap();
    c.key(KeyCode::Char('e'));
    assert!(
        c.state.records.as_ref().unwrap().editor().is_none(),
        "e is no longer edit"
    );
    c.key(KeyCode::Char('x'));
    assert!(c.state.records.as_ref().unwrap().editor().is_some());
    assert!(c.screen().contains("F2 save"), "{}", c.screen());
    c.type_text("!");
    c.key(KeyCode::F(2));
    assert!(matches!(c.work(), RecordWork::Save(_)));
}

#[test]
fn a_record_refused_while_open_leaves_the_screen_and_the_list_is_read_again() {
    let mut c = Console::open_annual((120, 40));
    assert!(c.screen().contains("Routine annual physical examination"));
    c.ctrl('r');
    c.answer(RecordResult::Detail(Err(
        crate::services::ServiceError::Denied(crate::services::records::NOT_YOURS.into()),
    )));
    let screen = c.screen();
    assert!(screen.contains("You may not open this record"), "{screen}");
    assert!(
        !screen.contains("Routine annual physical examination"),
        "the content is gone:\n{screen}"
    );
    assert!(
        matches!(c.work(), RecordWork::List { .. }),
        "the browser's page is read again: {:?}",
        c.effects
    );
}

#[test]
fn a_save_refused_because_access_ended_closes_the_editor_and_the_record() {
    let mut c = edited((120, 40));
    c.ctrl('s');
    assert!(matches!(c.work(), RecordWork::Save(_)));
    c.answer(RecordResult::Saved(Err(
        crate::services::ServiceError::Denied(crate::services::records::NOT_YOURS.into()),
    )));
    let tab = c.state.records.as_ref().unwrap();
    assert!(
        tab.pages.is_empty(),
        "the editor and the record under it are closed"
    );
    assert!(
        !c.state.unsaved_draft(),
        "no draft of a record one may not open"
    );
    let screen = c.screen();
    assert!(screen.contains("You may not open this record"), "{screen}");
    for text in [
        "Next visit in a year",
        "Routine annual physical examination",
    ] {
        assert!(
            !screen.contains(text),
            "{text:?} left the screen:\n{screen}"
        );
    }
    assert!(matches!(c.work(), RecordWork::List { .. }));
}
