//! Changing a grant: a new expiry (extend or shorten), or revocation with a reason. Each form states
//! the change in a confirm modal — from what to what, whose access, and that a revocation takes
//! effect at once, also for anyone with the record open — and sends it only on Yes.

use chrono::{DateTime, NaiveDate, Utc};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::detail::{detail_lines, from_today};
use super::rows::Rows;
use super::{Answer, CONFIRMING, Confirm, Nav};
use crate::services::grants::{
    Grant, MIN_REVOCATION_REASON, end_of_day, expiry_problem, parse_expiry, short_id, when,
};
use crate::tui::keymap::Command;
use crate::tui::msg::{GrantResult, GrantWork, Ticket};
use crate::tui::screens::common;
use crate::tui::screens::records::{Cx, Look};
use crate::tui::state::Note;
use crate::tui::widgets::field::Field;
use crate::tui::widgets::text::clip;

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

/// The grant being changed, as the detail pane shows it.
fn grant_lines(f: &mut Frame, rows: &mut Rows, g: &Grant, look: &Look) {
    for (label, text) in detail_lines(g, look.today) {
        let row = rows.take(1);
        f.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(format!("{label:<11}"), look.theme.muted),
                Span::raw(clip(&text, usize::from(row.width).saturating_sub(11))),
            ])),
            row,
        );
    }
}

/// One form's pending change and its confirm modal: the shared half of both forms.
#[derive(Default)]
struct Pending {
    confirm: Option<Confirm>,
    lines: Vec<String>,
    work: Option<GrantWork>,
    waiting: Option<Ticket>,
}

/// The modal's sentences quote names and the reason: `Debug` leaves them out.
impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("confirm", &self.confirm)
            .field("work", &self.work)
            .field("waiting", &self.waiting)
            .finish_non_exhaustive()
    }
}

impl Pending {
    fn ask(&mut self, lines: Vec<String>, work: GrantWork) {
        self.lines = lines;
        self.work = Some(work);
        self.confirm = Some(Confirm::new());
    }

    /// Keys while the modal is up; true when it took the key.
    fn key(&mut self, key: KeyEvent, command: Option<Command>, cx: &mut Cx) -> bool {
        let Some(confirm) = &mut self.confirm else {
            return false;
        };
        match confirm.key(key, command) {
            Answer::Undecided => {}
            Answer::No => {
                self.confirm = None;
                self.work = None;
            }
            Answer::Yes => {
                self.confirm = None;
                if let Some(work) = self.work.take() {
                    self.waiting = Some(cx.grant_work(work));
                }
            }
        }
        true
    }

    /// The change's result: back to the list with `note`, or the refusal in `note_slot`.
    fn done(
        &mut self,
        ticket: Ticket,
        result: GrantResult,
        cx: &mut Cx,
        note_slot: &mut Option<Note>,
        said: impl FnOnce(&Grant) -> String,
    ) -> Nav {
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
                let note = said(&grant);
                Nav::Changed { grant, note }
            }
            Err(e) => {
                *note_slot = Some(Note::Error(cx.sentence(&e)));
                Nav::Stay
            }
        }
    }
}

/// A new expiry for an active grant.
#[derive(Debug)]
pub struct ExpiryForm {
    pub grant: Grant,
    pub field: Field,
    today: Option<NaiveDate>,
    max_days: u32,
    pending: Pending,
    pub note: Option<Note>,
}

impl ExpiryForm {
    pub fn new(grant: Grant, today: Option<NaiveDate>, max_days: u32) -> ExpiryForm {
        let current = grant.expires_at.date_naive().to_string();
        ExpiryForm {
            grant,
            field: Field::new("New expiry", 20).with_value(&current),
            today,
            max_days,
            pending: Pending::default(),
            note: None,
        }
    }

    pub fn typing(&self) -> bool {
        self.pending.confirm.is_none()
    }

    pub fn busy(&self) -> bool {
        self.pending.waiting.is_some()
    }

    pub fn awaits(&self, ticket: Ticket) -> bool {
        self.pending.waiting == Some(ticket)
    }

    pub fn title(&self) -> &'static str {
        "Change a grant's expiry"
    }

    pub fn commands(&self) -> &'static [Command] {
        if self.pending.confirm.is_some() {
            CONFIRMING
        } else {
            &[Command::Submit, Command::Back]
        }
    }

    pub fn paste(&mut self, text: &str, _cx: &mut Cx) {
        if self.typing() && self.pending.waiting.is_none() {
            self.note = self.field.paste(text).err().map(Note::Error);
        }
    }

    pub fn key(&mut self, key: KeyEvent, command: Option<Command>, cx: &mut Cx) -> Nav {
        if self.pending.waiting.is_some() || self.pending.key(key, command, cx) {
            return Nav::Stay;
        }
        match command {
            Some(Command::Back) => return Nav::Back,
            Some(Command::Submit) => match self.prepare() {
                Ok((lines, work)) => {
                    self.note = None;
                    self.pending.ask(lines, work);
                }
                Err(e) => self.note = Some(Note::Error(e)),
            },
            _ => self.note = self.field.key(key).err().map(Note::Error),
        }
        Nav::Stay
    }

    fn prepare(&self) -> Result<(Vec<String>, GrantWork), String> {
        let today = self
            .today
            .ok_or("Today's date is not known yet; try again in a moment.")?;
        let date = parse_expiry(self.field.value(), today)?;
        if let Some(problem) = expiry_problem(date, today, self.max_days) {
            return Err(problem);
        }
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

    pub fn done(&mut self, ticket: Ticket, result: GrantResult, cx: &mut Cx) -> Nav {
        self.pending.done(ticket, result, cx, &mut self.note, |g| {
            format!(
                "The grant {} now runs until {}.",
                short_id(g.id),
                when(g.expires_at)
            )
        })
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let mut rows = Rows::new(area);
        f.render_widget(
            Paragraph::new(Line::styled(
                "Extend or shorten this grant. It ends at the end of the day you give (UTC).",
                theme.title,
            )),
            rows.take(1),
        );
        rows.take(1);
        grant_lines(f, &mut rows, &self.grant, look);
        rows.take(1);
        self.field
            .render(f, rows.take(1), self.pending.confirm.is_none(), theme);
        let until = self
            .today
            .and_then(|t| parse_expiry(self.field.value(), t).ok())
            .map(|d| {
                format!(
                    "    until {}{}",
                    when(end_of_day(d)),
                    from_today(d, self.today)
                )
            })
            .unwrap_or_else(|| "    a date (2027-06-30), or 90d, 12w, 6m, 1y from today".into());
        f.render_widget(
            Paragraph::new(Span::styled(
                clip(&until, usize::from(area.width)),
                theme.muted,
            )),
            rows.take(1),
        );
        let [note, hint] = rows.bottom();
        common::note(f, note, self.note.as_ref(), theme);
        let hints = look.hints(&[(Command::Submit, "review"), (Command::Back, "cancel")]);
        common::hint_or_busy(
            f,
            hint,
            self.pending.waiting.is_some(),
            "Changing the expiry…",
            &hints,
            look.ticks,
            theme,
        );
        if let Some(confirm) = &self.pending.confirm {
            confirm.view(
                f,
                area,
                look,
                "Change the expiry?",
                &self.pending.lines,
                "Yes, change it",
            );
        }
    }
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

/// Revoking an active grant, with the reason.
#[derive(Debug)]
pub struct RevokeForm {
    pub grant: Grant,
    pub reason: Field,
    pending: Pending,
    pub note: Option<Note>,
}

impl RevokeForm {
    pub fn new(grant: Grant) -> RevokeForm {
        RevokeForm {
            grant,
            reason: Field::new("Reason", 500),
            pending: Pending::default(),
            note: None,
        }
    }

    pub fn typing(&self) -> bool {
        self.pending.confirm.is_none()
    }

    pub fn busy(&self) -> bool {
        self.pending.waiting.is_some()
    }

    pub fn awaits(&self, ticket: Ticket) -> bool {
        self.pending.waiting == Some(ticket)
    }

    pub fn title(&self) -> &'static str {
        "Revoke a grant"
    }

    pub fn commands(&self) -> &'static [Command] {
        if self.pending.confirm.is_some() {
            CONFIRMING
        } else {
            &[Command::Submit, Command::Back]
        }
    }

    pub fn paste(&mut self, text: &str, _cx: &mut Cx) {
        if self.typing() && self.pending.waiting.is_none() {
            self.note = self.reason.paste(text).err().map(Note::Error);
        }
    }

    pub fn key(&mut self, key: KeyEvent, command: Option<Command>, cx: &mut Cx) -> Nav {
        if self.pending.waiting.is_some() || self.pending.key(key, command, cx) {
            return Nav::Stay;
        }
        match command {
            Some(Command::Back) => return Nav::Back,
            Some(Command::Submit) => {
                let reason = self.reason.value().trim().to_string();
                if reason.chars().count() < MIN_REVOCATION_REASON {
                    self.note = Some(Note::Error(format!(
                        "Give the reason for revoking in at least {MIN_REVOCATION_REASON} characters."
                    )));
                    return Nav::Stay;
                }
                self.note = None;
                let lines = vec![
                    format!(
                        "Revoke grant {} now: {} ends immediately,",
                        short_id(self.grant.id),
                        whose_access(&self.grant)
                    ),
                    "also for anyone who has one of these records open.".into(),
                    format!("Reason: {reason}"),
                    "A revoked grant cannot be made active again.".into(),
                ];
                let work = GrantWork::Revoke {
                    grant: self.grant.id,
                    reason,
                };
                self.pending.ask(lines, work);
            }
            _ => self.note = self.reason.key(key).err().map(Note::Error),
        }
        Nav::Stay
    }

    pub fn done(&mut self, ticket: Ticket, result: GrantResult, cx: &mut Cx) -> Nav {
        self.pending.done(ticket, result, cx, &mut self.note, |g| {
            format!(
                "Revoked: {} no longer has access through grant {}.",
                g.grantee.name,
                short_id(g.id)
            )
        })
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let mut rows = Rows::new(area);
        f.render_widget(
            Paragraph::new(Line::styled(
                "Revoke this grant. It stops working at once; say why (it stays on the grant).",
                theme.title,
            )),
            rows.take(1),
        );
        rows.take(1);
        grant_lines(f, &mut rows, &self.grant, look);
        rows.take(1);
        self.reason
            .render(f, rows.take(1), self.pending.confirm.is_none(), theme);
        let [note, hint] = rows.bottom();
        common::note(f, note, self.note.as_ref(), theme);
        let hints = look.hints(&[(Command::Submit, "review"), (Command::Back, "cancel")]);
        common::hint_or_busy(
            f,
            hint,
            self.pending.waiting.is_some(),
            "Revoking…",
            &hints,
            look.ticks,
            theme,
        );
        if let Some(confirm) = &self.pending.confirm {
            confirm.view(
                f,
                area,
                look,
                "Revoke this grant?",
                &self.pending.lines,
                "Yes, revoke",
            );
        }
    }
}
