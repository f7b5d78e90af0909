//! Choosing a patient: for a new record, among the patients the clinician may write for
//! (filtered here as the name is typed); for break-glass, by searching every patient's name as it
//! is typed (each change asks again; an answer to an older search is dropped).

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::break_glass::BreakGlass;
use super::editor::Editor;
use super::{Cx, Look, Nav, Page};
use crate::services::records::{Access, Person};
use crate::tui::keymap::Command;
use crate::tui::msg::{RecordResult, RecordWork, Ticket};
use crate::tui::screens::common;
use crate::tui::state::Note;
use crate::tui::widgets::field::Field;
use crate::tui::widgets::text::clip;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickFor {
    NewRecord,
    Emergency,
}

pub struct Picker {
    pub purpose: PickFor,
    pub query: Field,
    /// Every patient the clinician may write for (new record only).
    all: Vec<Person>,
    pub shown: Vec<Person>,
    pub selected: usize,
    waiting: Option<Ticket>,
    pub note: Option<Note>,
}

/// Patients' names, and the name typed, stay out of `Debug`.
impl std::fmt::Debug for Picker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Picker")
            .field("purpose", &self.purpose)
            .field("query", &self.query)
            .field("patients", &self.all.len())
            .field("shown", &self.shown.len())
            .field("selected", &self.selected)
            .field("waiting", &self.waiting)
            .finish_non_exhaustive()
    }
}

impl Picker {
    pub fn for_new_record(cx: &mut Cx) -> Picker {
        Picker {
            purpose: PickFor::NewRecord,
            query: Field::new("Patient", 100),
            all: Vec::new(),
            shown: Vec::new(),
            selected: 0,
            waiting: Some(cx.work(RecordWork::WritablePatients)),
            note: None,
        }
    }

    pub fn for_emergency() -> Picker {
        Picker {
            purpose: PickFor::Emergency,
            query: Field::new("Patient name", 100),
            all: Vec::new(),
            shown: Vec::new(),
            selected: 0,
            waiting: None,
            note: None,
        }
    }

    pub fn typing(&self) -> bool {
        true
    }

    pub fn busy(&self) -> bool {
        self.waiting.is_some()
    }

    pub fn awaits(&self, ticket: Ticket) -> bool {
        self.waiting == Some(ticket)
    }

    pub fn title(&self) -> &'static str {
        match self.purpose {
            PickFor::NewRecord => "New record: choose the patient",
            PickFor::Emergency => "Emergency access: find the patient",
        }
    }

    pub fn commands(&self) -> &'static [Command] {
        &[Command::Up, Command::Down, Command::Submit, Command::Back]
    }

    fn refilter(&mut self) {
        let words: Vec<String> = self
            .query
            .value()
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        self.shown = self
            .all
            .iter()
            .filter(|p| {
                let name = p.name.to_lowercase();
                words.iter().all(|w| name.contains(w.as_str()))
            })
            .cloned()
            .collect();
        self.selected = self.selected.min(self.shown.len().saturating_sub(1));
    }

    fn query_changed(&mut self, cx: &mut Cx) {
        match self.purpose {
            PickFor::NewRecord => self.refilter(),
            PickFor::Emergency => {
                let query = self.query.value().trim().to_string();
                if query.chars().count() >= 2 {
                    self.waiting = Some(cx.work(RecordWork::FindPatients(query)));
                } else {
                    self.waiting = None;
                    self.shown.clear();
                }
            }
        }
    }

    pub fn paste(&mut self, text: &str, cx: &mut Cx) {
        match self.query.paste(text) {
            Ok(()) => self.query_changed(cx),
            Err(e) => self.note = Some(Note::Error(e)),
        }
    }

    pub fn key(
        &mut self,
        key: KeyEvent,
        command: Option<Command>,
        _access: Access,
        cx: &mut Cx,
    ) -> Nav {
        match command {
            Some(Command::Back) => return Nav::Back,
            Some(Command::Up) => self.selected = self.selected.saturating_sub(1),
            Some(Command::Down) => {
                self.selected = (self.selected + 1).min(self.shown.len().saturating_sub(1));
            }
            Some(Command::Submit) => {
                let Some(patient) = self.shown.get(self.selected).cloned() else {
                    self.note = Some(Note::Error("Choose a patient from the list first.".into()));
                    return Nav::Stay;
                };
                return match self.purpose {
                    PickFor::NewRecord => Nav::Replace(Page::Editor(Box::new(Editor::new_record(
                        patient, cx.today, cx,
                    )))),
                    PickFor::Emergency => Nav::Replace(Page::BreakGlass(BreakGlass::new(patient))),
                };
            }
            _ => {
                let before = self.query.value().to_string();
                match self.query.key(key) {
                    Err(e) => self.note = Some(Note::Error(e)),
                    Ok(()) => {
                        self.note = None;
                        if self.query.value() != before {
                            self.query_changed(cx);
                        }
                    }
                }
            }
        }
        Nav::Stay
    }

    pub fn done(&mut self, _ticket: Ticket, result: RecordResult, cx: &mut Cx) -> Nav {
        self.waiting = None;
        if let RecordResult::Patients(result) = result {
            match result {
                Ok(people) => {
                    cx.heard();
                    match self.purpose {
                        PickFor::NewRecord => {
                            self.all = people;
                            self.refilter();
                        }
                        PickFor::Emergency => {
                            self.shown = people;
                            self.selected = 0;
                        }
                    }
                }
                Err(e) => self.note = Some(Note::Error(cx.sentence(&e))),
            }
        }
        Nav::Stay
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let [intro, query, list, note, hint] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(2),
            Constraint::Length(1),
        ])
        .areas(area);
        let text = match self.purpose {
            PickFor::NewRecord => {
                "New record: choose the patient (those who granted you write access, or whose care you provide)."
            }
            PickFor::Emergency => {
                "Emergency access (break-glass): type at least two letters of the patient's name. \
                 Opening their records is recorded and reviewed."
            }
        };
        f.render_widget(
            Paragraph::new(Line::styled(text, theme.title)).wrap(Wrap { trim: true }),
            intro,
        );
        self.query.render(f, query, true, theme);
        let block = Block::default().borders(Borders::TOP).title(" Patients ");
        let inner = block.inner(list);
        f.render_widget(block, list);
        if self.waiting.is_some() {
            common::busy(f, inner, "Looking…", look.ticks, theme);
        } else if self.shown.is_empty() {
            let empty = match self.purpose {
                PickFor::Emergency if self.query.value().trim().chars().count() < 2 => "",
                _ => "No patient matches.",
            };
            f.render_widget(Paragraph::new(Span::styled(empty, theme.muted)), inner);
        } else {
            let height = usize::from(inner.height).max(1);
            let first = self.selected.saturating_sub(height - 1);
            let width = usize::from(inner.width).saturating_sub(2);
            let lines: Vec<Line> = self
                .shown
                .iter()
                .enumerate()
                .skip(first)
                .take(height)
                .map(|(i, p)| {
                    if i == self.selected {
                        Line::styled(format!("▶ {}", clip(&p.name, width)), theme.selected)
                    } else {
                        Line::from(format!("  {}", clip(&p.name, width)))
                    }
                })
                .collect();
            f.render_widget(Paragraph::new(lines), inner);
        }
        common::note(f, note, self.note.as_ref(), theme);
        look.hint_line(
            f,
            hint,
            &look.hints(&[
                (Command::Down, "move"),
                (Command::Submit, "choose"),
                (Command::Back, "cancel"),
            ]),
        );
    }
}
