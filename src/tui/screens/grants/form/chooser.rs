//! A name field that asks for the people matching what is typed, once typing pauses (one search
//! for a burst of keys). What an earlier query found is dropped as soon as the text changes, so
//! Enter can only ever choose someone shown for the text on screen.

use std::time::Instant;

use crate::services::grants::{Candidate, Wanted};
use crate::tui::msg::{GrantWork, Ticket};
use crate::tui::screens::paged::FILTER_PAUSE;
use crate::tui::screens::records::Cx;
use crate::tui::widgets::field::Field;

/// Rows of search results shown under a name field.
pub(super) const RESULT_ROWS: usize = 5;

/// A name field that searches the clinic's users as it is typed.
pub struct Chooser {
    pub wanted: Wanted,
    pub query: Field,
    pub chosen: Option<Candidate>,
    pub results: Vec<Candidate>,
    pub pick: usize,
    /// When the text last changed, while its search has not been asked for yet.
    typed: Option<Instant>,
    searching: Option<Ticket>,
}

impl Chooser {
    pub(super) fn new(wanted: Wanted, label: &'static str) -> Chooser {
        Chooser {
            wanted,
            query: Field::new(label, 100),
            chosen: None,
            results: Vec::new(),
            pick: 0,
            typed: None,
            searching: None,
        }
    }

    /// The text changed: whatever was chosen or found is forgotten, and a search is due.
    pub(super) fn changed(&mut self, now: Instant) {
        self.chosen = None;
        self.results.clear();
        self.pick = 0;
        self.searching = None;
        self.typed = Some(now);
    }

    /// Waiting for a search: typed and not yet asked, or asked and not yet answered.
    pub(super) fn looking(&self) -> bool {
        self.typed.is_some() || self.searching.is_some()
    }

    /// The heartbeat: once typing has paused, the search is asked for (two letters at least).
    pub(super) fn tick(&mut self, cx: &mut Cx) {
        let due = self
            .typed
            .is_some_and(|at| cx.now.saturating_duration_since(at) >= FILTER_PAUSE);
        if !due {
            return;
        }
        self.typed = None;
        let query = self.query.value().trim().to_string();
        if query.chars().count() >= 2 {
            self.searching = Some(cx.grant_work(GrantWork::FindPeople {
                wanted: self.wanted,
                query,
            }));
        }
    }

    /// Whether `ticket` is the search still awaited.
    pub(super) fn awaits(&self, ticket: Ticket) -> bool {
        self.searching == Some(ticket)
    }

    /// The people the awaited search found.
    pub(super) fn found(&mut self, people: Vec<Candidate>) {
        self.searching = None;
        self.results = people;
        self.pick = 0;
    }

    /// Esc on the field: closes the list of people found, if one is open (true).
    pub(super) fn dismiss(&mut self) -> bool {
        if self.results.is_empty() && !self.looking() {
            return false;
        }
        self.results.clear();
        self.typed = None;
        self.searching = None;
        true
    }

    /// Enter on the name field: takes the highlighted person, or says why not.
    pub(super) fn choose(&mut self) -> Result<Candidate, String> {
        let typed = self.query.value().trim().to_string();
        if let Some(c) = &self.chosen {
            return Ok(c.clone());
        }
        if typed.is_empty() {
            return Err(format!(
                "Type part of the {}'s name, then choose them with Enter.",
                self.noun()
            ));
        }
        if typed.chars().count() < 2 {
            return Err("Type at least two letters of the name.".into());
        }
        if self.looking() {
            return Err("Still looking; press Enter again in a moment.".into());
        }
        let Some(c) = self.results.get(self.pick).cloned() else {
            return Err(format!(
                "No one matches {typed:?} among the people you may choose."
            ));
        };
        if !c.eligible {
            return Err(match self.wanted {
                Wanted::Grantee => format!(
                    "{} is not a physician or nurse ({}); grants go to physicians and nurses only.",
                    c.person.name,
                    c.role.label()
                ),
                Wanted::Patient => format!("{} is not a patient.", c.person.name),
            });
        }
        self.query = Field::new(self.query.label, 100).with_value(&c.person.name);
        self.results.clear();
        self.chosen = Some(c.clone());
        Ok(c)
    }

    fn noun(&self) -> &'static str {
        match self.wanted {
            Wanted::Patient => "patient",
            Wanted::Grantee => "grantee",
        }
    }
}
