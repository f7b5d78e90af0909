//! An event in full: a short pane under the list, and the full page (Enter) with every field and the
//! details JSON, scrolled with the arrows. Everything from the database is made inert when drawn.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::AuditTab;
use super::rows::{what, who_with_role};
use crate::services::audit::query::AuditEvent;
use crate::services::users::Role;
use crate::tui::keymap::Command;
use crate::tui::sanitize::inert;
use crate::tui::screens::common;
use crate::tui::screens::records::Look;
use crate::tui::widgets::text::clip;

/// The pane's height: its rule and four lines.
pub const PANE_HEIGHT: u16 = 5;

/// The width of the labels in front of an event's lines.
const LABEL: usize = 11;

/// The commands of the full page.
pub const COMMANDS: &[Command] = &[
    Command::Up,
    Command::Down,
    Command::PageUp,
    Command::PageDown,
    Command::First,
    Command::ByUser,
    Command::ByPatient,
    Command::ByResource,
    Command::Reviewed,
    Command::Back,
];

/// The full page's scroll position.
#[derive(Debug, Default)]
pub struct Detail {
    pub scroll: u16,
}

fn labelled(label: &str, text: String, look: &Look) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{label:<LABEL$}"), look.theme.muted),
        Span::raw(text),
    ])
}

/// "HIGH · denied", with the words that make a serious event stand out without colour.
fn seriousness(e: &AuditEvent) -> String {
    let flag = match e.severity.as_str() {
        "CRITICAL" => "!! ",
        "HIGH" => "! ",
        _ => "",
    };
    let glass = if e.is_break_glass() {
        " · BREAK-GLASS"
    } else {
        ""
    };
    format!("{flag}{} · {}{glass}", e.severity, e.outcome)
}

fn resource(e: &AuditEvent) -> String {
    match (&e.resource_type, e.resource_id) {
        (Some(kind), Some(id)) => format!("{} {id}", kind.replace('_', " ")),
        (None, Some(id)) => id.to_string(),
        (Some(kind), None) => kind.replace('_', " "),
        (None, None) => "—".into(),
    }
}

/// The selected event in brief, below the list.
pub fn pane(
    f: &mut Frame,
    area: Rect,
    event: Option<&AuditEvent>,
    patient_view: bool,
    look: &Look,
) {
    let block = Block::default().borders(Borders::TOP).title(" Event ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(e) = event else {
        return;
    };
    let width = usize::from(inner.width).saturating_sub(LABEL);
    let mut lines = vec![labelled(
        "Event",
        clip(
            &format!(
                "{} · {} · {} · {}",
                e.seq,
                e.occurred_at.format("%Y-%m-%d %H:%M:%S UTC"),
                e.action,
                seriousness(e)
            ),
            width,
        ),
        look,
    )];
    if patient_view {
        lines.push(labelled(
            "Who",
            clip(&who_with_role(e.user.as_ref()), width),
            look,
        ));
        lines.push(labelled("What", clip(&what(e), width), look));
    } else {
        let people = match &e.patient {
            Some(_) => format!(
                "{} → patient {}",
                who_with_role(e.user.as_ref()),
                who_with_role(e.patient.as_ref())
            ),
            None => who_with_role(e.user.as_ref()),
        };
        lines.push(labelled("Who", clip(&people, width), look));
        lines.push(labelled("Resource", clip(&resource(e), width), look));
    }
    let last = match (&e.break_glass_reason, &e.review) {
        (Some(reason), _) => ("Reason", reason.clone()),
        (None, Some(r)) => (
            "Reviewed",
            format!(
                "by {} at {}",
                r.by.name.as_deref().unwrap_or("someone"),
                r.at.format("%Y-%m-%d %H:%M UTC")
            ),
        ),
        (None, None) => ("Details", e.details.to_string()),
    };
    lines.push(labelled(last.0, clip(&last.1, width), look));
    f.render_widget(Paragraph::new(lines), inner);
}

/// Every field of `e`, labelled, then its details as indented JSON (all still to be made inert).
pub fn full_lines(e: &AuditEvent, patient_view: bool) -> Vec<(&'static str, String)> {
    let person = |p: &Option<crate::services::audit::query::Named>| match p {
        Some(n) => format!("{} · {}", who_with_role(Some(n)), n.id),
        None => "—".into(),
    };
    let mut lines = vec![
        ("Event", format!("{} · id {}", e.seq, e.id)),
        (
            "When",
            e.occurred_at
                .format("%Y-%m-%d %H:%M:%S%.3f UTC")
                .to_string(),
        ),
        ("Action", e.action.clone()),
    ];
    if patient_view {
        lines.push(("What", what(e)));
    }
    lines.extend([
        ("Severity", seriousness(e)),
        ("User", person(&e.user)),
        ("Patient", person(&e.patient)),
        ("Resource", resource(e)),
        (
            "Session",
            e.session_id.map_or("—".into(), |s| s.to_string()),
        ),
        ("Source", e.ip_address.clone().unwrap_or_else(|| "—".into())),
        (
            "Terminal",
            e.user_agent.clone().unwrap_or_else(|| "—".into()),
        ),
    ]);
    if let Some(reason) = &e.break_glass_reason {
        lines.push(("Reason", reason.clone()));
    }
    if let Some(r) = &e.review {
        lines.push((
            "Reviewed",
            format!(
                "by {} at {}",
                r.by.name.as_deref().unwrap_or("someone"),
                r.at.format("%Y-%m-%d %H:%M UTC")
            ),
        ));
    }
    let details =
        serde_json::to_string_pretty(&e.details).unwrap_or_else(|_| e.details.to_string());
    for (i, line) in details.lines().enumerate() {
        lines.push((if i == 0 { "Details" } else { "" }, line.to_string()));
    }
    lines
}

impl Detail {
    pub fn view(&self, f: &mut Frame, area: Rect, e: &AuditEvent, tab: &AuditTab, look: &Look) {
        let [body, note, hint] = Layout::vertical([
            Constraint::Min(3),
            Constraint::Length(2),
            Constraint::Length(1),
        ])
        .areas(area);
        let block = Block::default()
            .borders(Borders::TOP)
            .title(format!(" Audit event {} ", e.seq));
        let inner = block.inner(body);
        f.render_widget(block, body);
        let lines: Vec<Line> = full_lines(e, tab.patient_view())
            .into_iter()
            .map(|(label, text)| labelled(label, inert(&text).into_owned(), look))
            .collect();
        f.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .scroll((self.scroll, 0)),
            inner,
        );
        common::note(f, note, tab.list.note.as_ref(), look.theme);
        let mut items = vec![(Command::Back, "back"), (Command::Down, "scroll")];
        items.push((Command::ByUser, "by user"));
        if !tab.patient_view() {
            items.push((Command::ByPatient, "by patient"));
        }
        items.push((Command::ByResource, "by record"));
        if tab.role == Role::Admin {
            items.push((Command::Reviewed, "reviewed"));
        }
        look.hint_line(f, hint, &look.hints(&items));
    }
}
