//! Two versions compared field by field: removed lines marked `-` (red), added ones `+` (green),
//! unchanged ones indented. The signs carry the meaning, so the monochrome theme loses nothing.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph};
use uuid::Uuid;

use super::{Cx, Look, Nav};
use crate::services::records::Access;
use crate::services::records::diff::{Change, FieldDiff};
use crate::tui::keymap::Command;
use crate::tui::msg::{RecordResult, RecordWork, Ticket};
use crate::tui::screens::common;
use crate::tui::state::Note;
use crate::tui::widgets::document::{Document, Kind, Pos};
use crate::tui::widgets::text::clip;

pub struct DiffView {
    pub record: Uuid,
    /// Older and newer version numbers.
    pub versions: (i32, i32),
    /// Who saved each, once loaded.
    heading: Option<String>,
    doc: Document,
    top: Pos,
    waiting: Option<Ticket>,
    pub note: Option<Note>,
}

/// The compared text stays out of `Debug`.
impl std::fmt::Debug for DiffView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiffView")
            .field("record", &self.record)
            .field("versions", &self.versions)
            .field("doc", &self.doc)
            .field("top", &self.top)
            .field("waiting", &self.waiting)
            .finish_non_exhaustive()
    }
}

fn layout(area: Rect) -> [Rect; 4] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(area)
}

fn doc_area(body: Rect) -> Rect {
    Block::default()
        .borders(Borders::TOP)
        .inner(layout(body)[1])
}

/// The comparison as a document: a heading per field, then its lines with their signs.
pub fn document(fields: &[FieldDiff]) -> Document {
    let mut doc = Document::new();
    for field in fields {
        if field.lines.is_empty() {
            doc.push(&format!("{} — unchanged", field.field), Kind::Muted);
            continue;
        }
        doc.push(field.field, Kind::Heading);
        for line in &field.lines {
            let (sign, kind) = match line.change {
                Change::Same => (" ", Kind::Plain),
                Change::Removed => ("-", Kind::Removed),
                Change::Added => ("+", Kind::Added),
            };
            // The sign goes before every row of a wrapped line, so it survives without colour.
            doc.push_signed(&line.text, kind, sign);
        }
    }
    doc
}

impl DiffView {
    pub fn open(record: Uuid, a: i32, b: i32, cx: &mut Cx) -> DiffView {
        let (older, newer) = (a.min(b), a.max(b));
        DiffView {
            record,
            versions: (older, newer),
            heading: None,
            doc: Document::new(),
            top: Pos::default(),
            waiting: Some(cx.work(RecordWork::Compare {
                record,
                a: older,
                b: newer,
            })),
            note: None,
        }
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
        "Compare versions"
    }

    pub fn commands(&self) -> &'static [Command] {
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

    pub fn paste(&mut self, _text: &str, _cx: &mut Cx) {}

    pub fn key(
        &mut self,
        _key: KeyEvent,
        command: Option<Command>,
        _access: Access,
        cx: &mut Cx,
    ) -> Nav {
        let area = doc_area(cx.body);
        let (w, h) = (usize::from(area.width), usize::from(area.height));
        let page = h.saturating_sub(1).max(1);
        match command {
            Some(Command::Down) => self.top = self.doc.down(self.top, w, h, 1),
            Some(Command::Up) => self.top = self.doc.up(self.top, w, 1),
            Some(Command::PageDown) => self.top = self.doc.down(self.top, w, h, page),
            Some(Command::PageUp) => self.top = self.doc.up(self.top, w, page),
            Some(Command::First) => self.top = Pos::default(),
            Some(Command::Last) => self.top = self.doc.bottom(w, h),
            Some(Command::Back) => return Nav::Back,
            _ => {}
        }
        Nav::Stay
    }

    pub fn done(&mut self, _ticket: Ticket, result: RecordResult, cx: &mut Cx) -> Nav {
        self.waiting = None;
        if let RecordResult::Compared(result) = result {
            match result {
                Ok((old, new, fields)) => {
                    cx.heard();
                    self.heading = Some(format!(
                        "Version {} ({}, {}) → version {} ({}, {})",
                        old.summary.version,
                        old.summary.changed_by.name,
                        old.summary.changed_at.format("%Y-%m-%d %H:%M UTC"),
                        new.summary.version,
                        new.summary.changed_by.name,
                        new.summary.changed_at.format("%Y-%m-%d %H:%M UTC"),
                    ));
                    self.doc = document(&fields);
                }
                Err(e) => self.note = Some(Note::Error(cx.sentence(&e))),
            }
        }
        Nav::Stay
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let [heading, doc, note, hint] = layout(area);
        let text = self.heading.clone().unwrap_or_else(|| {
            format!("Version {} → version {}", self.versions.0, self.versions.1)
        });
        f.render_widget(
            Paragraph::new(Line::styled(
                clip(&text, usize::from(heading.width)),
                theme.title,
            )),
            heading,
        );
        let block = Block::default()
            .borders(Borders::TOP)
            .title(" - removed · + added ");
        let inner = block.inner(doc);
        f.render_widget(block, doc);
        if self.waiting.is_some() {
            common::busy(f, inner, "Comparing…", look.ticks, theme);
        } else {
            self.doc.render(f, inner, self.top, theme);
        }
        common::note(f, note, self.note.as_ref(), theme);
        look.hint_line(
            f,
            hint,
            &look.hints(&[
                (Command::Down, "scroll"),
                (Command::PageDown, "page"),
                (Command::Back, "back"),
            ]),
        );
    }
}
