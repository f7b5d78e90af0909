//! The Admin tab's lists drawn: the users and the live sessions as tables, the pane under each that shows the selected row in
//! full. Every name, email, address and terminal string from the database goes through `clip` (or
//! `inert`), so none of it can move the cursor. A user's state is said in words: active, inactive,
//! locked.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{AdminTab, Showing};
use crate::services::admin::{AdminUser, LiveSession, PAGE_SIZE, SessionFilter, UserFilter};
use crate::tui::keymap::Command;
use crate::tui::sanitize::inert;
use crate::tui::screens::common;
use crate::tui::screens::paged::Columns;
use crate::tui::screens::records::Look;
use crate::tui::widgets::text::clip;

/// Rows the detail pane takes.
pub const PANE_HEIGHT: u16 = 3;

/// "active", "inactive" or "locked" — as of `now`, when the list was read.
pub fn state_word(u: &AdminUser, now: Option<DateTime<Utc>>) -> &'static str {
    if !u.is_active {
        "inactive"
    } else if now.is_some_and(|now| u.locked(now)) {
        "locked"
    } else {
        "active"
    }
}

fn short(t: DateTime<Utc>) -> String {
    t.format("%m-%d %H:%M").to_string()
}

fn full(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// "09:55" on the day of `base`, else the date too.
fn same_day(t: DateTime<Utc>, base: DateTime<Utc>) -> String {
    if t.date_naive() == base.date_naive() {
        t.format("%H:%M").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M").to_string()
    }
}

pub fn users(tab: &AdminTab, f: &mut Frame, area: Rect, look: &Look) {
    let empty = if tab.users.filter == UserFilter::default() {
        "No users yet."
    } else {
        "No users match the filter."
    };
    let columns = Columns {
        title: format!(" Users · up to {PAGE_SIZE} a page · times UTC "),
        loading: "Loading users…",
        empty: empty.into(),
        widths: [
            Constraint::Fill(1),
            Constraint::Fill(1),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Length(3),
            Constraint::Length(6),
            Constraint::Length(11),
            Constraint::Length(4),
        ],
        header: [
            "Name",
            "Email",
            "Role",
            "State",
            "MFA",
            "New pw",
            "Last login",
            "Live",
        ],
    };
    let read_at = tab.users_read_at;
    tab.users.table(f, area, look, columns, |u, w| {
        [
            clip(&u.display_name(), w[0]),
            clip(&u.email, w[1]),
            clip(u.role.label(), w[2]),
            state_word(u, read_at).into(),
            if u.mfa_enabled { "on" } else { "off" }.into(),
            if u.requires_password_change {
                "due"
            } else {
                ""
            }
            .into(),
            u.last_login_at.map(short).unwrap_or_else(|| "never".into()),
            u.active_sessions.to_string(),
        ]
    });
}

pub fn sessions(tab: &AdminTab, f: &mut Frame, area: Rect, look: &Look) {
    let empty = if tab.sessions.filter == SessionFilter::default() {
        "No live sessions."
    } else {
        "No live sessions match the filter."
    };
    let columns = Columns {
        title: format!(" Live sessions · up to {PAGE_SIZE} a page · times UTC "),
        loading: "Loading sessions…",
        empty: empty.into(),
        widths: [
            Constraint::Fill(1),
            Constraint::Length(9),
            Constraint::Length(15),
            Constraint::Length(11),
            Constraint::Length(11),
            Constraint::Length(11),
        ],
        header: [
            "User",
            "Role",
            "Source",
            "Started",
            "Last active",
            "Expires",
        ],
    };
    tab.sessions.table(f, area, look, columns, |s, w| {
        [
            clip(&s.user_name, w[0]),
            clip(s.role.label(), w[1]),
            clip(&s.source, w[2]),
            short(s.started_at),
            short(s.last_activity_at),
            short(s.expires_at),
        ]
    });
}

/// The selected user in full.
pub fn user_pane(
    f: &mut Frame,
    area: Rect,
    user: Option<&AdminUser>,
    read_at: Option<DateTime<Utc>>,
    look: &Look,
) {
    let Some(u) = user else {
        return;
    };
    let mut state = state_word(u, read_at).to_string();
    if let (Some(until), "locked") = (u.locked_until, state.as_str()) {
        state = format!("locked until {}", full(until));
    }
    let sessions = match u.active_sessions {
        1 => "1 live session".to_string(),
        n => format!("{n} live sessions"),
    };
    let lines = vec![
        Line::styled(
            inert(&format!(
                "{} · {} · {}",
                u.display_name(),
                u.email,
                u.role.label()
            ))
            .into_owned(),
            look.theme.title,
        ),
        Line::from(format!(
            "{state} · two-factor {} · {} · last login {} · {sessions} · since {}",
            if u.mfa_enabled { "on" } else { "off" },
            if u.requires_password_change {
                "must change password"
            } else {
                "password set"
            },
            u.last_login_at.map(full).unwrap_or_else(|| "never".into()),
            u.created_at.format("%Y-%m-%d"),
        )),
    ];
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}

/// The selected session in full.
pub fn session_pane(f: &mut Frame, area: Rect, session: Option<&LiveSession>, look: &Look) {
    let Some(s) = session else {
        return;
    };
    let lines = vec![
        Line::styled(
            inert(&format!(
                "{} · {} · {} · from {}",
                s.user_name,
                s.email,
                s.role.label(),
                s.source
            ))
            .into_owned(),
            look.theme.title,
        ),
        Line::from(format!(
            "started {} · last active {} · ends by {}",
            full(s.started_at),
            same_day(s.last_activity_at, s.started_at),
            same_day(s.expires_at, s.started_at)
        )),
        Line::from(clip(
            &format!("terminal: {}", s.user_agent),
            usize::from(area.width),
        )),
    ];
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}

/// A list with its heading, filter line, table, pane, note and key hints.
pub fn list(tab: &AdminTab, f: &mut Frame, area: Rect, look: &Look) {
    let theme = look.theme;
    let [top, table, pane, note, hint] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(4),
        Constraint::Length(PANE_HEIGHT),
        Constraint::Length(2),
        Constraint::Length(2),
    ])
    .areas(area);
    // Which list is on show stays in view, also beside the filter line.
    let [which, text, status] = Layout::horizontal([
        Constraint::Length(19),
        Constraint::Min(20),
        Constraint::Length(20),
    ])
    .areas(top);
    let (field, filtering, note_text) = match tab.showing {
        Showing::Users => (
            &tab.users.filter_field,
            tab.users.filtering,
            &tab.users.note,
        ),
        Showing::Sessions => (
            &tab.sessions.filter_field,
            tab.sessions.filtering,
            &tab.sessions.note,
        ),
    };
    let name = |name: &str, on: bool| {
        if on {
            Span::styled(format!("[{name}]"), theme.tab_active)
        } else {
            Span::styled(format!(" {name} "), theme.muted)
        }
    };
    f.render_widget(
        Paragraph::new(Line::from(vec![
            name("Users", tab.showing == Showing::Users),
            name("Sessions", tab.showing == Showing::Sessions),
        ])),
        which,
    );
    if filtering || !field.value().is_empty() {
        field.render(f, text, filtering, theme);
    } else {
        let example = match tab.showing {
            Showing::Users => "role:nurse state:locked",
            Showing::Sessions => "user:EMAIL or words",
        };
        f.render_widget(
            Paragraph::new(Span::styled(
                format!("· {} filter: {example}", look.keys.key(Command::Filter)),
                theme.muted,
            )),
            text,
        );
    }
    match tab.showing {
        Showing::Users => {
            tab.users.status(f, status, look);
            users(tab, f, table, look);
            user_pane(f, pane, tab.users.selected_row(), tab.users_read_at, look);
        }
        Showing::Sessions => {
            tab.sessions.status(f, status, look);
            sessions(tab, f, table, look);
            session_pane(f, pane, tab.sessions.selected_row(), look);
        }
    }
    if tab.acting.is_some() {
        common::busy(f, note, "Working…", look.ticks, theme);
    } else {
        common::note(f, note, note_text.as_ref(), theme);
    }
    let items: &[(Command, &str)] = match tab.showing {
        Showing::Users => &[
            (Command::NewUser, "new"),
            (Command::Deactivate, "deactivate"),
            (Command::Reactivate, "reactivate"),
            (Command::ChangeRole, "role"),
            (Command::ResetPassword, "reset password"),
            (Command::UnlockUser, "unlock"),
            (Command::ResetMfa, "reset MFA"),
            (Command::Submit, "their sessions"),
            (Command::EndSessions, "end their sessions"),
            (Command::SwitchList, "sessions list"),
        ],
        Showing::Sessions => &[
            (Command::EndSession, "end session"),
            (Command::EndSessions, "end all of the user's"),
            (Command::Submit, "the user"),
            (Command::SwitchList, "users list"),
            (Command::Refresh, "reload"),
        ],
    };
    let lines: Vec<Line> = hint_rows(look, items, usize::from(hint.width))
        .into_iter()
        .map(|row| Line::styled(row, theme.muted))
        .collect();
    f.render_widget(Paragraph::new(lines), hint);
}

/// The key hints broken into rows between items, never inside one ("m reset MFA" stays whole).
fn hint_rows(look: &Look, items: &[(Command, &str)], width: usize) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    let mut row = String::new();
    for (command, what) in items {
        let item = format!("{} {what}", look.keys.key(*command));
        if row.is_empty() {
            row = item;
        } else if row.chars().count() + 3 + item.chars().count() <= width {
            row = format!("{row} · {item}");
        } else {
            rows.push(std::mem::replace(&mut row, item));
        }
    }
    rows.push(row);
    rows
}
