//! The Records tab key by key: the filter as you type (stale pages dropped), keyset paging, the
//! editor's save, an outage that keeps the draft and retries the same change, a conflict, the
//! break-glass question, tabs, and the comparison's signs without colour.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::style::Color;
use uuid::Uuid;

use super::Console;
use super::records::{alice, annual, carol, record_id, rows, versions};
use crate::db::DbError;
use crate::services::ServiceError;
use crate::services::records::{Cursor, EmergencyGrant, Saved, diff};
use crate::services::users::Role;
use crate::tui::msg::{Effect, Msg, Outcome, RecordResult, RecordWork, SaveRequest, SaveTarget};
use crate::tui::screens::Screen;
use crate::tui::screens::records::Page;
use crate::tui::screens::records::browser::RecordPage;
use crate::tui::theme::{Palette, Theme};

fn down() -> ServiceError {
    ServiceError::Database(DbError::Unavailable("connection refused".into()))
}

fn save_request(c: &Console) -> Arc<SaveRequest> {
    match c.work() {
        RecordWork::Save(request) => request.clone(),
        other => panic!("expected a save, got {other:?}"),
    }
}

/// Dr Smith's record 1 in the editor, the description's last line extended and a reason given.
fn edited(size: (u16, u16)) -> Console {
    let mut c = Console::open_annual(size);
    c.key(KeyCode::Char('e'));
    for _ in 0..3 {
        c.key(KeyCode::Tab);
    }
    c.press(KeyCode::End, KeyModifiers::CONTROL);
    c.type_text(" Next visit in a year.");
    c.key(KeyCode::Tab);
    c.key(KeyCode::Tab);
    c.type_text("Added the follow-up plan");
    c
}

fn editor(c: &Console) -> &crate::tui::screens::records::editor::Editor {
    c.state
        .records
        .as_ref()
        .and_then(|t| t.editor())
        .expect("the editor is open")
}

#[test]
fn the_filter_lists_as_it_is_typed_and_drops_stale_pages() {
    let mut c = Console::physician((120, 40));
    c.key(KeyCode::Char('/'));
    c.key(KeyCode::Char('a'));
    let RecordWork::List { filter, after } = c.work() else {
        panic!()
    };
    assert_eq!(
        (filter.words.clone(), *after),
        (vec!["a".to_string()], None)
    );
    let first = c.ticket();
    c.key(KeyCode::Char('l'));
    let RecordWork::List { filter, .. } = c.work() else {
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
    assert_eq!(tab.browser.rows.len(), 2, "the stale page was dropped");

    // q and digits are text here; a filter that does not parse is one sentence, the list stays.
    c.type_text(" q1");
    assert!(c.state.leaving.is_none());
    assert!(matches!(c.state.screen, Screen::Records));
    c.type_text(" 2024-13");
    assert!(c.effects.is_empty(), "{:?}", c.effects);
    let screen = c.screen();
    assert!(
        screen.contains("Error: \"2024-13\" is not a date"),
        "{screen}"
    );
    assert_eq!(c.state.records.as_ref().unwrap().browser.rows.len(), 2);

    // Esc clears the filter and lists everything again.
    c.key(KeyCode::Esc);
    let RecordWork::List { filter, .. } = c.work() else {
        panic!()
    };
    assert!(filter.is_empty());
    assert!(!c.state.typing());
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
fn ctrl_s_saves_the_draft_with_its_reason() {
    let mut c = edited((120, 40));
    let change_id = editor(&c).change_id;
    c.press(KeyCode::Char('s'), KeyModifiers::CONTROL);
    let request = save_request(&c);
    assert_eq!(request.change_id, change_id);
    assert_eq!(
        request.target,
        SaveTarget::Existing {
            record: record_id(1),
            base_version: 1,
            reason: "Added the follow-up plan".into()
        }
    );
    let mut expected = annual(true, 1).content.unwrap();
    expected.description.push_str(" Next visit in a year.");
    assert_eq!(request.draft.content, expected);
    assert_eq!(request.draft.record_date.to_string(), "2024-01-15");
    assert!(c.screen().contains("Saving…"));

    c.answer(RecordResult::Saved(Ok(Saved {
        record: record_id(1),
        version: 2,
    })));
    assert!(
        c.state.records.as_ref().unwrap().editor().is_none(),
        "the editor closed"
    );
    assert!(
        c.effects.iter().any(|e| matches!(e, Effect::Records { work: RecordWork::View(id), .. } if *id == record_id(1))),
        "the record is shown again: {:?}",
        c.effects
    );
    assert!(c.effects.iter().any(|e| matches!(
        e,
        Effect::Records {
            work: RecordWork::List { .. },
            ..
        }
    )));
    assert!(c.screen().contains("Saved as version 2."), "{}", c.screen());
}

#[test]
fn an_outage_keeps_the_draft_and_retries_the_same_change() {
    let mut c = edited((120, 40));
    c.press(KeyCode::Char('s'), KeyModifiers::CONTROL);
    let first = save_request(&c);
    let first_ticket = c.ticket();
    c.answer(RecordResult::Saved(Err(down())));
    let screen = c.screen();
    assert!(
        screen.contains("database not answering — will retry"),
        "{screen}"
    );
    assert!(screen.contains("!! DATABASE NOT ANSWERING"), "{screen}");
    assert!(
        editor(&c)
            .draft()
            .unwrap()
            .content
            .description
            .ends_with("Next visit in a year.")
    );

    // Keys neither change the waiting draft nor lose it; the lock hides it and gives it back.
    c.type_text("zzz");
    assert_eq!(editor(&c).draft().unwrap(), first.draft);
    c.ctrl('l');
    c.wait(Duration::from_secs(1));
    assert!(
        !c.effects
            .iter()
            .any(|e| matches!(e, Effect::Records { .. })),
        "not yet"
    );
    c.wait(Duration::from_secs(3));
    let retry = c
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::Records {
                ticket,
                work: RecordWork::Save(r),
                ..
            } => Some((*ticket, r.clone())),
            _ => None,
        })
        .expect("the save is tried again");
    assert_eq!(retry.1.change_id, first.change_id, "the same change id");
    assert_eq!(retry.1, first, "the very same save");

    // The first attempt's answer is stale now; it changes nothing.
    c.send(Msg::Done(
        first_ticket,
        Outcome::Records(Box::new(RecordResult::Saved(Err(down())))),
    ));
    assert!(editor(&c).saving.is_some());

    c.send(Msg::Done(
        retry.0,
        Outcome::Records(Box::new(RecordResult::Saved(Ok(Saved {
            record: record_id(1),
            version: 2,
        })))),
    ));
    assert!(c.state.records.as_ref().unwrap().editor().is_none());
    assert!(c.state.db_trouble.is_none());
}

#[test]
fn a_conflict_keeps_the_draft_and_a_reload_saves_on_top() {
    let mut c = edited((120, 40));
    c.press(KeyCode::Char('s'), KeyModifiers::CONTROL);
    let first = save_request(&c);
    let sentence = "This record was changed by Sarah Johnson at 2026-11-27 10:00 UTC — reload it to see their version; nothing was saved.";
    c.answer(RecordResult::Saved(Err(ServiceError::Conflict(
        sentence.into(),
    ))));
    assert!(
        c.screen()
            .contains("This record was changed by Sarah Johnson"),
        "{}",
        c.screen()
    );
    assert_eq!(
        editor(&c).draft().unwrap(),
        first.draft,
        "the draft is kept"
    );
    assert!(editor(&c).pending.is_none(), "no retry after a conflict");

    c.press(KeyCode::Char('r'), KeyModifiers::CONTROL);
    assert!(matches!(c.work(), RecordWork::View(id) if *id == record_id(1)));
    let mut theirs = annual(true, 2);
    theirs.updated_by.name = "Sarah Johnson".into();
    c.answer(RecordResult::Detail(Ok(theirs)));
    assert!(
        c.screen().contains("Esc returns to your draft"),
        "{}",
        c.screen()
    );
    c.key(KeyCode::Char('e'));
    assert!(c.effects.is_empty(), "no second editor over the draft");
    c.key(KeyCode::Esc);
    c.press(KeyCode::Char('s'), KeyModifiers::CONTROL);
    let again = save_request(&c);
    assert_eq!(again.draft, first.draft);
    assert_eq!(again.change_id, first.change_id);
    assert!(matches!(
        again.target,
        SaveTarget::Existing {
            base_version: 2,
            ..
        }
    ));
}

#[test]
fn esc_asks_before_a_changed_draft_is_thrown_away() {
    let mut c = edited((80, 24));
    c.key(KeyCode::Esc);
    assert!(
        c.screen().contains("▶ [ No, keep editing ]"),
        "{}",
        c.screen()
    );
    c.key(KeyCode::Enter);
    assert!(
        editor(&c).confirm.is_none(),
        "Enter on the default keeps the draft"
    );
    assert!(editor(&c).changed());
    c.key(KeyCode::Esc);
    c.key(KeyCode::Right);
    c.key(KeyCode::Enter);
    assert!(c.state.records.as_ref().unwrap().editor().is_none());
    assert!(matches!(
        c.state.records.as_ref().unwrap().pages.last(),
        Some(Page::Detail(_))
    ));
}

#[test]
fn bad_input_keeps_the_draft_with_one_sentence() {
    let mut c = Console::open_annual((120, 40));
    c.key(KeyCode::Char('e'));
    c.type_text("q1");
    assert!(c.state.leaving.is_none(), "q is text in a field");
    c.key(KeyCode::Tab);
    c.key(KeyCode::Tab);
    c.key(KeyCode::Backspace);
    c.type_text("x");
    c.press(KeyCode::Char('s'), KeyModifiers::CONTROL);
    assert!(c.effects.is_empty());
    assert!(
        c.screen().contains("is not a date; write it as YYYY-MM-DD"),
        "{}",
        c.screen()
    );
    c.key(KeyCode::Backspace);
    c.type_text("5");
    c.press(KeyCode::Char('s'), KeyModifiers::CONTROL);
    c.answer(RecordResult::Saved(Err(ServiceError::Invalid(
        "Give a reason for the change; it is kept with the version.".into(),
    ))));
    assert!(
        c.screen().contains("Error: Give a reason for the change"),
        "{}",
        c.screen()
    );
    assert!(editor(&c).draft().unwrap().content.title.ends_with("q1"));
}

#[test]
fn a_new_record_starts_with_the_patient() {
    let mut c = Console::physician((120, 40));
    c.key(KeyCode::Char('n'));
    assert!(matches!(c.work(), RecordWork::WritablePatients));
    c.answer(RecordResult::Patients(Ok(vec![alice(), carol()])));
    c.type_text("car");
    c.key(KeyCode::Enter);
    assert!(
        c.screen().contains("New record for Carol Carter"),
        "{}",
        c.screen()
    );
    assert!(c.screen().contains("Date: 2026-11-27"), "{}", c.screen());
    c.type_text("Telephone consultation");
    c.press(KeyCode::Char('s'), KeyModifiers::CONTROL);
    let request = save_request(&c);
    assert_eq!(
        request.target,
        SaveTarget::New {
            patient: carol().id
        }
    );
    assert_eq!(request.draft.content.title, "Telephone consultation");
    c.answer(RecordResult::Saved(Ok(Saved {
        record: record_id(7),
        version: 1,
    })));
    assert!(
        c.screen().contains("Saved: the record was added."),
        "{}",
        c.screen()
    );
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
fn a_pasted_megabyte_lands_in_the_description_and_scrolls_to_its_end() {
    let mut c = Console::open_annual((80, 24));
    c.key(KeyCode::Char('e'));
    for _ in 0..3 {
        c.key(KeyCode::Tab);
    }
    let big = format!("{}\n", "a line of the pasted text".repeat(4)).repeat(9_000);
    c.send(Msg::Paste(big.clone()));
    let ed = editor(&c);
    assert!(ed.note.is_none(), "{:?}", ed.note);
    assert!(ed.description.text().starts_with(&big));
    assert_eq!(ed.description.cursor(), (9_000, 0));
    let screen = c.screen();
    assert!(
        screen.contains("│Routine annual"),
        "the cursor's line is on show:\n{screen}"
    );
    // Over the limit: refused whole, the draft as it was.
    c.send(Msg::Paste("x".repeat(1024 * 1024)));
    assert!(
        c.screen().contains("takes at most 1024 KiB"),
        "{}",
        c.screen()
    );
    assert!(editor(&c).description.text().starts_with(&big));
}
