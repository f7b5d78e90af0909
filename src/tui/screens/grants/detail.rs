//! A grant in full: the pane under the list, and the head of the change forms.

use chrono::NaiveDate;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::services::grants::{Grant, end_of_day, parse_expiry, short_id, when};
use crate::tui::sanitize::inert;
use crate::tui::screens::records::Look;
use crate::tui::widgets::text::clip;

/// The selected grant in full, below the list.
pub fn pane(f: &mut Frame, area: Rect, grant: Option<&Grant>, look: &Look) {
    let block = Block::default().borders(Borders::TOP).title(" Grant ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(g) = grant else {
        return;
    };
    let width = usize::from(inner.width).saturating_sub(LABEL);
    let lines: Vec<Line> = detail_lines(g, look.utc_today)
        .into_iter()
        .map(|(label, text)| {
            // The reasons wrap (the pane grows for them); the rest keeps to one line each.
            let text = if WRAPPED.contains(&label) {
                inert(&text).into_owned()
            } else {
                clip(&text, width)
            };
            labelled(label, text, look)
        })
        .collect();
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// The width of the labels in front of a grant's lines.
pub const LABEL: usize = 11;

/// One of a grant's lines: its label, muted, then `text` (already inert).
pub fn labelled(label: &str, text: String, look: &Look) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{label:<LABEL$}"), look.theme.muted),
        Span::raw(text),
    ])
}
/// The lines that wrap instead of being cut: people's reasons.
const WRAPPED: [&str; 2] = ["Revoked", "Emergency"];

/// The pane's height for `grant`: its rule and four lines, and three more for each reason it holds.
pub fn pane_height(grant: Option<&Grant>) -> u16 {
    let reasons = grant.map_or(0, |g| {
        u16::from(g.revoked_at.is_some()) + u16::from(g.is_emergency)
    });
    5 + 3 * reasons
}

/// "in 12 days", "today", "3 days ago": how far `date` is from today, when today is known.
pub fn from_today(date: NaiveDate, today: Option<NaiveDate>) -> String {
    let Some(today) = today else {
        return String::new();
    };
    match (date - today).num_days() {
        0 => " (today)".into(),
        1 => " (tomorrow)".into(),
        n if n > 1 => format!(" (in {n} days)"),
        -1 => " (yesterday)".into(),
        n => format!(" ({} days ago)", -n),
    }
}

/// The detail pane's labelled lines (names and reasons are made inert when drawn).
pub fn detail_lines(g: &Grant, today: Option<NaiveDate>) -> Vec<(&'static str, String)> {
    let mut lines = vec![
        (
            "Grant",
            format!(
                "{} · {} · {} · {}",
                short_id(g.id),
                g.status.label(),
                g.level.label(),
                g.scope_text()
            ),
        ),
        (
            "Patient",
            format!(
                "{}   Grantee: {}{}",
                g.patient.name,
                g.grantee.name,
                g.grantee_role
                    .map(|r| format!(" ({})", r.label()))
                    .unwrap_or_default()
            ),
        ),
        (
            "Expires",
            format!(
                "{}{}",
                when(g.expires_at),
                from_today(g.expires_at.date_naive(), today)
            ),
        ),
        (
            "Granted",
            format!("by {} at {}", g.granted_by.name, when(g.created_at)),
        ),
    ];
    if let Some(at) = g.revoked_at {
        let by = g
            .revoked_by
            .as_ref()
            .map(|p| p.name.as_str())
            .unwrap_or("(unknown)");
        lines.push((
            "Revoked",
            format!(
                "at {} by {by}: {}",
                when(at),
                g.revocation_reason.as_deref().unwrap_or("")
            ),
        ));
    }
    if g.is_emergency {
        lines.push((
            "Emergency",
            format!(
                "break-glass: {}",
                g.emergency_reason.as_deref().unwrap_or("")
            ),
        ));
    }
    lines
}

/// The line under an expiry field: when the typed expiry ends, or how to write one.
pub fn expiry_hint(typed: &str, today: Option<NaiveDate>) -> String {
    today
        .and_then(|t| parse_expiry(typed, t).ok())
        .map(|d| format!("    until {}{}", when(end_of_day(d)), from_today(d, today)))
        .unwrap_or_else(|| "    a date (2027-06-30), or 90d, 12w, 6m, 1y from today".into())
}
