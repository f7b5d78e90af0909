//! Drawing the editor: the one-line fields, the two text areas, the reason, the note, the key
//! hints, and Esc's question over all of it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::{Editor, Focus, Target};
use crate::tui::keymap::Command;
use crate::tui::screens::common;
use crate::tui::screens::records::Look;
use crate::tui::widgets::modal;
use crate::tui::widgets::text::clip;

/// Where each part of the editor goes in the tab's area.
pub(super) struct Areas {
    info: Rect,
    title: Rect,
    kind: Rect,
    date: Rect,
    pub(super) description: Rect,
    pub(super) metadata: Rect,
    reason: Rect,
    note: Rect,
    hint: Rect,
}

pub(super) fn areas(body: Rect) -> Areas {
    let [
        info,
        title,
        kind_date,
        description,
        metadata,
        reason,
        note,
        hint,
    ] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(4),
        Constraint::Length((body.height / 4).max(6)),
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(body);
    let [kind, date] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
        .areas(kind_date);
    Areas {
        info,
        title,
        kind,
        date,
        description,
        metadata,
        reason,
        note,
        hint,
    }
}

pub(super) fn inner(area: Rect) -> Rect {
    Block::default().borders(Borders::ALL).inner(area)
}

impl Editor {
    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let a = areas(area);
        let info = match &self.target {
            Target::New { patient } => format!("New record for {}", patient.name),
            Target::Existing {
                patient,
                base_version,
                ..
            } => format!(
                "Editing {}'s record · based on version {base_version}",
                patient.name
            ),
        };
        f.render_widget(
            Paragraph::new(Line::styled(
                clip(&info, usize::from(a.info.width)),
                theme.title,
            )),
            a.info,
        );
        let editing = self.confirm.is_none() && self.pending.is_none();
        let on = |f: Focus| editing && self.focus == f;
        self.title.render(f, a.title, on(Focus::Title), theme);
        self.kind.render(f, a.kind, on(Focus::Kind), theme);
        self.date.render(f, a.date, on(Focus::Date), theme);
        for (focus, text, area, title) in [
            (
                Focus::Description,
                &self.description,
                a.description,
                " Description ".to_string(),
            ),
            (
                Focus::Metadata,
                &self.metadata,
                a.metadata,
                " Metadata · one \"name: value\" per line ".to_string(),
            ),
        ] {
            let focused = on(focus);
            let block = Block::default()
                .borders(Borders::ALL)
                .title(if focused {
                    format!("▶{title}")
                } else {
                    title
                })
                .border_style(if focused { theme.focus } else { theme.muted });
            let inside = block.inner(area);
            f.render_widget(block, area);
            text.render(f, inside, focused, theme);
        }
        if self.is_new() {
            f.render_widget(
                Paragraph::new(Span::styled("  A new record needs no reason.", theme.muted)),
                a.reason,
            );
        } else {
            self.reason.render(f, a.reason, on(Focus::Reason), theme);
        }
        common::note(f, a.note, self.note.as_ref(), theme);
        if self.saving.is_some() {
            common::busy(f, a.hint, "Saving…", look.ticks, theme);
        } else if self.reloading.is_some() {
            common::busy(f, a.hint, "Reloading the record…", look.ticks, theme);
        } else if self.pending.is_some() {
            look.hint_line(
                f,
                a.hint,
                &look.hints(&[
                    (Command::Save, "try now"),
                    (Command::Back, "give up the draft"),
                ]),
            );
        } else {
            let mut items = vec![(Command::Save, "save"), (Command::NextField, "next field")];
            if self.focus == Focus::Kind {
                items.push((Command::Down, "next type"));
            }
            if !self.is_new() {
                items.push((Command::Refresh, "reload the record"));
            }
            items.push((Command::Back, "close"));
            look.hint_line(f, a.hint, &look.hints(&items));
        }
        if let Some(yes) = self.confirm {
            let question = if self.pending.is_some() {
                "The draft has not been saved yet (the database is not answering). Stop trying and throw it away?"
            } else {
                "Throw away the changes in this draft?"
            };
            modal::ask(
                f,
                area,
                "Unsaved draft",
                vec![Line::from(question)],
                ("No, keep editing", "Yes, throw away"),
                yes,
                theme,
            );
        }
    }
}
