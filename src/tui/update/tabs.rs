//! How keys, pastes, ticks and results reach the Records, Grants and Audit tabs: each gets a `Cx` with the
//! session, the tickets and the clock `update` was given, and whatever the pages asked for comes
//! back as effects.

use super::{quit, show_account};
use crate::services::audit::query as audit_query;
use crate::services::grants::GrantView;
use crate::services::records::Access;
use crate::tui::msg::{AdminResult, AuditResult, Effect, GrantResult, RecordResult, Ticket};
use crate::tui::screens::Screen;
use crate::tui::screens::admin::{self, AdminTab};
use crate::tui::screens::audit::AuditTab;
use crate::tui::screens::grants::GrantsTab;
use crate::tui::screens::password::PasswordChange;
use crate::tui::screens::records::{Cx, RecordsTab};
use crate::tui::state::State;
use crate::tui::view::body_area;

/// Runs `f` on a tab's slot (`slot` picks which) with a context; applies what the database's answer
/// says about it. The slot is taken out while `f` runs, so the context may borrow the rest.
fn in_tab<T>(
    state: &mut State,
    slot: fn(&mut State) -> &mut Option<T>,
    f: impl FnOnce(&mut Option<T>, &mut Cx),
) -> Vec<Effect> {
    let body = body_area(state.size);
    let mut tab = slot(state).take();
    let (mut effects, answered, wants_out) = {
        let State {
            live,
            tickets,
            now,
            today,
            utc_today,
            ..
        } = &mut *state;
        let Some(live) = live.as_ref() else {
            *slot(state) = tab;
            return Vec::new();
        };
        let mut cx = Cx::new(&live.session, tickets, *now, (*today, *utc_today), body);
        f(&mut tab, &mut cx);
        (cx.effects, cx.answered, cx.leave)
    };
    *slot(state) = tab;
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

fn records_slot(state: &mut State) -> &mut Option<RecordsTab> {
    &mut state.records
}

fn grants_slot(state: &mut State) -> &mut Option<GrantsTab> {
    &mut state.grants
}

fn audit_slot(state: &mut State) -> &mut Option<AuditTab> {
    &mut state.audit
}

fn admin_slot(state: &mut State) -> &mut Option<AdminTab> {
    &mut state.admin
}

/// Runs `f` on the Admin tab, if it is open.
pub(super) fn with_admin(state: &mut State, f: impl FnOnce(&mut AdminTab, &mut Cx)) -> Vec<Effect> {
    if state.admin.is_none() {
        return Vec::new();
    }
    in_tab(state, admin_slot, |tab, cx| {
        if let Some(tab) = tab {
            f(tab, cx);
        }
    })
}

/// Runs `f` on the Audit tab, if it is open.
pub(super) fn with_audit(state: &mut State, f: impl FnOnce(&mut AuditTab, &mut Cx)) -> Vec<Effect> {
    if state.audit.is_none() {
        return Vec::new();
    }
    in_tab(state, audit_slot, |tab, cx| {
        if let Some(tab) = tab {
            f(tab, cx);
        }
    })
}

/// Runs `f` on the Records tab, if this role has one.
pub(super) fn with_records(
    state: &mut State,
    f: impl FnOnce(&mut RecordsTab, &mut Cx),
) -> Vec<Effect> {
    if state.records.is_none() {
        return Vec::new();
    }
    in_tab(state, records_slot, |tab, cx| {
        if let Some(tab) = tab {
            f(tab, cx);
        }
    })
}

/// Runs `f` on the Grants tab, if it is open.
pub(super) fn with_grants(
    state: &mut State,
    f: impl FnOnce(&mut GrantsTab, &mut Cx),
) -> Vec<Effect> {
    if state.grants.is_none() {
        return Vec::new();
    }
    in_tab(state, grants_slot, |tab, cx| {
        if let Some(tab) = tab {
            f(tab, cx);
        }
    })
}

/// Where a session starts: the new-password screen while the password is one someone else set,
/// then Records for roles that may browse them, else the account.
pub(super) fn land(state: &mut State) -> Vec<Effect> {
    if state.password_due() {
        state.screen = Screen::Password(PasswordChange::new(true));
        return Vec::new();
    }
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
    in_tab(state, records_slot, |tab, cx| {
        if tab.is_none() {
            *tab = Some(RecordsTab::open(access, cx));
        }
    })
}

/// Shows the Grants tab, opening it (first page on its way) if this session has none yet.
pub(super) fn show_grants(state: &mut State) -> Vec<Effect> {
    let Some(view) = state
        .live
        .as_ref()
        .and_then(|l| GrantView::of(l.user().role))
    else {
        return Vec::new();
    };
    let max_days = state.settings.grant_max_days;
    state.screen = Screen::Grants;
    in_tab(state, grants_slot, |tab, cx| {
        if tab.is_none() {
            *tab = Some(GrantsTab::open(view, max_days, cx));
        }
    })
}

/// Shows the Audit tab, opening it (first page on its way) if this session has none yet.
pub(super) fn show_audit(state: &mut State) -> Vec<Effect> {
    let Some(role) = state.live.as_ref().map(|l| l.user().role) else {
        return Vec::new();
    };
    if !audit_query::may_view(role) {
        return Vec::new();
    }
    let exports = state.settings.exports_dir.clone();
    state.screen = Screen::Audit;
    in_tab(state, audit_slot, |tab, cx| {
        if tab.is_none() {
            *tab = Some(AuditTab::open(role, exports, cx));
        }
    })
}

/// Shows the Admin tab (admins only), opening it (first page on its way) if this session has none yet.
pub(super) fn show_admin(state: &mut State) -> Vec<Effect> {
    let Some(role) = state.live.as_ref().map(|l| l.user().role) else {
        return Vec::new();
    };
    if !admin::may_open(role) {
        return Vec::new();
    }
    state.screen = Screen::Admin;
    in_tab(state, admin_slot, |tab, cx| {
        if tab.is_none() {
            *tab = Some(AdminTab::open(cx));
        }
    })
}

pub(super) fn admin_done(state: &mut State, ticket: Ticket, result: AdminResult) -> Vec<Effect> {
    with_admin(state, |tab, cx| tab.done(ticket, result, cx))
}

pub(super) fn audit_done(state: &mut State, ticket: Ticket, result: AuditResult) -> Vec<Effect> {
    with_audit(state, |tab, cx| tab.done(ticket, result, cx))
}

pub(super) fn records_done(state: &mut State, ticket: Ticket, result: RecordResult) -> Vec<Effect> {
    with_records(state, |tab, cx| tab.done(ticket, result, cx))
}

pub(super) fn grants_done(state: &mut State, ticket: Ticket, result: GrantResult) -> Vec<Effect> {
    with_grants(state, |tab, cx| tab.done(ticket, result, cx))
}
