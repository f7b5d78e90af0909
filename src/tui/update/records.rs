//! How keys, pastes, ticks and results reach the Records tab: each gets a `Cx` with the session,
//! the tickets and the clock `update` was given, and whatever the pages asked for comes back as
//! effects.

use super::{quit, show_account};
use crate::services::records::Access;
use crate::tui::msg::{Effect, RecordResult, Ticket};
use crate::tui::screens::Screen;
use crate::tui::screens::records::{Cx, RecordsTab};
use crate::tui::state::State;
use crate::tui::view::body_area;

/// Runs `f` on the tab slot with a context; applies what the database's answer says about it.
fn in_records(state: &mut State, f: impl FnOnce(&mut Option<RecordsTab>, &mut Cx)) -> Vec<Effect> {
    let body = body_area(state.size);
    let State {
        records,
        live,
        tickets,
        now,
        today,
        ..
    } = state;
    let Some(live) = live.as_ref() else {
        return Vec::new();
    };
    let mut cx = Cx::new(&live.session, tickets, *now, *today, body);
    f(records, &mut cx);
    let (mut effects, answered, wants_out) = (cx.effects, cx.answered, cx.leave);
    match answered {
        Some(true) => state.db_trouble = None,
        Some(false) => state.db_trouble = Some("database not answering".into()),
        None => {}
    }
    if wants_out {
        effects.extend(quit(state));
    }
    effects
}

/// Runs `f` on the tab, if this role has one.
pub(super) fn with_records(
    state: &mut State,
    f: impl FnOnce(&mut RecordsTab, &mut Cx),
) -> Vec<Effect> {
    if state.records.is_none() {
        return Vec::new();
    }
    in_records(state, |tab, cx| {
        if let Some(tab) = tab {
            f(tab, cx);
        }
    })
}

/// Where a session starts: Records for roles that may browse them, else the account.
pub(super) fn land(state: &mut State) -> Vec<Effect> {
    let Some(role) = state.live.as_ref().map(|l| l.user().role) else {
        return show_account(state);
    };
    let access = Access::of(role);
    if !access.browse {
        return show_account(state);
    }
    show_records(state)
}

/// Shows the Records tab, opening it (first page on its way) if this session has none yet.
pub(super) fn show_records(state: &mut State) -> Vec<Effect> {
    let Some(role) = state.live.as_ref().map(|l| l.user().role) else {
        return Vec::new();
    };
    let access = Access::of(role);
    if !access.browse {
        return Vec::new();
    }
    state.screen = Screen::Records;
    in_records(state, |tab, cx| {
        if tab.is_none() {
            *tab = Some(RecordsTab::open(access, cx));
        }
    })
}

pub(super) fn records_done(state: &mut State, ticket: Ticket, result: RecordResult) -> Vec<Effect> {
    with_records(state, |tab, cx| tab.done(ticket, result, cx))
}
