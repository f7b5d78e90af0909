//! Drawing the new-grant form and its confirm modal.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::chooser::{Chooser, RESULT_ROWS};
use super::{Focus, GrantForm};
use crate::services::grants::AccessLevel;
use crate::tui::keymap::Command;
use crate::tui::screens::common;
use crate::tui::screens::grants::detail::expiry_hint;
use crate::tui::screens::grants::rows::Rows;
use crate::tui::screens::records::Look;
use crate::tui::widgets::text::clip;

impl GrantForm {
    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let mut rows = Rows::new(area);
        f.render_widget(
            Paragraph::new(Line::styled(
                "New access grant: who may see which of a patient's records, and until when.",
                theme.title,
            )),
            rows.take(1),
        );
        rows.take(1);
        match &self.own {
            Some(me) => static_line(
                f,
                rows.take(1),
                "Patient",
                &format!("you ({})", me.name),
                look,
            ),
            None => self.chooser_view(
                f,
                &mut rows,
                &self.patient,
                self.focus == Focus::Patient,
                look,
            ),
        }
        self.chooser_view(
            f,
            &mut rows,
            &self.grantee,
            self.focus == Focus::Grantee,
            look,
        );
        let scope = if self.all_records {
            "(•) all records   ( ) chosen records"
        } else {
            "( ) all records   (•) chosen records"
        };
        choice_line(
            f,
            rows.take(1),
            "Scope",
            scope,
            self.focus == Focus::Scope,
            look,
        );
        if !self.all_records {
            self.records_view(f, &mut rows, look);
        }
        let level = match self.level {
            AccessLevel::Read => "(•) read   ( ) read and write",
            AccessLevel::ReadWrite => "( ) read   (•) read and write",
        };
        choice_line(
            f,
            rows.take(1),
            "Access",
            level,
            self.focus == Focus::Access,
            look,
        );
        let expiry_row = rows.take(1);
        self.expiry.render(
            f,
            expiry_row,
            self.focus == Focus::Expiry && self.confirm.is_none(),
            theme,
        );
        let until = expiry_hint(self.expiry.value(), look.utc_today);
        f.render_widget(
            Paragraph::new(Span::styled(
                clip(&until, usize::from(area.width)),
                theme.muted,
            )),
            rows.take(1),
        );
        let [note, hint] = rows.bottom();
        common::note(f, note, self.note.as_ref(), theme);
        let hints = look.hints(match self.focus {
            Focus::Patient | Focus::Grantee => &[
                (Command::Down, "move"),
                (Command::Submit, "choose"),
                (Command::NextField, "next"),
                (Command::Save, "review"),
                (Command::Back, "cancel"),
            ],
            Focus::Scope | Focus::Access => &[
                (Command::Mark, "toggle"),
                (Command::NextField, "next"),
                (Command::Submit, "review"),
                (Command::Back, "cancel"),
            ],
            Focus::Records => &[
                (Command::Down, "move"),
                (Command::Mark, "mark"),
                (Command::NextField, "next"),
                (Command::Submit, "review"),
                (Command::Back, "cancel"),
            ],
            Focus::Expiry => &[
                (Command::NextField, "next"),
                (Command::Submit, "review"),
                (Command::Back, "cancel"),
            ],
        });
        common::hint_or_busy(
            f,
            hint,
            self.waiting.is_some(),
            "Creating the grant…",
            &hints,
            look.ticks,
            theme,
        );
        if let Some(confirm) = &self.confirm {
            confirm.view(f, area, look, "Create this grant?", "Yes, grant");
        }
    }

    fn chooser_view(
        &self,
        f: &mut Frame,
        rows: &mut Rows,
        c: &Chooser,
        focused: bool,
        look: &Look,
    ) {
        let theme = look.theme;
        let row = rows.take(1);
        let focused = focused && self.confirm.is_none();
        c.query.render(f, row, focused, theme);
        if !focused {
            return;
        }
        if c.looking() && c.query.value().trim().chars().count() >= 2 {
            common::busy(f, rows.take(1), "Looking…", look.ticks, theme);
            return;
        }
        let width = usize::from(row.width).saturating_sub(6);
        for (i, cand) in c.results.iter().enumerate().take(RESULT_ROWS) {
            let mut text = format!("{} · {}", cand.person.name, cand.role.label());
            if let Some(detail) = &cand.detail {
                text.push_str(&format!(" · {detail}"));
            }
            if !cand.eligible {
                text.push_str(" — cannot hold a grant");
            }
            let text = clip(&text, width);
            let line = if i == c.pick {
                Line::styled(format!("    ▶ {text}"), theme.selected)
            } else if cand.eligible {
                Line::from(format!("      {text}"))
            } else {
                Line::styled(format!("      {text}"), theme.muted)
            };
            f.render_widget(Paragraph::new(line), rows.take(1));
        }
    }

    fn records_view(&self, f: &mut Frame, rows: &mut Rows, look: &Look) {
        let theme = look.theme;
        if self.loading_records.is_some() {
            common::busy(
                f,
                rows.take(1),
                "Loading the patient's records…",
                look.ticks,
                theme,
            );
            return;
        }
        if self.records.is_empty() {
            let text = match (&self.own, self.patient_id()) {
                (_, None) => "      Choose the patient first.",
                (Some(_), Some(_)) => "      You have no records yet.",
                (None, Some(_)) => "      This patient has no records yet.",
            };
            f.render_widget(
                Paragraph::new(Span::styled(text, theme.muted)),
                rows.take(1),
            );
            return;
        }
        // Room for the lines below the list: access, expiry, its explanation, note and hint.
        let room = usize::from(rows.left()).saturating_sub(6).clamp(1, 8);
        let first = self.record_cursor.saturating_sub(room - 1);
        let focused = self.focus == Focus::Records && self.confirm.is_none();
        for (i, r) in self.records.iter().enumerate().skip(first).take(room) {
            let mark = if self.chosen_records.contains(&r.id) {
                "[x]"
            } else {
                "[ ]"
            };
            let text = format!(
                "{mark} {} {} · {}",
                r.record_date,
                r.record_type.label(),
                r.provider
            );
            let row = rows.take(1);
            let text = clip(&text, usize::from(row.width).saturating_sub(6));
            let line = if focused && i == self.record_cursor {
                Line::styled(format!("    ▶ {text}"), theme.selected)
            } else {
                Line::from(format!("      {text}"))
            };
            f.render_widget(Paragraph::new(line), row);
        }
    }
}

fn static_line(f: &mut Frame, row: Rect, label: &str, value: &str, look: &Look) {
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(format!("  {label}: "), look.theme.base),
            Span::raw(clip(
                value,
                usize::from(row.width).saturating_sub(label.len() + 4),
            )),
        ])),
        row,
    );
}

fn choice_line(f: &mut Frame, row: Rect, label: &str, choices: &str, focused: bool, look: &Look) {
    let marker = if focused { "▶" } else { " " };
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                format!("{marker} {label}: "),
                if focused {
                    look.theme.focus
                } else {
                    look.theme.base
                },
            ),
            Span::raw(choices.to_string()),
        ])),
        row,
    );
}
