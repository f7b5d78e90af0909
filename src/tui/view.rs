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
                    let add = state.settings.keymap.key(Command::AddDevice);
                    s.view(f, inner, &live.session, &add, theme, state.ticks);
                }
            }
            Screen::Records => {
                if let Some(tab) = &state.records {
                    let look = Look {
                        theme,
                        keys: &state.settings.keymap,
                        ticks: state.ticks,
                        access: tab.access,
                        utc_today: state.utc_today,
                    };
                    tab.view(f, inner, &look);
                }
            }
            Screen::Grants => {
                if let (Some(tab), Some(live)) = (&state.grants, &state.live) {
                    let look = Look {
                        theme,
                        keys: &state.settings.keymap,
                        ticks: state.ticks,
                        access: Access::of(live.user().role),
                        utc_today: state.utc_today,
                    };
                    tab.view(f, inner, &look);
                }
            }
            Screen::Audit => {
                if let (Some(tab), Some(live)) = (&state.audit, &state.live) {
                    let look = Look {
                        theme,
                        keys: &state.settings.keymap,
                        ticks: state.ticks,
                        access: Access::of(live.user().role),
                        utc_today: state.utc_today,
                    };
                    tab.view(f, inner, &look);
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
    let line = if state.live.is_some() && state.lock.is_none() {
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
    if state.lock.is_some() {
        commands = vec![Command::Submit];
    }
    commands.push(Command::Help);
    if state.live.is_some() {
        commands.push(Command::Lock);
    }
    let mut lines = vec![
        Line::styled(format!("Keys — {}", state.title()), theme.title),
        Line::default(),
    ];
    for c in commands {
        lines.push(Line::from(vec![
            Span::styled(format!("{:>14}  ", keys.keys(c)), theme.key),
            Span::raw(c.help()),
        ]));
    }
    lines.push(Line::from(vec![
        Span::styled(format!("{:>14}  ", "Ctrl-C"), theme.key),
        Span::raw("leave hsc (ends the session)"),
    ]));
    if state.typing() {
        lines.push(Line::default());
        lines.push(Line::styled(
            "In a text field, letters are text: use F1 for help.",
            theme.muted,
        ));
    }
    let height = (lines.len() as u16 + 2).min(area.height);
    let r = centered(area, 64, height);
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
