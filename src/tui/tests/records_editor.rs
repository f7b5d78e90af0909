//! The record editor key by key: Ctrl-S saves the draft with its reason, an outage keeps the draft
//! and retries the very same change, a conflict or a refusal keeps the draft and the next save is
//! a change of its own, Esc asks before a changed draft is thrown away, a new record starts with
//! its patient, and a pasted megabyte lands.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyModifiers};

use super::Console;
use super::records::{alice, annual, carol, record_id};
use crate::db::DbError;
use crate::services::ServiceError;
use crate::services::records::Saved;
use crate::tui::msg::{Effect, Msg, Outcome, RecordResult, RecordWork, SaveRequest, SaveTarget};
use crate::tui::screens::records::Page;
use crate::tui::screens::records::editor::Editor;

pub(super) fn down() -> ServiceError {
    ServiceError::Database(DbError::Unavailable("connection refused".into()))
}

pub(super) fn save_request(c: &Console) -> Arc<SaveRequest> {
    match c.work() {
        RecordWork::Save(request) => request.clone(),
        other => panic!("expected a save, got {other:?}"),
    }
}

/// Dr Smith's record 1 in the editor, the description's last line extended and a reason given.
pub(super) fn edited(size: (u16, u16)) -> Console {
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

pub(super) fn editor(c: &Console) -> &Editor {
    c.state
        .records
        .as_ref()
        .and_then(|t| t.editor())
        .expect("the editor is open")
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
    assert_ne!(
        again.change_id, first.change_id,
        "the conflicted attempt is over: the save on top of version 2 is a change of its own"
    );
    assert!(matches!(
        again.target,
        SaveTarget::Existing {
            base_version: 2,
            ..
        }
    ));
}

#[test]
fn a_change_id_is_kept_only_while_the_same_draft_waits_out_an_outage() {
    let mut c = edited((120, 40));
    c.press(KeyCode::Char('s'), KeyModifiers::CONTROL);
    let first = save_request(&c);

    // The database does not answer: "try now" sends the very same save, same change id.
    c.answer(RecordResult::Saved(Err(down())));
    c.press(KeyCode::Char('s'), KeyModifiers::CONTROL);
    let retry = save_request(&c);
    assert_eq!(retry, first, "an outage retry is the very same save");
    assert_eq!(retry.change_id, first.change_id);

    // Refused: the attempt is over. The draft is edited and saved again as a new change.
    c.answer(RecordResult::Saved(Err(ServiceError::Invalid(
        "The reason for the change is longer than 500 characters.".into(),
    ))));
    assert!(editor(&c).pending.is_none());
    c.key(KeyCode::Backspace);
    c.press(KeyCode::Char('s'), KeyModifiers::CONTROL);
    let after_refusal = save_request(&c);
    assert_ne!(after_refusal.target, first.target, "the reason was edited");
    assert_ne!(
        after_refusal.change_id, first.change_id,
        "an edit after a finished attempt is a new change"
    );

    // A conflict ends an attempt too.
    c.answer(RecordResult::Saved(Err(ServiceError::Conflict(
        "This record was changed by Sarah Johnson — reload it to see their version; nothing was saved."
            .into(),
    ))));
    c.type_text("!");
    c.press(KeyCode::Char('s'), KeyModifiers::CONTROL);
    let after_conflict = save_request(&c);
    assert_ne!(after_conflict.change_id, after_refusal.change_id);
    assert_ne!(after_conflict.change_id, first.change_id);

    // An outage, then the tick's retry: still that change.
    c.answer(RecordResult::Saved(Err(down())));
    c.wait(Duration::from_secs(3));
    let tick_retry = save_request(&c);
    assert_eq!(tick_retry, after_conflict);

    // It lands; the record is edited again: another editor, another change.
    c.answer(RecordResult::Saved(Ok(Saved {
        record: record_id(1),
        version: 2,
    })));
    let view = c
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::Records {
                ticket,
                work: RecordWork::View(_),
                ..
            } => Some(*ticket),
            _ => None,
        })
        .expect("the record is shown again");
    c.send(Msg::Done(
        view,
        Outcome::Records(Box::new(RecordResult::Detail(Ok(annual(true, 2))))),
    ));
    c.key(KeyCode::Char('e'));
    c.type_text(" (amended)");
    for _ in 0..5 {
        c.key(KeyCode::Tab);
    }
    c.type_text("Amended the title");
    c.press(KeyCode::Char('s'), KeyModifiers::CONTROL);
    let next_edit = save_request(&c);
    assert!(matches!(
        next_edit.target,
        SaveTarget::Existing {
            base_version: 2,
            ..
        }
    ));
    for earlier in [&first, &after_refusal, &after_conflict] {
        assert_ne!(next_edit.change_id, earlier.change_id);
    }
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
