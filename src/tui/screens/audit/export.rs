//! Exporting the events on show to a file: the format, the file's name, then a confirm modal that
//! says what will be written where — and that the export itself goes on the audit trail as
//! AUDIT_EXPORT (HIGH). The file goes into hsc's exports folder on the machine hsc runs on (over SSH,
//! the server), readable by its owner only: a person at the console names a file, never a place.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::services::ServiceError;
use crate::services::audit::export::{Exported, Format};
use crate::services::audit::filter::AuditFilter;
use crate::tui::keymap::Command;
use crate::tui::msg::{AuditWork, Ticket};
use crate::tui::sanitize::inert;
use crate::tui::screens::common;
use crate::tui::screens::records::{Cx, Look};
use crate::tui::state::Note;
use crate::tui::widgets::field::Field;
use crate::tui::widgets::modal::{self, Answer};

/// The longest file name the form takes.
const MAX_NAME: usize = 100;

/// Why `name` cannot name an export file, if it cannot: a plain name of letters, digits, `.`, `-`
/// and `_`, not starting with a dot — no folders, nothing hidden.
pub fn name_problem(name: &str) -> Option<String> {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if name.is_empty() {
        Some("Name the file to write the events to.".into())
    } else if !plain || name.starts_with('.') {
        Some(format!(
            "{name:?} is not a plain file name: use letters, digits, '.', '-' and '_' only (no folders); it goes into the exports folder."
        ))
    } else {
        None
    }
}

#[derive(Debug)]
pub struct ExportForm {
    filter: AuditFilter,
    /// "every event you may see", "the events matching …".
    what: String,
    /// The exports folder the file goes into.
    dir: PathBuf,
    pub format: Format,
    pub path: Field,
    /// The file name the form started with (it follows the format until edited).
    default_stem: String,
    /// Which line has the focus: the format (false) or the file name (true).
    on_path: bool,
    /// The confirm modal, when up: whether Yes has the focus.
    pub confirm: Option<bool>,
    waiting: Option<Ticket>,
    pub note: Option<Note>,
}

fn extension(format: Format) -> &'static str {
    match format {
        Format::Csv => "csv",
        Format::Jsonl => "jsonl",
    }
}

impl ExportForm {
    pub fn new(filter: AuditFilter, what: String, dir: PathBuf, cx: &Cx) -> ExportForm {
        let day = cx
            .utc_today
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "export".into());
        let default_stem = format!("hsc-audit-{day}");
        ExportForm {
            filter,
            what,
            dir,
            format: Format::Csv,
            path: Field::new("File", MAX_NAME).with_value(&format!("{default_stem}.csv")),
            default_stem,
            on_path: true,
            confirm: None,
            waiting: None,
            note: None,
        }
    }

    pub fn typing(&self) -> bool {
        self.on_path && self.confirm.is_none() && self.waiting.is_none()
    }

    pub fn busy(&self) -> bool {
        self.waiting.is_some()
    }

    pub fn awaits(&self, ticket: Ticket) -> bool {
        self.waiting == Some(ticket)
    }

    pub fn commands(&self) -> &'static [Command] {
        &[
            Command::NextField,
            Command::PrevField,
            Command::Submit,
            Command::Back,
        ]
    }

    pub fn paste(&mut self, text: &str) {
        if self.typing()
            && let Err(e) = self.path.paste(text)
        {
            self.note = Some(Note::Error(e));
        }
    }

    fn toggle_format(&mut self) {
        let was_default =
            self.path.value() == format!("{}.{}", self.default_stem, extension(self.format));
        self.format = match self.format {
            Format::Csv => Format::Jsonl,
            Format::Jsonl => Format::Csv,
        };
        if was_default {
            self.path = Field::new("File", MAX_NAME).with_value(&format!(
                "{}.{}",
                self.default_stem,
                extension(self.format)
            ));
        }
    }

    /// A key; true when the form is done with (Esc, or nothing left to do).
    pub fn key(&mut self, key: KeyEvent, command: Option<Command>, cx: &mut Cx) -> bool {
        if self.waiting.is_some() {
            return false;
        }
        if let Some(yes) = &mut self.confirm {
            match modal::answer(yes, key, command) {
                Answer::Undecided => {}
                Answer::No => self.confirm = None,
                Answer::Yes => {
                    self.confirm = None;
                    self.waiting = Some(cx.audit_work(AuditWork::Export {
                        filter: self.filter.clone(),
                        format: self.format,
                        path: self.target(),
                    }));
                }
            }
            return false;
        }
        match command {
            Some(Command::Back) => return true,
            Some(Command::NextField | Command::PrevField) => self.on_path = !self.on_path,
            Some(Command::Submit) => match name_problem(self.path.value().trim()) {
                Some(problem) => self.note = Some(Note::Error(problem)),
                None => {
                    self.note = None;
                    self.confirm = Some(false);
                }
            },
            _ if !self.on_path => {
                if matches!(
                    key.code,
                    KeyCode::Left | KeyCode::Right | KeyCode::Char(' ')
                ) || matches!(command, Some(Command::Up | Command::Down))
                {
                    self.toggle_format();
                }
            }
            _ => {
                if let Err(e) = self.path.key(key) {
                    self.note = Some(Note::Error(e));
                }
            }
        }
        false
    }

    /// The file the export writes: the name in the exports folder.
    fn target(&self) -> PathBuf {
        self.dir.join(self.path.value().trim())
    }

    /// The export came back: a note for the list when it is written, or the sentence here.
    pub fn done(&mut self, result: Result<Exported, ServiceError>, cx: &mut Cx) -> Option<Note> {
        self.waiting = None;
        match result {
            Ok(done) => {
                cx.heard();
                Some(Note::Info(format!(
                    "Exported {} event{} to {} (readable by its owner only).",
                    done.rows,
                    if done.rows == 1 { "" } else { "s" },
                    done.path.display()
                )))
            }
            Err(e) => {
                self.note = Some(Note::Error(cx.sentence(&e)));
                None
            }
        }
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let [intro, format, path, _, note, hint] = Layout::vertical([
            Constraint::Length(3),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(2),
            Constraint::Length(1),
        ])
        .areas(area);
        f.render_widget(
            Paragraph::new(vec![
                Line::styled("Export audit events", theme.title),
                Line::from(
                    inert(&format!(
                        "Writes {} to a new file in {}.",
                        self.what,
                        self.dir.display()
                    ))
                    .into_owned(),
                ),
            ]),
            intro,
        );
        let choice = |f: Format| {
            let label = extension(f);
            if f == self.format {
                Span::styled(format!("[{label}]"), theme.selected)
            } else {
                Span::raw(format!(" {label} "))
            }
        };
        let marker = if self.on_path { "  " } else { "▶ " };
        f.render_widget(
            Paragraph::new(Line::from(vec![
                Span::raw(format!("{marker}Format  ")),
                choice(Format::Csv),
                Span::raw(" "),
                choice(Format::Jsonl),
            ])),
            format,
        );
        self.path.render(f, path, self.on_path, theme);
        if self.waiting.is_some() {
            common::busy(f, note, "Exporting…", look.ticks, theme);
        } else {
            common::note(f, note, self.note.as_ref(), theme);
        }
        let hints = look.hints(&[
            (Command::NextField, "format / file"),
            (Command::Submit, "export"),
            (Command::Back, "cancel"),
        ]);
        look.hint_line(f, hint, &hints);
        if let Some(yes) = self.confirm {
            let lines = vec![
                Line::from(
                    inert(&format!(
                        "Write {} as {} to {}?",
                        self.what,
                        extension(self.format).to_uppercase(),
                        self.target().display()
                    ))
                    .into_owned(),
                ),
                Line::from(
                    "The file is readable by its owner only, and an existing file is never overwritten.",
                ),
                Line::from("The export is recorded on the audit trail as AUDIT_EXPORT (HIGH)."),
            ];
            modal::ask(
                f,
                area,
                "Export audit events",
                lines,
                ("No, go back", "Yes, export"),
                yes,
                theme,
            );
        }
    }
}
