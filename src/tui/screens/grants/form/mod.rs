//! A new grant: the patient and the grantee, each found by typing part of a name (searched once
//! typing pauses; see `chooser`); all of the patient's records or chosen ones (listed only when
//! chosen ones are asked for); read or read and write; and the expiry (a UTC day, or 90d / 6m / 1y
//! from today; a year unless changed). Enter or Ctrl-S states the grant in a confirm modal; only Yes
//! sends it.

use std::collections::BTreeSet;

use chrono::{Months, NaiveDate};
use crossterm::event::{KeyCode, KeyEvent};
use uuid::Uuid;

mod chooser;
mod view;

use super::detail::from_today;
use super::{CONFIRMING, Confirm, Nav, confirm_key};
use crate::services::grants::{
    AccessLevel, GrantView, NewGrant, RecordChoice, Wanted, end_of_day, first_few, typed_expiry,
    when,
};
use crate::services::records::Person;
use crate::tui::keymap::Command;
use crate::tui::msg::{GrantResult, GrantWork, Ticket};
use crate::tui::screens::records::Cx;
use crate::tui::state::Note;
use crate::tui::widgets::field::Field;
use chooser::Chooser;

/// The form's stops, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Patient,
    Grantee,
    Scope,
    Records,
    Access,
    Expiry,
}

pub struct GrantForm {
    max_days: u32,
    pub focus: Focus,
    /// The patient, fixed for a patient granting on their own records.
    pub own: Option<Person>,
    pub patient: Chooser,
    pub grantee: Chooser,
    pub all_records: bool,
    pub records: Vec<RecordChoice>,
    pub chosen_records: BTreeSet<Uuid>,
    pub record_cursor: usize,
    loading_records: Option<Ticket>,
    pub level: AccessLevel,
    pub expiry: Field,
    pub confirm: Option<Confirm>,
    waiting: Option<Ticket>,
    pub note: Option<Note>,
}

/// Names, searches and chosen records stay out of `Debug`.
impl std::fmt::Debug for GrantForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrantForm")
            .field("focus", &self.focus)
            .field("patient_chosen", &self.patient.chosen.is_some())
            .field("grantee_chosen", &self.grantee.chosen.is_some())
            .field("all_records", &self.all_records)
            .field("chosen_records", &self.chosen_records.len())
            .field("level", &self.level)
            .field("confirm", &self.confirm)
            .field("waiting", &self.waiting)
            .finish_non_exhaustive()
    }
}

impl GrantForm {
    /// The form; a patient granting on their own records chooses no patient and starts at the grantee.
    pub fn new(view: GrantView, max_days: u32, cx: &mut Cx) -> GrantForm {
        let today = cx.utc_today;
        let own = (view == GrantView::OwnRecords).then(|| Person {
            id: cx.session.user.id,
            name: cx.session.user.display_name(),
        });
        // A year from today by default.
        let default = today
            .and_then(|t| t.checked_add_months(Months::new(12)))
            .map(|d| d.to_string())
            .unwrap_or_default();
        GrantForm {
            max_days,
            focus: if own.is_some() {
                Focus::Grantee
            } else {
                Focus::Patient
            },
            own,
            patient: Chooser::new(Wanted::Patient, "Patient"),
            grantee: Chooser::new(Wanted::Grantee, "Grantee"),
            all_records: true,
            records: Vec::new(),
            chosen_records: BTreeSet::new(),
            record_cursor: 0,
            loading_records: None,
            level: AccessLevel::Read,
            expiry: Field::new("Expires", 20).with_value(&default),
            confirm: None,
            waiting: None,
            note: None,
        }
    }

    pub fn typing(&self) -> bool {
        self.confirm.is_none()
            && matches!(self.focus, Focus::Patient | Focus::Grantee | Focus::Expiry)
    }

    pub fn busy(&self) -> bool {
        self.waiting.is_some()
            || self.loading_records.is_some()
            || self.patient.looking()
            || self.grantee.looking()
    }

    pub fn awaits(&self, ticket: Ticket) -> bool {
        [self.waiting, self.loading_records].contains(&Some(ticket))
            || self.patient.awaits(ticket)
            || self.grantee.awaits(ticket)
    }

    pub fn title(&self) -> &'static str {
        "New access grant"
    }

    pub fn commands(&self) -> &'static [Command] {
        if self.confirm.is_some() {
            return CONFIRMING;
        }
        &[
            Command::NextField,
            Command::PrevField,
            Command::Up,
            Command::Down,
            Command::Mark,
            Command::Submit,
            Command::Save,
            Command::Back,
        ]
    }

    /// The stops in Tab order: no patient stop for a patient, no records stop for all records.
    fn stops(&self) -> Vec<Focus> {
        let mut stops = Vec::new();
        if self.own.is_none() {
            stops.push(Focus::Patient);
        }
        stops.extend([Focus::Grantee, Focus::Scope]);
        if !self.all_records {
            stops.push(Focus::Records);
        }
        stops.extend([Focus::Access, Focus::Expiry]);
        stops
    }

    fn step(&mut self, forward: bool) {
        let stops = self.stops();
        let at = stops.iter().position(|s| *s == self.focus).unwrap_or(0);
        let n = stops.len();
        self.focus = stops[if forward {
            (at + 1) % n
        } else {
            (at + n - 1) % n
        }];
    }

    fn patient_id(&self) -> Option<Uuid> {
        match &self.own {
            Some(me) => Some(me.id),
            None => self.patient.chosen.as_ref().map(|c| c.person.id),
        }
    }

    fn patient_name(&self) -> String {
        match (&self.own, &self.patient.chosen) {
            (Some(me), _) => me.name.clone(),
            (None, Some(c)) => c.person.name.clone(),
            (None, None) => String::new(),
        }
    }

    pub fn paste(&mut self, text: &str, cx: &mut Cx) {
        if !self.typing() || self.waiting.is_some() {
            return;
        }
        let result = match self.focus {
            Focus::Patient => self
                .patient
                .query
                .paste(text)
                .map(|()| self.patient.changed(cx.now)),
            Focus::Grantee => self
                .grantee
                .query
                .paste(text)
                .map(|()| self.grantee.changed(cx.now)),
            _ => self.expiry.paste(text),
        };
        self.note = result.err().map(Note::Error);
    }

    pub fn key(&mut self, key: KeyEvent, command: Option<Command>, cx: &mut Cx) -> Nav {
        if self.waiting.is_some() {
            return Nav::Stay;
        }
        if confirm_key(&mut self.confirm, &mut self.waiting, key, command, cx) {
            return Nav::Stay;
        }
        match command {
            // Esc first closes a list of people found; then it leaves the form.
            Some(Command::Back) if self.focus == Focus::Patient && self.patient.dismiss() => {}
            Some(Command::Back) if self.focus == Focus::Grantee && self.grantee.dismiss() => {}
            Some(Command::Back) => return Nav::Back,
            Some(Command::NextField) => self.step(true),
            Some(Command::PrevField) => self.step(false),
            Some(Command::Save) => self.submit(cx.utc_today),
            _ => match self.focus {
                Focus::Patient | Focus::Grantee => self.chooser_key(key, command, cx),
                Focus::Scope => {
                    if toggles(key, command) {
                        self.all_records = !self.all_records;
                        self.load_records(cx);
                    } else if command == Some(Command::Submit) {
                        self.submit(cx.utc_today);
                    }
                }
                Focus::Records => self.records_key(command, cx.utc_today),
                Focus::Access => {
                    if toggles(key, command) {
                        self.level = match self.level {
                            AccessLevel::Read => AccessLevel::ReadWrite,
                            AccessLevel::ReadWrite => AccessLevel::Read,
                        };
                    } else if command == Some(Command::Submit) {
                        self.submit(cx.utc_today);
                    }
                }
                Focus::Expiry => {
                    if command == Some(Command::Submit) {
                        self.submit(cx.utc_today);
                    } else {
                        self.note = self.expiry.key(key).err().map(Note::Error);
                    }
                }
            },
        }
        Nav::Stay
    }

    fn chooser_key(&mut self, key: KeyEvent, command: Option<Command>, cx: &mut Cx) {
        let is_patient = self.focus == Focus::Patient;
        let chooser = if is_patient {
            &mut self.patient
        } else {
            &mut self.grantee
        };
        match command {
            Some(Command::Up) => chooser.pick = chooser.pick.saturating_sub(1),
            Some(Command::Down) => {
                chooser.pick = (chooser.pick + 1).min(chooser.results.len().saturating_sub(1));
            }
            Some(Command::Submit) => match chooser.choose() {
                Ok(_) => {
                    self.note = None;
                    if is_patient {
                        self.forget_records();
                        self.load_records(cx);
                    }
                    self.step(true);
                }
                Err(e) => self.note = Some(Note::Error(e)),
            },
            _ => {
                let before = chooser.query.value().to_string();
                match chooser.query.key(key) {
                    Err(e) => self.note = Some(Note::Error(e)),
                    Ok(()) => {
                        self.note = None;
                        if chooser.query.value() != before {
                            chooser.changed(cx.now);
                            if is_patient {
                                self.forget_records();
                            }
                        }
                    }
                }
            }
        }
    }

    /// The chosen patient's records, when the grant is to list some and they are not here yet (a
    /// whole-chart grant needs no list, and none is read for it).
    fn load_records(&mut self, cx: &mut Cx) {
        if self.all_records || self.loading_records.is_some() || !self.records.is_empty() {
            return;
        }
        if let Some(patient) = self.patient_id() {
            self.loading_records = Some(cx.grant_work(GrantWork::PatientRecords(patient)));
        }
    }

    fn forget_records(&mut self) {
        self.records.clear();
        self.chosen_records.clear();
        self.record_cursor = 0;
        self.loading_records = None;
    }

    /// The heartbeat: a name typed and paused on is searched.
    pub fn tick(&mut self, cx: &mut Cx) {
        self.patient.tick(cx);
        self.grantee.tick(cx);
    }

    fn records_key(&mut self, command: Option<Command>, today: Option<NaiveDate>) {
        match command {
            Some(Command::Up) => self.record_cursor = self.record_cursor.saturating_sub(1),
            Some(Command::Down) => {
                self.record_cursor =
                    (self.record_cursor + 1).min(self.records.len().saturating_sub(1));
            }
            Some(Command::Mark) => {
                if let Some(r) = self.records.get(self.record_cursor)
                    && !self.chosen_records.remove(&r.id)
                {
                    self.chosen_records.insert(r.id);
                }
            }
            Some(Command::Submit) => self.submit(today),
            _ => {}
        }
    }

    /// Checks the form and, when it holds a whole grant, states it in the confirm modal.
    fn submit(&mut self, today: Option<NaiveDate>) {
        match self.prepare(today) {
            Ok((new, lines)) => {
                self.note = None;
                self.confirm = Some(Confirm::new(lines, GrantWork::Create(new)));
            }
            Err(e) => self.note = Some(Note::Error(e)),
        }
    }

    fn prepare(&self, today: Option<NaiveDate>) -> Result<(NewGrant, Vec<String>), String> {
        let patient = self
            .patient_id()
            .ok_or("Choose the patient: type part of their name and press Enter on them.")?;
        let grantee = self
            .grantee
            .chosen
            .clone()
            .ok_or("Choose the grantee: type part of their name and press Enter on them.")?;
        let records = if self.all_records {
            None
        } else {
            if self.chosen_records.is_empty() {
                return Err(
                    "Mark at least one record with Space, or grant all of the patient's records."
                        .into(),
                );
            }
            Some(self.chosen_records.iter().copied().collect::<Vec<_>>())
        };
        let date = typed_expiry(self.expiry.value(), today, self.max_days)?;
        let expires_at = end_of_day(date);
        let whose = match &self.own {
            Some(_) => "your".to_string(),
            None => format!("{}'s", self.patient_name()),
        };
        let scope = match &records {
            None => format!("all of {whose} records, including any added later"),
            Some(ids) => {
                let labels: Vec<String> = self
                    .records
                    .iter()
                    .filter(|r| ids.contains(&r.id))
                    .map(|r| format!("{} {}", r.record_type.label(), r.record_date))
                    .collect();
                format!("{} of {whose} records: {}", ids.len(), first_few(&labels))
            }
        };
        let lines = vec![
            format!(
                "Give {} ({}) {} access to {scope}.",
                grantee.person.name,
                grantee.role.label(),
                self.level.label()
            ),
            format!("Until {}{}.", when(expires_at), from_today(date, today)),
            "It can be shortened or revoked at any time; the change is on the audit trail.".into(),
        ];
        let new = NewGrant {
            patient,
            grantee: grantee.person.id,
            records,
            level: self.level,
            expires_at,
        };
        Ok((new, lines))
    }

    pub fn done(&mut self, ticket: Ticket, result: GrantResult, cx: &mut Cx) -> Nav {
        match result {
            GrantResult::People(result) => match result {
                Ok(people) => {
                    cx.heard();
                    if self.patient.awaits(ticket) {
                        self.patient.found(people);
                    } else if self.grantee.awaits(ticket) {
                        self.grantee.found(people);
                    }
                }
                Err(e) => {
                    self.patient.dismiss();
                    self.grantee.dismiss();
                    self.note = Some(Note::Error(cx.sentence(&e)));
                }
            },
            GrantResult::Records(result) if self.loading_records == Some(ticket) => {
                self.loading_records = None;
                match result {
                    Ok(records) => {
                        cx.heard();
                        self.records = records;
                        self.record_cursor = 0;
                    }
                    Err(e) => self.note = Some(Note::Error(cx.sentence(&e))),
                }
            }
            GrantResult::Changed(result) if self.waiting == Some(ticket) => {
                self.waiting = None;
                match result {
                    Ok(grant) => {
                        cx.heard();
                        let note = format!(
                            "Granted: {} now has {} access to {} of {}'s records until {}.",
                            grant.grantee.name,
                            grant.level.label(),
                            match &grant.records {
                                None => "all".to_string(),
                                Some(r) => r.len().to_string(),
                            },
                            grant.patient.name,
                            when(grant.expires_at)
                        );
                        return Nav::Changed { grant, note };
                    }
                    Err(e) => self.note = Some(Note::Error(cx.sentence(&e))),
                }
            }
            _ => {}
        }
        Nav::Stay
    }
}

/// Space, ← and → flip a two-way choice.
fn toggles(key: KeyEvent, command: Option<Command>) -> bool {
    command == Some(Command::Mark) || matches!(key.code, KeyCode::Left | KeyCode::Right)
}
