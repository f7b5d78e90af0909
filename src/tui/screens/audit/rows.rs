//! The event list as a table. What stands out (HIGH and CRITICAL, break-glass) is marked in text —
//! `!!`, `!` and the words "BREAK-GLASS" — so it reads the same without colour.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};

use super::AuditTab;
use crate::services::audit::filter::AuditFilter;
use crate::services::audit::query::{AuditEvent, Named, PAGE_SIZE};
use crate::services::grants::short_id;
use crate::tui::screens::paged::Columns;
use crate::tui::screens::records::Look;
use crate::tui::widgets::text::clip;

/// `!!` for CRITICAL, `!` for HIGH, then `✓` once an admin marked it reviewed.
pub fn marker(e: &AuditEvent) -> String {
    let level = match e.severity.as_str() {
        "CRITICAL" => "!!",
        "HIGH" => "! ",
        _ if e.is_break_glass() => "! ",
        _ => "  ",
    };
    let reviewed = if e.review.is_some() { "✓" } else { " " };
    format!("{level}{reviewed}")
}

/// "John Smith", or the start of the id when the reader may not see the name.
pub fn who(person: Option<&Named>) -> String {
    match person {
        Some(Named {
            name: Some(name), ..
        }) => name.clone(),
        Some(p) => format!("user {}", short_id(p.id)),
        None => "—".into(),
    }
}

/// "John Smith (physician)".
pub fn who_with_role(person: Option<&Named>) -> String {
    match person {
        Some(Named {
            name: Some(name),
            role: Some(role),
            ..
        }) => format!("{name} ({})", role.replace('_', " ")),
        other => who(other),
    }
}

/// The action in the clinic's words, for a patient's accounting of who looked at their records.
pub fn what(e: &AuditEvent) -> String {
    let record = e
        .resource_id
        .map(|id| format!(" {}", short_id(id)))
        .unwrap_or_default();
    let denied = if e.outcome == "success" {
        ""
    } else {
        " (refused)"
    };
    let words = match e.action.as_str() {
        "RECORD_VIEW" => format!("opened record{record}"),
        "RECORD_VERSION_VIEW" => format!("read an earlier version of record{record}"),
        "RECORD_UPDATE" => format!("changed record{record}"),
        "RECORD_CREATE" => format!("added record{record}"),
        "RECORD_LIST" => "listed records".into(),
        "EMERGENCY_ACCESS" => "BREAK-GLASS: emergency access to your records".into(),
        other => other.to_lowercase().replace('_', " "),
    };
    format!("{words}{denied}")
}

/// The action column: its name, with break-glass said in words.
fn action(e: &AuditEvent) -> String {
    if e.is_break_glass() {
        format!("BREAK-GLASS {}", e.action)
    } else {
        e.action.clone()
    }
}

pub fn table(tab: &AuditTab, f: &mut Frame, area: Rect, look: &Look) {
    let empty = match (
        tab.list.filter == AuditFilter::default(),
        tab.patient_view(),
    ) {
        (true, true) => "No one has opened your records yet.",
        (true, false) => "No events yet.",
        (false, _) => "No events match the filter.",
    }
    .to_string();
    let title = format!(" Events · up to {PAGE_SIZE} a page ");
    if tab.patient_view() {
        let columns = Columns {
            title,
            loading: "Loading events…",
            empty,
            widths: [
                Constraint::Length(3),
                Constraint::Length(16),
                Constraint::Length(26),
                Constraint::Min(10),
            ],
            header: ["", "When (UTC)", "Who", "What"],
        };
        tab.list.table(f, area, look, columns, |e, w| {
            [
                marker(e),
                e.occurred_at.format("%Y-%m-%d %H:%M").to_string(),
                clip(&who_with_role(e.user.as_ref()), w[2]),
                clip(&what(e), w[3]),
            ]
        });
        return;
    }
    let columns = Columns {
        title,
        loading: "Loading events…",
        empty,
        widths: [
            Constraint::Length(3),
            Constraint::Length(14),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Length(22),
            Constraint::Min(10),
        ],
        header: [
            "",
            "Time (UTC)",
            "Severity",
            "Outcome",
            "Action",
            "User → patient",
        ],
    };
    tab.list.table(f, area, look, columns, |e, w| {
        let people = match &e.patient {
            Some(p) => format!("{} → {}", who(e.user.as_ref()), who(Some(p))),
            None => who(e.user.as_ref()),
        };
        [
            marker(e),
            e.occurred_at.format("%m-%d %H:%M:%S").to_string(),
            e.severity.clone(),
            e.outcome.clone(),
            clip(&action(e), w[4]),
            clip(&people, w[5]),
        ]
    });
}
