//! Changing a grant: a new expiry (extend or shorten), or revocation with a reason. The form states
//! the change in a confirm modal — from what to what, whose access, and that a revocation takes
//! effect at once, also for anyone with the record open — and sends it only on Yes.

use chrono::{DateTime, NaiveDate, Utc};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::detail::{LABEL, detail_lines, expiry_hint, labelled};
use super::rows::Rows;
use super::{CONFIRMING, Confirm, Nav, confirm_key};
use crate::services::grants::{
    Grant, MAX_REVOCATION_REASON, MIN_REVOCATION_REASON, end_of_day, short_id, typed_expiry, when,
};
use crate::tui::keymap::Command;
use crate::tui::msg::{GrantResult, GrantWork, Ticket};
use crate::tui::screens::common;
use crate::tui::screens::records::{Cx, Look};
use crate::tui::state::Note;
use crate::tui::widgets::field::Field;
use crate::tui::widgets::text::clip;

/// Which change the form makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A new expiry: a day from today, at most `max_days` ahead.
    Expiry { max_days: u32 },
    /// Revocation; the field holds the reason.
    Revoke,
}

/// A change to one active grant: its one field, then the confirm modal, then the request.
pub struct ChangeForm {
    pub grant: Grant,
    pub change: Change,
    /// The new expiry, or the reason for revoking.
    pub field: Field,
    pub confirm: Option<Confirm>,
    waiting: Option<Ticket>,
    pub note: Option<Note>,
}

/// The modal's sentences quote names and the reason: `Debug` leaves them out.
impl std::fmt::Debug for ChangeForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeForm")
            .field("grant", &self.grant)
            .field("change", &self.change)
            .field("field", &self.field)
            .field("confirm", &self.confirm)
            .field("waiting", &self.waiting)
            .finish_non_exhaustive()
    }
}

impl ChangeForm {
    /// A new expiry for `grant`, starting from the day it ends now.
    pub fn expiry(grant: Grant, max_days: u32) -> ChangeForm {
        let current = grant.expires_at.date_naive().to_string();
        ChangeForm::new(
            grant,
            Change::Expiry { max_days },
            Field::new("New expiry", 20).with_value(&current),
        )
    }

    /// Revoking `grant`, with a reason.
    pub fn revoke(grant: Grant) -> ChangeForm {
        ChangeForm::new(
            grant,
            Change::Revoke,
            Field::new("Reason", MAX_REVOCATION_REASON),
        )
    }

    fn new(grant: Grant, change: Change, field: Field) -> ChangeForm {
        ChangeForm {
            grant,
            change,
            field,
            confirm: None,
            waiting: None,
            note: None,
        }
    }

    pub fn typing(&self) -> bool {
        self.confirm.is_none()
    }

    pub fn busy(&self) -> bool {
        self.waiting.is_some()
    }

    pub fn awaits(&self, ticket: Ticket) -> bool {
        self.waiting == Some(ticket)
    }

    pub fn title(&self) -> &'static str {
        match self.change {
            Change::Expiry { .. } => "Change a grant's expiry",
            Change::Revoke => "Revoke a grant",
        }
    }

    pub fn commands(&self) -> &'static [Command] {
        if self.confirm.is_some() {
            CONFIRMING
        } else {
            &[Command::Submit, Command::Back]
        }
    }

    pub fn paste(&mut self, text: &str, _cx: &mut Cx) {
        if self.typing() && self.waiting.is_none() {
            self.note = self.field.paste(text).err().map(Note::Error);
        }
    }

    pub fn key(&mut self, key: KeyEvent, command: Option<Command>, cx: &mut Cx) -> Nav {
        if self.waiting.is_some()
            || confirm_key(&mut self.confirm, &mut self.waiting, key, command, cx)
        {
            return Nav::Stay;
        }
        match command {
            Some(Command::Back) => return Nav::Back,
            Some(Command::Submit) => {
                let prepared = match self.change {
                    Change::Expiry { max_days } => self.new_expiry(cx.utc_today, max_days),
                    Change::Revoke => self.revocation(),
                };
                match prepared {
                    Ok((lines, work)) => {
                        self.note = None;
                        self.confirm = Some(Confirm::new(lines, work));
                    }
                    Err(e) => self.note = Some(Note::Error(e)),
                }
            }
            _ => self.note = self.field.key(key).err().map(Note::Error),
        }
        Nav::Stay
    }

    fn new_expiry(
        &self,
        today: Option<NaiveDate>,
        max_days: u32,
    ) -> Result<(Vec<String>, GrantWork), String> {
        let date = typed_expiry(self.field.value(), today, max_days)?;
        let from = self.grant.expires_at;
        let to = end_of_day(date);
        if to == from {
            return Err("That is the grant's expiry already; choose another day.".into());
        }
        let lines = vec![
            format!(
                "Change the expiry of grant {} — {} —",
                short_id(self.grant.id),
                whose_access(&self.grant)
            ),
            format!("from {} to {}.", when(from), when(to)),
            format!("This {}.", difference(from, to)),
        ];
        let work = GrantWork::ChangeExpiry {
            grant: self.grant.id,
            expected: from,
            expires_at: to,
        };
        Ok((lines, work))
    }

    fn revocation(&self) -> Result<(Vec<String>, GrantWork), String> {
        let reason = self.field.value().trim().to_string();
        if reason.chars().count() < MIN_REVOCATION_REASON {
            return Err(format!(
                "Give the reason for revoking in at least {MIN_REVOCATION_REASON} characters."
            ));
        }
        let lines = vec![
            format!(
                "Revoke grant {} now: {} ends immediately,",
                short_id(self.grant.id),
                whose_access(&self.grant)
            ),
            "also for anyone who has one of these records open.".into(),
            format!("Reason: {}", clip(&reason, 160)),
            "A revoked grant cannot be made active again.".into(),
        ];
        let work = GrantWork::Revoke {
            grant: self.grant.id,
            reason,
        };
        Ok((lines, work))
    }

    pub fn done(&mut self, ticket: Ticket, result: GrantResult, cx: &mut Cx) -> Nav {
        if self.waiting != Some(ticket) {
            return Nav::Stay;
        }
        self.waiting = None;
        let GrantResult::Changed(result) = result else {
            return Nav::Stay;
        };
        match result {
            Ok(grant) => {
                cx.heard();
                let note = match self.change {
                    Change::Expiry { .. } => format!(
                        "The grant {} now runs until {}.",
                        short_id(grant.id),
                        when(grant.expires_at)
                    ),
                    Change::Revoke => format!(
                        "Revoked: {} no longer has access through grant {}.",
                        grant.grantee.name,
                        short_id(grant.id)
                    ),
                };
                Nav::Changed { grant, note }
            }
            Err(e) => {
                self.note = Some(Note::Error(cx.sentence(&e)));
                Nav::Stay
            }
        }
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let (intro, busy, modal_title, yes) = match self.change {
            Change::Expiry { .. } => (
                "Extend or shorten this grant. It ends at the end of the day you give (UTC).",
                "Changing the expiry…",
                "Change the expiry?",
                "Yes, change it",
            ),
            Change::Revoke => (
                "Revoke this grant. It stops working at once; say why (it stays on the grant).",
                "Revoking…",
                "Revoke this grant?",
                "Yes, revoke",
            ),
        };
        let mut rows = Rows::new(area);
        f.render_widget(
            Paragraph::new(Line::styled(intro, theme.title)),
            rows.take(1),
        );
        rows.take(1);
        for (label, text) in detail_lines(&self.grant, look.utc_today) {
            let row = rows.take(1);
            let text = clip(&text, usize::from(row.width).saturating_sub(LABEL));
            f.render_widget(Paragraph::new(labelled(label, text, look)), row);
        }
        rows.take(1);
        self.field
            .render(f, rows.take(1), self.confirm.is_none(), theme);
        if let Change::Expiry { .. } = self.change {
            let hint = expiry_hint(self.field.value(), look.utc_today);
            f.render_widget(
                Paragraph::new(Span::styled(
                    clip(&hint, usize::from(area.width)),
                    theme.muted,
                )),
                rows.take(1),
            );
        }
        let [note, hint] = rows.bottom();
        common::note(f, note, self.note.as_ref(), theme);
        let hints = look.hints(&[(Command::Submit, "review"), (Command::Back, "cancel")]);
        common::hint_or_busy(
            f,
            hint,
            self.waiting.is_some(),
            busy,
            &hints,
            look.ticks,
            theme,
        );
        if let Some(confirm) = &self.confirm {
            confirm.view(f, area, look, modal_title, yes);
        }
    }
}

/// "John Smith's read and write access to all records of Alice Anderson".
fn whose_access(g: &Grant) -> String {
    format!(
        "{}'s {} access to {} of {}",
        g.grantee.name,
        g.level.label(),
        g.scope_text(),
        g.patient.name
    )
}

/// "extends it by 186 days", "shortens it by 3 days", "extends it by less than a day".
fn difference(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let days = (to - from).num_days().abs();
    let verb = if to > from { "extends" } else { "shortens" };
    match days {
        0 => format!("{verb} it by less than a day"),
        1 => format!("{verb} it by 1 day"),
        n => format!("{verb} it by {n} days"),
    }
}
