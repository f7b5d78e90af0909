//! The record browser: newest first, a page of `PAGE_SIZE` rows at a time with a `/` filter (the
//! paging and the filter line are `Paged`'s). Staff who see metadata only get "—" for the title. A filtered page may come back empty with a `next`: the service stopped at its scan
//! budget, and PgDn searches on from there.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::Paragraph;

use super::detail::Detail;
use super::history::History;
use super::picker::Picker;
use super::{Cx, Look, Nav, Page};
use crate::services::ServiceError;
use crate::services::records::{Access, Cursor, Filter, PAGE_SIZE};
use crate::tui::keymap::Command;
use crate::tui::msg::{RecordResult, RecordWork, Ticket};
use crate::tui::screens::common;
use crate::tui::screens::paged::{Columns, FILTERING, Listing, Paged};
use crate::tui::state::Note;
use crate::tui::widgets::text::clip;

/// One row of the browser: the service's summary (no title for metadata-only staff).
pub use crate::services::records::RecordSummary as RecordRow;

/// One page of rows, and where the next one starts.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordPage {
    pub rows: Vec<RecordRow>,
    pub next: Option<Cursor>,
}

/// Titles and names stay out of `Debug`.
impl std::fmt::Debug for RecordPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordPage")
            .field("rows", &self.rows.len())
            .field("next", &self.next)
            .finish()
    }
}

pub use crate::tui::screens::paged::FILTER_PAUSE;

/// The records list for `Paged`: newest first, filtered by name, type, title and dates.
pub struct Records;

impl Listing for Records {
    type Row = RecordRow;
    type Cursor = Cursor;
    type Filter = Filter;

    fn parse(text: &str) -> Result<Filter, ServiceError> {
        Filter::parse(text)
    }

    fn ask(filter: &Filter, after: Option<Cursor>, cx: &mut Cx) -> Ticket {
        cx.work(RecordWork::List {
            filter: filter.clone(),
            after,
        })
    }
}

#[derive(Debug, Default)]
pub struct Browser {
    pub list: Paged<Records>,
}

impl Browser {
    pub fn new() -> Browser {
        Browser::default()
    }

    pub fn typing(&self) -> bool {
        self.list.filtering
    }

    pub fn busy(&self) -> bool {
        self.list.busy()
    }

    pub fn awaits(&self, ticket: Ticket) -> bool {
        self.list.awaits(ticket)
    }

    pub fn commands(&self) -> &'static [Command] {
        if self.list.filtering {
            FILTERING
        } else {
            &[
                Command::Up,
                Command::Down,
                Command::First,
                Command::Last,
                Command::PageDown,
                Command::PageUp,
                Command::Submit,
                Command::Filter,
                Command::Edit,
                Command::NewRecord,
                Command::History,
                Command::BreakGlass,
                Command::Refresh,
                Command::TabGrants,
                Command::TabAudit,
                Command::TabAdmin,
                Command::TabAdmin,
                Command::TabAccount,
                Command::Back,
                Command::Quit,
            ]
        }
    }

    /// Loads the page on show again (after a save, a break-glass, or F5).
    pub fn reload(&mut self, cx: &mut Cx) {
        self.list.reload(cx);
    }

    pub fn key(
        &mut self,
        key: KeyEvent,
        command: Option<Command>,
        access: Access,
        cx: &mut Cx,
    ) -> Nav {
        if self.list.key(key, command, cx) {
            return Nav::Stay;
        }
        let note = &mut self.list.note;
        match command {
            Some(Command::Quit) => return Nav::Quit,
            Some(Command::Submit) => {
                if let Some(row) = self.list.selected_row() {
                    return Nav::Push(Page::Detail(Detail::open(row.id, cx)));
                }
            }
            Some(Command::Edit) => {
                if !access.write {
                    *note = Some(Note::Error("Your role does not edit records.".into()));
                } else if let Some(row) = self.list.selected_row() {
                    let mut d = Detail::open(row.id, cx);
                    d.edit_when_loaded = true;
                    return Nav::Push(Page::Detail(d));
                }
            }
            Some(Command::History) => {
                if !access.content {
                    *note = Some(Note::Error(
                        "Your role sees records' index cards only, not their versions.".into(),
                    ));
                } else if let Some(row) = self.list.selected_row() {
                    return Nav::Push(Page::History(History::open(row.id, cx)));
                }
            }
            Some(Command::NewRecord) => {
                if access.write {
                    return Nav::Push(Page::Picker(Picker::for_new_record(cx)));
                }
                *note = Some(Note::Error("Your role does not add records.".into()));
            }
            Some(Command::BreakGlass) => {
                if access.break_glass {
                    return Nav::Push(Page::Picker(Picker::for_emergency()));
                }
                *note = Some(Note::Error(
                    "Only physicians and nurses may use emergency access.".into(),
                ));
            }
            _ => {}
        }
        Nav::Stay
    }

    pub fn paste(&mut self, text: &str, cx: &mut Cx) {
        self.list.paste(text, cx);
    }

    pub fn tick(&mut self, cx: &mut Cx) {
        self.list.tick(cx);
    }

    pub fn done(&mut self, ticket: Ticket, result: RecordResult, cx: &mut Cx) -> Nav {
        if let RecordResult::Page(result) = result {
            self.list
                .done(ticket, result.map(|page| (page.rows, page.next)), cx);
        }
        Nav::Stay
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let [top, table, note, hint] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(2),
            Constraint::Length(1),
        ])
        .areas(area);
        if self.list.filtering || !self.list.filter_field.value().is_empty() {
            let [field, status] =
                Layout::horizontal([Constraint::Min(20), Constraint::Length(22)]).areas(top);
            self.list
                .filter_field
                .render(f, field, self.list.filtering, theme);
            self.list.status(f, status, look);
        } else {
            let [text, status] =
                Layout::horizontal([Constraint::Min(20), Constraint::Length(22)]).areas(top);
            let text_line = format!(
                "Newest first · {} to filter by name, type, title or date (2024-02, 2024-01..2024-03)",
                look.keys.key(Command::Filter)
            );
            f.render_widget(
                Paragraph::new(Span::styled(
                    clip(&text_line, usize::from(text.width)),
                    theme.muted,
                )),
                text,
            );
            self.list.status(f, status, look);
        }
        self.table(f, table, look);
        common::note(f, note, self.list.note.as_ref(), theme);
        let mut items = vec![(Command::Submit, "open")];
        if look.access.write {
            items.push((Command::Edit, "edit"));
            items.push((Command::NewRecord, "new"));
        }
        if look.access.content {
            items.push((Command::History, "history"));
        }
        items.push((Command::Filter, "filter"));
        if look.access.break_glass {
            items.push((Command::BreakGlass, "break-glass"));
        }
        items.push((Command::PageDown, "next page"));
        items.push((Command::PageUp, "previous"));
        look.hint_line(f, hint, &look.hints(&items));
    }

    fn table(&self, f: &mut Frame, area: Rect, look: &Look) {
        let empty = if self.list.next.is_some() {
            // The service looked through as many rows as one page may cost, and found none.
            format!(
                "No match in the records searched so far — {} searches further.",
                look.keys.key(Command::PageDown)
            )
        } else if self.list.filter.is_empty() {
            "No records to show.".to_string()
        } else {
            "No records match the filter.".to_string()
        };
        let columns = Columns {
            title: format!(" Records · up to {PAGE_SIZE} a page "),
            loading: "Loading records…",
            empty,
            widths: [
                Constraint::Length(10),
                Constraint::Length(15),
                Constraint::Length(12),
                Constraint::Min(16),
                Constraint::Length(13),
                Constraint::Length(3),
            ],
            header: ["Date", "Patient", "Type", "Title", "Provider", "Ver"],
        };
        self.list.table(f, area, look, columns, |r, w| {
            [
                r.record_date.to_string(),
                clip(&r.patient.name, w[1]),
                clip(r.record_type.label(), w[2]),
                match &r.title {
                    Some(t) => clip(t, w[3]),
                    None => "—".to_string(),
                },
                clip(&r.provider.name, w[4]),
                format!("v{}", r.version),
            ]
        });
    }
}
