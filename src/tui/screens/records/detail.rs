//! One record, or one version of it (read-only): every index-card field in a header, then the
//! metadata as a key/value table and the description, wrapped and scrollable. Staff who see
//! metadata only get the index card alone.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph};
use uuid::Uuid;

use super::editor::Editor;
use super::history::History;
use super::{Cx, Look, Nav, Page};
use crate::services::records::{Access, Content, RecordDetail, Version};
use crate::tui::keymap::Command;
use crate::tui::msg::{RecordResult, RecordWork, Ticket};
use crate::tui::screens::common;
use crate::tui::state::Note;
use crate::tui::widgets::document::{Document, Kind, Pos};
use crate::tui::widgets::text::{clip, shown_width_str};

/// What the page shows.
pub enum Shown {
    Current(Box<RecordDetail>),
    Version(Box<Version>),
}

pub struct Detail {
    pub record: Uuid,
    /// Set for a version opened from the history.
    pub version: Option<i32>,
    pub shown: Option<Shown>,
    doc: Document,
    top: Pos,
    waiting: Option<Ticket>,
    pub note: Option<Note>,
    /// Opened with `e` from the browser: the editor follows as soon as the record is here.
    pub edit_when_loaded: bool,
    /// Shown over an open draft (after a reload): editing again is the draft's business, and
    /// nothing deeper (the history, and its `q`) is opened from here.
    pub over_draft: bool,
}

/// The record's content stays out of `Debug`.
impl std::fmt::Debug for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self.shown.as_ref().map(|s| match s {
            Shown::Current(d) => d.version,
            Shown::Version(v) => v.summary.version,
        });
        f.debug_struct("Detail")
            .field("record", &self.record)
            .field("version", &self.version)
            .field("shown_version", &shown)
            .field("doc", &self.doc)
            .field("top", &self.top)
            .field("waiting", &self.waiting)
            .field("edit_when_loaded", &self.edit_when_loaded)
            .field("over_draft", &self.over_draft)
            .finish_non_exhaustive()
    }
}

/// The header, the scrolling document, the note and the key hints.
fn layout(area: Rect) -> [Rect; 4] {
    Layout::vertical([
        Constraint::Length(5),
        Constraint::Min(3),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// Where the document's rows are drawn (inside the block's top border).
fn doc_area(body: Rect) -> Rect {
    let [_, doc, _, _] = layout(body);
    Block::default().borders(Borders::TOP).inner(doc)
}

impl Detail {
    fn empty(record: Uuid, version: Option<i32>) -> Detail {
        Detail {
            record,
            version,
            shown: None,
            doc: Document::new(),
            top: Pos::default(),
            waiting: None,
            note: None,
            edit_when_loaded: false,
            over_draft: false,
        }
    }

    /// The record's current version, on its way.
    pub fn open(record: Uuid, cx: &mut Cx) -> Detail {
        let mut d = Detail::empty(record, None);
        d.reload(cx);
        d
    }

    /// One version, read-only, on its way.
    pub fn open_version(record: Uuid, version: i32, cx: &mut Cx) -> Detail {
        let mut d = Detail::empty(record, Some(version));
        d.reload(cx);
        d
    }

    /// A record already loaded (an editor's reload shows it this way).
    pub fn loaded(detail: RecordDetail) -> Detail {
        let mut d = Detail::empty(detail.id, None);
        d.show(Shown::Current(Box::new(detail)));
        d
    }

    pub fn is_current(&self) -> bool {
        self.version.is_none()
    }

    pub fn reload(&mut self, cx: &mut Cx) {
        self.waiting = Some(match self.version {
            None => cx.work(RecordWork::View(self.record)),
            Some(version) => cx.work(RecordWork::Version {
                record: self.record,
                version,
            }),
        });
    }

    fn show(&mut self, shown: Shown) {
        let content = match &shown {
            Shown::Current(d) => d.content.as_ref(),
            Shown::Version(v) => Some(&v.content),
        };
        self.doc = document(content);
        self.top = self.top.min(Pos {
            line: self.doc.line_count().saturating_sub(1),
            start: 0,
        });
        self.shown = Some(shown);
    }

    pub fn typing(&self) -> bool {
        false
    }

    pub fn busy(&self) -> bool {
        self.waiting.is_some()
    }

    pub fn awaits(&self, ticket: Ticket) -> bool {
        self.waiting == Some(ticket)
    }

    pub fn title(&self) -> &'static str {
        if self.is_current() {
            "Record"
        } else {
            "Record version"
        }
    }

    pub fn commands(&self) -> &'static [Command] {
        if self.over_draft {
            &[
                Command::Down,
                Command::Up,
                Command::PageDown,
                Command::PageUp,
                Command::First,
                Command::Last,
                Command::Refresh,
                Command::Back,
            ]
        } else if self.is_current() {
            &[
                Command::Down,
                Command::Up,
                Command::PageDown,
                Command::PageUp,
                Command::First,
                Command::Last,
                Command::Edit,
                Command::History,
                Command::Refresh,
                Command::Back,
            ]
        } else {
            &[
                Command::Down,
                Command::Up,
                Command::PageDown,
                Command::PageUp,
                Command::First,
                Command::Last,
                Command::Back,
            ]
        }
    }

    pub fn paste(&mut self, _text: &str, _cx: &mut Cx) {}

    pub fn key(
        &mut self,
        _key: KeyEvent,
        command: Option<Command>,
        access: Access,
        cx: &mut Cx,
    ) -> Nav {
        let area = doc_area(cx.body);
        let (w, h) = (usize::from(area.width), usize::from(area.height));
        match command {
            Some(Command::Down) => self.top = self.doc.down(self.top, w, h, 1),
            Some(Command::Up) => self.top = self.doc.up(self.top, w, 1),
            Some(Command::PageDown) => {
                self.top = self.doc.down(self.top, w, h, h.saturating_sub(1).max(1))
            }
            Some(Command::PageUp) => {
                self.top = self.doc.up(self.top, w, h.saturating_sub(1).max(1))
            }
            Some(Command::First) => self.top = Pos::default(),
            Some(Command::Last) => self.top = self.doc.bottom(w, h),
            Some(Command::Back) => return Nav::Back,
            Some(Command::Refresh) if self.waiting.is_none() => self.reload(cx),
            Some(Command::Edit) if self.is_current() => return self.edit(access, cx),
            Some(Command::History) if self.over_draft => {
                self.note = Some(Note::Info(
                    "Your draft is still open: Esc returns to it; its history can wait.".into(),
                ));
            }
            Some(Command::History) if self.is_current() => {
                if access.content {
                    return Nav::Push(Page::History(History::open(self.record, cx)));
                }
                self.note = Some(Note::Error(
                    "Your role sees records' index cards only, not their versions.".into(),
                ));
            }
            _ => {}
        }
        Nav::Stay
    }

    fn edit(&mut self, access: Access, cx: &mut Cx) -> Nav {
        if self.over_draft {
            self.note = Some(Note::Info(
                "Your draft is still open: Esc returns to it.".into(),
            ));
            return Nav::Stay;
        }
        if !access.write {
            self.note = Some(Note::Error("Your role does not edit records.".into()));
            return Nav::Stay;
        }
        match &self.shown {
            Some(Shown::Current(d)) if d.content.is_some() => {
                Nav::Push(Page::Editor(Box::new(Editor::edit(d, cx))))
            }
            Some(_) => {
                self.note = Some(Note::Error(
                    "This record's content is not yours to edit.".into(),
                ));
                Nav::Stay
            }
            None => {
                self.edit_when_loaded = true;
                Nav::Stay
            }
        }
    }

    pub fn done(&mut self, _ticket: Ticket, result: RecordResult, cx: &mut Cx) -> Nav {
        self.waiting = None;
        match result {
            RecordResult::Detail(Ok(d)) => {
                cx.heard();
                self.show(Shown::Current(Box::new(d)));
                if std::mem::take(&mut self.edit_when_loaded) {
                    return self.edit(Access::of(cx.session.user.role), cx);
                }
            }
            RecordResult::Version(Ok(v)) => {
                cx.heard();
                self.show(Shown::Version(Box::new(v)));
            }
            RecordResult::Detail(Err(e)) | RecordResult::Version(Err(e)) => {
                self.edit_when_loaded = false;
                self.note = Some(Note::Error(cx.sentence(&e)));
            }
            _ => {}
        }
        Nav::Stay
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let [header, doc, note, hint] = layout(area);
        let width = usize::from(header.width);
        let line = |text: String| Line::from(clip(&text, width));
        let stamp = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
        let lines: Vec<Line> = match &self.shown {
            None => vec![Line::default()],
            Some(Shown::Current(d)) => vec![
                match &d.content {
                    Some(c) => Line::styled(clip(&c.title, width), theme.title),
                    None => Line::styled(
                        "— (title and content are not shown to your role)",
                        theme.muted,
                    ),
                },
                line(format!(
                    "Patient: {} · Provider: {}",
                    d.patient.name, d.provider.name
                )),
                line(format!(
                    "{} · {} · {} · version {}",
                    d.record_type.label(),
                    d.record_date,
                    d.status,
                    d.version
                )),
                line(format!(
                    "Created by {} on {}",
                    d.created_by.name,
                    stamp(d.created_at)
                )),
                line(format!(
                    "Last changed by {} on {}",
                    d.updated_by.name,
                    stamp(d.updated_at)
                )),
            ],
            Some(Shown::Version(v)) => vec![
                Line::styled(clip(&v.content.title, width), theme.title),
                line(format!(
                    "Version {} (read-only) · saved by {} on {}",
                    v.summary.version,
                    v.summary.changed_by.name,
                    stamp(v.summary.changed_at)
                )),
                line(format!("{} · {}", v.record_type.label(), v.record_date)),
                line(match &v.summary.reason {
                    Some(r) => format!("Reason for the change: {r}"),
                    None => "The first version.".to_string(),
                }),
            ],
        };
        f.render_widget(Paragraph::new(lines), header);
        let title = if self.doc.line_count() > 0 {
            format!(" line {} of {} ", self.top.line + 1, self.doc.line_count())
        } else {
            String::new()
        };
        let block = Block::default().borders(Borders::TOP).title(title);
        let inner = block.inner(doc);
        f.render_widget(block, doc);
        if self.shown.is_none() {
            common::busy(f, inner, "Opening the record…", look.ticks, theme);
        } else {
            self.doc.render(f, inner, self.top, theme);
        }
        common::note(f, note, self.note.as_ref(), theme);
        if self.waiting.is_some() && self.shown.is_some() {
            common::busy(f, hint, "Reloading…", look.ticks, theme);
            return;
        }
        let mut items = vec![(Command::Down, "scroll"), (Command::PageDown, "page")];
        if self.is_current() {
            if look.access.write && !self.over_draft {
                items.push((Command::Edit, "edit"));
            }
            if look.access.content && !self.over_draft {
                items.push((Command::History, "history"));
            }
            items.push((Command::Refresh, "reload"));
        }
        items.push((Command::Back, "back"));
        look.hint_line(f, hint, &look.hints(&items));
    }
}

/// The scrolling part: metadata as key/value rows, then the description.
fn document(content: Option<&Content>) -> Document {
    let mut doc = Document::new();
    let Some(c) = content else {
        doc.push(
            "Your role sees this record's index card only: type, date, patient and provider.",
            Kind::Muted,
        );
        return doc;
    };
    doc.push("Metadata", Kind::Heading);
    if c.metadata.is_empty() {
        doc.push("(none)", Kind::Muted);
    }
    let key_width = c
        .metadata
        .iter()
        .map(|(k, _)| shown_width_str(k))
        .max()
        .unwrap_or(0)
        .clamp(6, 24)
        + 2;
    for (key, value) in &c.metadata {
        doc.push_with(value, Kind::Plain, key, key_width, Kind::Muted);
    }
    doc.push("", Kind::Plain);
    doc.push("Description", Kind::Heading);
    doc.push(&c.description, Kind::Plain);
    doc
}
