//! The record editor: title, type and date on one line each, the description and the metadata
//! (`name: value` per line) in multi-line areas, and — for a change to an existing record — the
//! reason. Ctrl-S saves; Esc asks before a changed draft is thrown away.
//!
//! The draft is never lost to the database: a refusal or a conflict leaves it as it was with the
//! service's sentence; an outage keeps it and tries the very same save (same change id, so a save
//! that did land is found, not written twice) every few seconds until it lands or fails otherwise.
//! Once an attempt has ended any other way, the next save is a change of its own, with a new id:
//! the service refuses a change id that comes back with different content.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use uuid::Uuid;

mod view;

use view::{areas, inner};

use super::detail::Detail;
use super::{Cx, Nav, Page};
use crate::services::ServiceError;
use crate::services::records::{
    Access, Content, Draft, MAX_DESCRIPTION, MAX_REASON, MAX_TITLE, Person, RecordDetail,
    RecordType,
};
use crate::tui::keymap::Command;
use crate::tui::msg::{RecordResult, RecordWork, SaveRequest, SaveTarget, Ticket};
use crate::tui::state::Note;
use crate::tui::widgets::field::Field;
use crate::tui::widgets::textarea::TextArea;

/// How long a save waits before it is tried again while the database does not answer.
pub const RETRY_EVERY: Duration = Duration::from_secs(3);
/// The metadata area holds a short table, not a document.
const MAX_METADATA_TEXT: usize = 256 * 1024;

/// What the draft will become.
#[derive(Clone)]
pub enum Target {
    New {
        patient: Person,
    },
    Existing {
        record: Uuid,
        patient: Person,
        base_version: i32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Title,
    Kind,
    Date,
    Description,
    Metadata,
    Reason,
}

pub struct Editor {
    pub target: Target,
    /// The change id the next save carries. Retries of a save the database did not answer reuse
    /// it; once an attempt has ended otherwise (landed, refused, conflict), a fresh one is made.
    pub change_id: Uuid,
    pub title: Field,
    pub kind: Field,
    pub date: Field,
    pub description: TextArea,
    pub metadata: TextArea,
    pub reason: Field,
    pub focus: Focus,
    original: [String; 3],
    /// The save on its way.
    pub saving: Option<Ticket>,
    /// The save being made, kept until it lands or fails for good (retried unchanged).
    pub pending: Option<Arc<SaveRequest>>,
    pub retry_at: Option<Instant>,
    pub attempts: u32,
    reloading: Option<Ticket>,
    /// The "throw away the draft?" question: Some(whether Yes has the focus).
    pub confirm: Option<bool>,
    pub note: Option<Note>,
}

/// The patient's name stays out of `Debug`.
impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::New { patient } => f.debug_struct("New").field("patient", &patient.id).finish(),
            Target::Existing {
                record,
                patient,
                base_version,
            } => f
                .debug_struct("Existing")
                .field("record", record)
                .field("patient", &patient.id)
                .field("base_version", base_version)
                .finish(),
        }
    }
}

/// The draft stays out of `Debug`: the fields and areas print their sizes, the save its ids.
impl std::fmt::Debug for Editor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Editor")
            .field("target", &self.target)
            .field("change_id", &self.change_id)
            .field("title", &self.title)
            .field("description", &self.description)
            .field("metadata", &self.metadata)
            .field("reason", &self.reason)
            .field("focus", &self.focus)
            .field("saving", &self.saving)
            .field("pending", &self.pending)
            .field("attempts", &self.attempts)
            .field("confirm", &self.confirm)
            .finish_non_exhaustive()
    }
}

/// `name: value` lines into pairs; blank lines are skipped.
fn parse_metadata(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!(
                "Metadata line {} has no colon; write one \"name: value\" per line.",
                i + 1
            ));
        };
        pairs.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(pairs)
}

impl Editor {
    fn with(
        target: Target,
        content: &Content,
        kind: RecordType,
        date: Option<NaiveDate>,
        cx: &mut Cx,
    ) -> Editor {
        let metadata: Vec<String> = content
            .metadata
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let title = Field::new("Title", MAX_TITLE).with_value(&content.title);
        let kind = Field::new("Type", 40).with_value(kind.label());
        let date =
            Field::new("Date", 10).with_value(&date.map(|d| d.to_string()).unwrap_or_default());
        let original = [
            title.value().to_string(),
            kind.value().to_string(),
            date.value().to_string(),
        ];
        Editor {
            target,
            change_id: cx.change_id(),
            title,
            kind,
            date,
            description: TextArea::new("Description", MAX_DESCRIPTION)
                .with_text(&content.description),
            metadata: TextArea::new("Metadata", MAX_METADATA_TEXT).with_text(&metadata.join("\n")),
            reason: Field::new("Reason for change", MAX_REASON),
            focus: Focus::Title,
            original,
            saving: None,
            pending: None,
            retry_at: None,
            attempts: 0,
            reloading: None,
            confirm: None,
            note: None,
        }
    }

    /// Edits the current version of `detail` (which has content).
    pub fn edit(detail: &RecordDetail, cx: &mut Cx) -> Editor {
        let target = Target::Existing {
            record: detail.id,
            patient: detail.patient.clone(),
            base_version: detail.version,
        };
        let content = detail.content.clone().unwrap_or_default();
        Editor::with(
            target,
            &content,
            detail.record_type,
            Some(detail.record_date),
            cx,
        )
    }

    /// A new record for `patient`, dated `today` when the console knows the date.
    pub fn new_record(patient: Person, today: Option<NaiveDate>, cx: &mut Cx) -> Editor {
        Editor::with(
            Target::New { patient },
            &Content::default(),
            RecordType::Consultation,
            today,
            cx,
        )
    }

    fn is_new(&self) -> bool {
        matches!(self.target, Target::New { .. })
    }

    fn order(&self) -> &'static [Focus] {
        if self.is_new() {
            &[
                Focus::Title,
                Focus::Kind,
                Focus::Date,
                Focus::Description,
                Focus::Metadata,
            ]
        } else {
            &[
                Focus::Title,
                Focus::Kind,
                Focus::Date,
                Focus::Description,
                Focus::Metadata,
                Focus::Reason,
            ]
        }
    }

    fn move_focus(&mut self, by: isize) {
        let order = self.order();
        let at = order.iter().position(|f| *f == self.focus).unwrap_or(0);
        let next = (at as isize + by).rem_euclid(order.len() as isize) as usize;
        self.focus = order[next];
    }

    /// Whether anything differs from what the editor opened with.
    pub fn changed(&self) -> bool {
        let now = [self.title.value(), self.kind.value(), self.date.value()];
        now.iter().zip(&self.original).any(|(a, b)| *a != b)
            || self.description.edited()
            || self.metadata.edited()
            || !self.reason.value().trim().is_empty()
    }

    /// Whether closing now would lose something: a changed draft, or a save not yet landed.
    pub fn unsaved(&self) -> bool {
        self.changed() || self.pending.is_some()
    }

    /// The draft as typed, or the one sentence that says what is wrong with it.
    pub fn draft(&self) -> Result<Draft, String> {
        let record_type: RecordType = self
            .kind
            .value()
            .parse()
            .map_err(|e: ServiceError| e.to_string())?;
        let date = self.date.value().trim();
        let record_date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
            format!("The date {date:?} is not a date; write it as YYYY-MM-DD, like 2024-02-01.")
        })?;
        Ok(Draft {
            record_type,
            record_date,
            content: Content {
                title: self.title.value().to_string(),
                description: self.description.text(),
                metadata: parse_metadata(&self.metadata.text())?,
            },
        })
    }

    pub fn typing(&self) -> bool {
        self.confirm.is_none()
    }

    pub fn busy(&self) -> bool {
        self.saving.is_some() || self.reloading.is_some()
    }

    pub fn awaits(&self, ticket: Ticket) -> bool {
        self.saving == Some(ticket) || self.reloading == Some(ticket)
    }

    pub fn title(&self) -> &'static str {
        if self.is_new() {
            "New record"
        } else {
            "Edit record"
        }
    }

    pub fn commands(&self) -> &'static [Command] {
        &[
            Command::Save,
            Command::NextField,
            Command::PrevField,
            Command::Refresh,
            Command::Back,
        ]
    }

    pub fn paste(&mut self, text: &str, cx: &mut Cx) {
        if self.pending.is_some() || self.confirm.is_some() {
            return;
        }
        let a = areas(cx.body);
        let scrolled = |t: &mut TextArea, area: Rect| {
            let result = t.paste(text);
            let inside = inner(area);
            t.scroll_to_cursor(usize::from(inside.width), usize::from(inside.height));
            result
        };
        let result = match self.focus {
            Focus::Title => self.title.paste(text),
            Focus::Kind => self.kind.paste(text),
            Focus::Date => self.date.paste(text),
            Focus::Reason => self.reason.paste(text),
            Focus::Description => scrolled(&mut self.description, a.description),
            Focus::Metadata => scrolled(&mut self.metadata, a.metadata),
        };
        self.note = result.err().map(Note::Error);
    }

    pub fn key(
        &mut self,
        key: KeyEvent,
        command: Option<Command>,
        _access: Access,
        cx: &mut Cx,
    ) -> Nav {
        if let Some(yes) = self.confirm {
            return self.confirm_key(key, command, yes);
        }
        if self.saving.is_some() {
            if command == Some(Command::Back) {
                self.note = Some(Note::Info(
                    "Saving… the draft stays here until the database answers.".into(),
                ));
            }
            return Nav::Stay;
        }
        if self.pending.is_some() {
            match command {
                Some(Command::Back) => self.confirm = Some(false),
                Some(Command::Save) => {
                    self.retry_at = Some(cx.now);
                    self.tick(cx);
                }
                _ => {}
            }
            return Nav::Stay;
        }
        match command {
            Some(Command::Save) => return self.save(cx),
            Some(Command::Refresh) => {
                if let Target::Existing { record, .. } = &self.target {
                    self.reloading = Some(cx.work(RecordWork::View(*record)));
                    self.note = None;
                }
                return Nav::Stay;
            }
            Some(Command::NextField) => {
                self.move_focus(1);
                return Nav::Stay;
            }
            Some(Command::PrevField) => {
                self.move_focus(-1);
                return Nav::Stay;
            }
            Some(Command::Back) => {
                if self.changed() {
                    self.confirm = Some(false);
                    return Nav::Stay;
                }
                return Nav::Back;
            }
            _ => {}
        }
        let a = areas(cx.body);
        let result = match self.focus {
            Focus::Description | Focus::Metadata => {
                let (area, text) = if self.focus == Focus::Description {
                    (inner(a.description), &mut self.description)
                } else {
                    (inner(a.metadata), &mut self.metadata)
                };
                let page = usize::from(area.height).saturating_sub(1).max(1);
                let result = text.key(key, page);
                text.scroll_to_cursor(usize::from(area.width), usize::from(area.height));
                result
            }
            Focus::Kind if matches!(command, Some(Command::Up | Command::Down)) => {
                let now = self.kind.value().parse::<RecordType>().ok();
                let at = now
                    .and_then(|t| RecordType::ALL.iter().position(|k| *k == t))
                    .unwrap_or(0) as isize;
                let by = if command == Some(Command::Down) {
                    1
                } else {
                    -1
                };
                let next = (at + by).rem_euclid(RecordType::ALL.len() as isize) as usize;
                self.kind = Field::new("Type", 40).with_value(RecordType::ALL[next].label());
                Ok(())
            }
            _ if matches!(command, Some(Command::Submit | Command::Down)) => {
                self.move_focus(1);
                Ok(())
            }
            _ if command == Some(Command::Up) => {
                self.move_focus(-1);
                Ok(())
            }
            Focus::Title => self.title.key(key),
            Focus::Kind => self.kind.key(key),
            Focus::Date => self.date.key(key),
            Focus::Reason => self.reason.key(key),
        };
        self.note = result.err().map(Note::Error);
        Nav::Stay
    }

    fn confirm_key(&mut self, key: KeyEvent, command: Option<Command>, yes: bool) -> Nav {
        let toggle = matches!(
            command,
            Some(Command::NextField | Command::PrevField | Command::Up | Command::Down)
        ) || matches!(key.code, KeyCode::Left | KeyCode::Right);
        if toggle {
            self.confirm = Some(!yes);
        } else if command == Some(Command::Submit) {
            if yes {
                return Nav::Back;
            }
            self.confirm = None;
        } else if command == Some(Command::Back) {
            self.confirm = None;
        }
        Nav::Stay
    }

    fn save(&mut self, cx: &mut Cx) -> Nav {
        let draft = match self.draft() {
            Ok(d) => d,
            Err(sentence) => {
                self.note = Some(Note::Error(sentence));
                return Nav::Stay;
            }
        };
        let target = match &self.target {
            Target::New { patient } => SaveTarget::New {
                patient: patient.id,
            },
            Target::Existing {
                record,
                base_version,
                ..
            } => SaveTarget::Existing {
                record: *record,
                base_version: *base_version,
                reason: self.reason.value().trim().to_string(),
            },
        };
        let request = Arc::new(SaveRequest {
            change_id: self.change_id,
            target,
            draft,
        });
        self.pending = Some(request.clone());
        self.attempts = 1;
        self.retry_at = None;
        self.note = None;
        self.saving = Some(cx.work(RecordWork::Save(request)));
        Nav::Stay
    }

    /// Tries the pending save again once its time has come (not while Esc's question is open).
    pub fn tick(&mut self, cx: &mut Cx) {
        if self.saving.is_some() || self.confirm.is_some() {
            return;
        }
        let (Some(request), Some(at)) = (&self.pending, self.retry_at) else {
            return;
        };
        if cx.now < at {
            return;
        }
        let request = request.clone();
        self.retry_at = None;
        self.attempts += 1;
        self.saving = Some(cx.work(RecordWork::Save(request)));
    }

    pub fn done(&mut self, ticket: Ticket, result: RecordResult, cx: &mut Cx) -> Nav {
        if self.reloading == Some(ticket) {
            self.reloading = None;
            return self.reloaded(result, cx);
        }
        if self.saving != Some(ticket) {
            return Nav::Stay;
        }
        self.saving = None;
        let RecordResult::Saved(result) = result else {
            return Nav::Stay;
        };
        match result {
            Ok(saved) => {
                cx.heard();
                self.pending = None;
                self.change_id = cx.change_id();
                Nav::Saved {
                    saved,
                    created: self.is_new(),
                }
            }
            Err(e) if e.is_unavailable() => {
                cx.answered = Some(false);
                self.retry_at = Some(cx.now + RETRY_EVERY);
                self.note = Some(Note::Error(format!(
                    "Saving: database not answering — will retry every {} seconds (attempt {} failed). \
                     Your draft is kept.",
                    RETRY_EVERY.as_secs(),
                    self.attempts
                )));
                Nav::Stay
            }
            Err(e) => {
                // This attempt is over: whatever is saved next, edited or not, is a new change.
                self.pending = None;
                self.retry_at = None;
                self.change_id = cx.change_id();
                self.note = Some(Note::Error(cx.sentence(&e)));
                Nav::Stay
            }
        }
    }

    /// The record as it is now: the draft will save on top of it, and it is shown over the draft.
    fn reloaded(&mut self, result: RecordResult, cx: &mut Cx) -> Nav {
        let RecordResult::Detail(result) = result else {
            return Nav::Stay;
        };
        match result {
            Ok(detail) => {
                cx.heard();
                if let Target::Existing { base_version, .. } = &mut self.target {
                    *base_version = detail.version;
                }
                self.note = Some(Note::Info(format!(
                    "Reloaded: your draft now saves on top of version {}.",
                    detail.version
                )));
                let version = detail.version;
                let mut page = Detail::loaded(detail);
                page.over_draft = true;
                page.note = Some(Note::Info(format!(
                    "The record as saved now (version {version}). Esc returns to your draft, unchanged."
                )));
                Nav::Push(Page::Detail(page))
            }
            Err(e) => {
                self.note = Some(Note::Error(cx.sentence(&e)));
                Nav::Stay
            }
        }
    }
}
