//! Drawing: reads the state, never changes it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::keymap::Command;
use super::sanitize::inert;
use super::screens::Screen;
use super::screens::records::Look;
use super::state::{MIN_HEIGHT, MIN_WIDTH, State};
use super::widgets::modal;
use super::widgets::text::clip;
use crate::services::grants::GrantView;
use crate::services::records::Access;

/// The header row, the body and the status bar of a `size` terminal.
fn areas(size: Rect) -> [Rect; 3] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(size)
}

/// Where the screens draw in a terminal of `size` (update uses it to know a page's rows).
pub fn body_area(size: (u16, u16)) -> Rect {
    let [_, body, _] = areas(Rect::new(0, 0, size.0, size.1));
    // No vertical margin: at 80×24 the enrollment QR code needs every row.
    body.inner(Margin::new(1, 0))
}

pub fn draw(state: &State, f: &mut Frame) {
    let area = f.area();
    let theme = &state.settings.theme;
    f.render_widget(Block::default().style(theme.base), area);
    if state.too_small() {
        too_small(state, f, area);
        return;
    }
    let [top, _, status] = areas(area);
    header(state, f, top);
    let inner = body_area((area.width, area.height));
    // What every tab draws with; only the access differs (the Records tab keeps its own).
    let look = |access| Look {
        theme,
        keys: &state.settings.keymap,
        ticks: state.ticks,
        access,
        utc_today: state.utc_today,
    };
    match (&state.lock, &state.live) {
        (Some(lock), Some(live)) => {
            lock.view(f, inner, &live.user().display_name(), theme, state.ticks)
        }
        _ => match &state.screen {
            Screen::Login(s) => s.view(f, inner, theme, state.ticks),
            Screen::Code(s) => s.view(f, inner, theme, state.ticks),
            Screen::Enroll(s) => s.view(f, inner, theme, state.ticks),
            Screen::BackupCodes(s) => s.view(f, inner, theme),
            Screen::Account(s) => {
                if let Some(live) = &state.live {
                    let keys = &state.settings.keymap;
                    s.view(f, inner, &live.session, keys, theme, state.ticks);
                }
            }
            Screen::Password(s) => s.view(f, inner, theme, state.ticks),
            Screen::Records => {
                if let Some(tab) = &state.records {
                    tab.view(f, inner, &look(tab.access));
                }
            }
            Screen::Grants => {
                if let (Some(tab), Some(live)) = (&state.grants, &state.live) {
                    tab.view(f, inner, &look(Access::of(live.user().role)));
                }
            }
            Screen::Audit => {
                if let (Some(tab), Some(live)) = (&state.audit, &state.live) {
                    tab.view(f, inner, &look(Access::of(live.user().role)));
                }
            }
            Screen::Admin => {
                if let (Some(tab), Some(live)) = (&state.admin, &state.live) {
                    tab.view(f, inner, &look(Access::of(live.user().role)));
                }
            }
        },
    }
    if let (Some(yes), None) = (state.quit_ask, &state.lock) {
        modal::ask(
            f,
            inner,
            "Unsaved draft",
            vec![Line::from(
                "A record draft is not saved. Log out and throw it away?",
            )],
            ("No, keep editing", "Yes, log out"),
            yes,
            theme,
        );
    }
    status_bar(state, f, status);
    if state.help {
        help(state, f, area);
    }
    if state.leaving.is_some() {
        let r = centered(area, 30, 3);
        f.render_widget(Clear, r);
        f.render_widget(
            Paragraph::new(" Signing out…").block(Block::default().borders(Borders::ALL)),
            r,
        );
    }
}

fn too_small(state: &State, f: &mut Frame, area: Rect) {
    let text = format!(
        "Terminal too small: {}×{}. hsc needs at least {MIN_WIDTH}×{MIN_HEIGHT}. Enlarge the window, or press Ctrl-C to leave.",
        state.size.0, state.size.1
    );
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .style(state.settings.theme.error),
        area,
    );
}

fn header(state: &State, f: &mut Frame, area: Rect) {
    let theme = &state.settings.theme;
    // The password screen stands before every tab: no tab bar until it is done.
    let choosing_password = matches!(&state.screen, Screen::Password(p) if p.forced);
    let line = if state.live.is_some() && state.lock.is_none() && !choosing_password {
        // Only the screens this role may use appear; the active one is bracketed as well as highlighted.
        let keys = &state.settings.keymap;
        let tab = |command: Command, name: &str, active: bool| {
            let key = keys.key(command);
            if active {
                Span::styled(format!("[{key} {name}]"), theme.tab_active)
            } else {
                Span::styled(format!(" {key} {name} "), theme.base)
            }
        };
        let mut spans = Vec::new();
        if state.records.is_some() {
            spans.push(tab(
                Command::TabRecords,
                "Records",
                matches!(state.screen, Screen::Records),
            ));
            spans.push(Span::raw(" "));
        }
        if has_grants(state) {
            spans.push(tab(
                Command::TabGrants,
                "Grants",
                matches!(state.screen, Screen::Grants),
            ));
            spans.push(Span::raw(" "));
        }
        if has_audit(state) {
            spans.push(tab(
                Command::TabAudit,
                "Audit",
                matches!(state.screen, Screen::Audit),
            ));
            spans.push(Span::raw(" "));
        }
        if has_admin(state) {
            spans.push(tab(
                Command::TabAdmin,
                "Admin",
                matches!(state.screen, Screen::Admin),
            ));
            spans.push(Span::raw(" "));
        }
        spans.push(tab(
            Command::TabAccount,
            "Account",
            matches!(state.screen, Screen::Account(_)),
        ));
        spans.push(Span::styled("   Healthy Stellar Console", theme.muted));
        Line::from(spans)
    } else {
        Line::from(vec![
            Span::styled("Healthy Stellar Console", theme.title),
            Span::styled(
                format!(
                    " — {}",
                    if state.lock.is_some() {
                        "Locked"
                    } else {
                        state.title()
                    }
                ),
                theme.muted,
            ),
        ])
    };
    f.render_widget(Paragraph::new(line), area);
}

fn status_bar(state: &State, f: &mut Frame, area: Rect) {
    let theme = &state.settings.theme;
    let keys = &state.settings.keymap;
    let mut parts: Vec<String> = Vec::new();
    if let Some(live) = &state.live {
        parts.push(inert(&live.user().display_name()).into_owned());
        parts.push(live.user().role.label().to_string());
        if let Some(left) = state.idle_left() {
            let secs = left.as_secs();
            parts.push(format!("locks in {}:{:02}", secs / 60, secs % 60));
        } else {
            parts.push("locked".into());
        }
    }
    if let Some(trouble) = &state.db_trouble {
        parts.push(format!("!! {}", trouble.to_uppercase()));
    }
    let help_key = if state.typing() || state.lock.is_some() {
        "F1".to_string()
    } else {
        keys.key(Command::Help)
    };
    parts.push(format!("{help_key} help"));
    if state.live.is_some() && state.lock.is_none() {
        parts.push(format!("{} lock", keys.key(Command::Lock)));
        if !state.typing() {
            parts.push(format!("{} quit", keys.key(Command::Quit)));
        }
    }
    parts.push("Ctrl-C leave".into());
    // Narrow terminals lose the last hints first; who, role and the countdown always stay.
    let fits = |parts: &[String]| {
        Span::raw(format!(" {}", parts.join(" · "))).width() <= usize::from(area.width)
    };
    while parts.len() > 3 && !fits(&parts) {
        parts.pop();
    }
    f.render_widget(
        Paragraph::new(format!(" {}", parts.join(" · "))).style(theme.status),
        area,
    );
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// The help overlay, generated from the live keymap and the commands of the screen on show.
fn help(state: &State, f: &mut Frame, area: Rect) {
    let theme = &state.settings.theme;
    let keys = &state.settings.keymap;
    let mut commands: Vec<Command> = state.commands().to_vec();
    // A role without a Records tab has no key for it.
    commands.retain(|c| *c != Command::TabRecords || state.records.is_some());
    commands.retain(|c| *c != Command::TabGrants || has_grants(state));
    commands.retain(|c| *c != Command::TabAudit || has_audit(state));
    commands.retain(|c| *c != Command::TabAdmin || has_admin(state));
    if state.lock.is_some() {
        commands = vec![Command::Submit];
    }
    commands.push(Command::Help);
    if state.live.is_some() {
        commands.push(Command::Lock);
    }
    let mut entries: Vec<(String, &str)> = commands
        .into_iter()
        .map(|c| (keys.keys(c), c.help()))
        .collect();
    entries.push(("Ctrl-C".into(), "leave hsc (ends the session)"));
    let mut tail = Vec::new();
    if state.typing() {
        tail.push(Line::default());
        tail.push(Line::styled(
            "In a text field, letters are text: use F1 for help.",
            theme.muted,
        ));
    }
    // Title, blank line, entries, tail, borders. A list too long for the terminal goes in two
    // columns, so the last keys (back, quit, Ctrl-C) are never cut off.
    let one_column = entries.len() + tail.len() + 4 <= usize::from(area.height);
    let mut lines = vec![
        Line::styled(format!("Keys — {}", state.title()), theme.title),
        Line::default(),
    ];
    let width = if one_column {
        for (key, what) in &entries {
            lines.push(Line::from(vec![
                Span::styled(format!("{key:>14}  "), theme.key),
                Span::raw(*what),
            ]));
        }
        64
    } else {
        let width = area.width.min(120);
        // Each column: the keys right-aligned, two spaces, the help clipped to what is left.
        let key_width = entries
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        let column = usize::from(width.saturating_sub(2)) / 2;
        let text = column.saturating_sub(key_width + 3);
        let half = entries.len().div_ceil(2);
        for row in 0..half {
            let mut spans = Vec::new();
            for (key, what) in [entries.get(row), entries.get(row + half)]
                .into_iter()
                .flatten()
            {
                let what = clip(what, text);
                spans.push(Span::styled(format!("{key:>key_width$}  "), theme.key));
                spans.push(Span::raw(format!("{what:<text$} ")));
            }
            lines.push(Line::from(spans));
        }
        width
    };
    lines.extend(tail);
    let height = (lines.len() as u16 + 2).min(area.height);
    let r = centered(area, width, height);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" Help · {} closes ", keys.key(Command::Back))),
            )
            .style(theme.base),
        r,
    );
}

/// Whether the signed-in role has a Grants tab.
fn has_grants(state: &State) -> bool {
    state
        .live
        .as_ref()
        .is_some_and(|l| GrantView::of(l.user().role).is_some())
}

/// Whether the signed-in role has an Audit tab.
fn has_audit(state: &State) -> bool {
    state
        .live
        .as_ref()
        .is_some_and(|l| crate::services::audit::query::may_view(l.user().role))
}

/// Whether the signed-in role has an Admin tab.
fn has_admin(state: &State) -> bool {
    state
        .live
        .as_ref()
        .is_some_and(|l| crate::tui::screens::admin::may_open(l.user().role))
}
