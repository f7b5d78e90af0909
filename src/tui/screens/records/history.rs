//! A record's history: every version with who saved it, when and why. Enter opens a version
//! (read-only); Space marks up to two, and `c` compares the two marked.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, HighlightSpacing, Paragraph, Row, Table, TableState};
use uuid::Uuid;

use super::detail::Detail;
use super::diff::DiffView;
use super::{Cx, Look, Nav, Page};
use crate::services::records::{Access, VersionSummary};
use crate::tui::keymap::Command;
use crate::tui::msg::{RecordResult, RecordWork, Ticket};
use crate::tui::screens::common;
use crate::tui::state::Note;
use crate::tui::widgets::text::clip;

pub struct History {
    pub record: Uuid,
    pub versions: Vec<VersionSummary>,
    pub selected: usize,
    /// Marked version numbers, oldest mark first (at most two).
    pub marked: Vec<i32>,
    waiting: Option<Ticket>,
    pub loaded: bool,
    pub note: Option<Note>,
}

/// The reasons for the changes stay out of `Debug`.
impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("record", &self.record)
            .field("versions", &self.versions.len())
            .field("selected", &self.selected)
            .field("marked", &self.marked)
            .field("waiting", &self.waiting)
            .field("loaded", &self.loaded)
            .finish_non_exhaustive()
    }
}

fn layout(area: Rect) -> [Rect; 3] {
    Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(area)
}

impl History {
    pub fn open(record: Uuid, cx: &mut Cx) -> History {
        History {
            record,
            versions: Vec::new(),
            selected: 0,
            marked: Vec::new(),
            waiting: Some(cx.work(RecordWork::History(record))),
            loaded: false,
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
        "Record history"
    }

    pub fn commands(&self) -> &'static [Command] {
        &[
            Command::Up,
            Command::Down,
            Command::First,
            Command::Last,
            Command::Submit,
            Command::Mark,
            Command::Compare,
            Command::Refresh,
            Command::Back,
            Command::Quit,
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
        let last = self.versions.len().saturating_sub(1);
        let page = usize::from(layout(cx.body)[0].height)
            .saturating_sub(3)
            .max(1);
        match command {
            Some(Command::Up) => self.selected = self.selected.saturating_sub(1),
            Some(Command::Down) => self.selected = (self.selected + 1).min(last),
            Some(Command::PageUp) => self.selected = self.selected.saturating_sub(page),
            Some(Command::PageDown) => self.selected = (self.selected + page).min(last),
            Some(Command::First) => self.selected = 0,
            Some(Command::Last) => self.selected = last,
            Some(Command::Back) => return Nav::Back,
            Some(Command::Quit) => return Nav::Quit,
            Some(Command::Refresh) if self.waiting.is_none() => {
                self.waiting = Some(cx.work(RecordWork::History(self.record)));
            }
            Some(Command::Submit) => {
                if let Some(v) = self.versions.get(self.selected) {
                    return Nav::Push(Page::Detail(Detail::open_version(
                        self.record,
                        v.version,
                        cx,
                    )));
                }
            }
            Some(Command::Mark) => {
                if let Some(v) = self.versions.get(self.selected).map(|v| v.version) {
                    if let Some(i) = self.marked.iter().position(|m| *m == v) {
                        self.marked.remove(i);
                    } else {
                        if self.marked.len() == 2 {
                            self.marked.remove(0);
                        }
                        self.marked.push(v);
                    }
                    self.note = None;
                }
            }
            Some(Command::Compare) => {
                if let [a, b] = self.marked[..] {
                    return Nav::Push(Page::Diff(DiffView::open(self.record, a, b, cx)));
                }
                self.note = Some(Note::Error(
                    "Mark two versions first; then they can be compared.".into(),
                ));
            }
            _ => {}
        }
        Nav::Stay
    }

    pub fn done(&mut self, _ticket: Ticket, result: RecordResult, cx: &mut Cx) -> Nav {
        self.waiting = None;
        if let RecordResult::History(result) = result {
            match result {
                Ok(versions) => {
                    cx.heard();
                    self.versions = versions;
                    self.loaded = true;
                    self.selected = self.selected.min(self.versions.len().saturating_sub(1));
                    self.marked
                        .retain(|m| self.versions.iter().any(|v| v.version == *m));
                }
                Err(e) => self.note = Some(Note::Error(cx.sentence(&e))),
            }
        }
        Nav::Stay
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let [table, note, hint] = layout(area);
        let block = Block::default().borders(Borders::TOP).title(format!(
            " Versions · {} marked for comparison ",
            self.marked.len()
        ));
        let inner = block.inner(table);
        f.render_widget(block, table);
        if !self.loaded {
            common::busy(f, inner, "Loading the history…", look.ticks, theme);
        } else if self.versions.is_empty() {
            f.render_widget(
                Paragraph::new(Span::styled("No versions.", theme.muted)),
                inner,
            );
        } else {
            let widths = [
                Constraint::Length(3),
                Constraint::Length(5),
                Constraint::Length(20),
                Constraint::Length(20),
                Constraint::Min(10),
            ];
            let columns = Layout::horizontal(widths).spacing(1).split(Rect::new(
                0,
                0,
                inner.width.saturating_sub(2),
                1,
            ));
            let reason_width = usize::from(columns[4].width);
            let rows = self.versions.iter().map(|v| {
                let mark = if self.marked.contains(&v.version) {
                    "[x]"
                } else {
                    "[ ]"
                };
                Row::new(vec![
                    Cell::from(mark),
                    Cell::from(format!("v{}", v.version)),
                    Cell::from(clip(&v.changed_by.name, 20)),
                    Cell::from(v.changed_at.format("%Y-%m-%d %H:%M UTC").to_string()),
                    Cell::from(match &v.reason {
                        Some(r) => clip(r, reason_width),
                        None => "(first version)".to_string(),
                    }),
                ])
            });
            let header = Row::new(vec!["", "Ver", "Saved by", "When", "Reason"]).style(theme.muted);
            let table = Table::new(rows, widths)
                .header(header)
                .column_spacing(1)
                .row_highlight_style(theme.selected)
                .highlight_symbol("▶ ")
                .highlight_spacing(HighlightSpacing::Always);
            let mut state = TableState::default().with_selected(Some(self.selected));
            f.render_stateful_widget(table, inner, &mut state);
        }
        common::note(f, note, self.note.as_ref(), theme);
        look.hint_line(
            f,
            hint,
            &look.hints(&[
                (Command::Submit, "open version"),
                (Command::Mark, "mark"),
                (Command::Compare, "compare marked"),
                (Command::Back, "back"),
            ]),
        );
    }
}
