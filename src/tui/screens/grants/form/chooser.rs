//! A name field that asks for the people matching what is typed, each time it changes.

use crate::services::grants::{Candidate, Wanted};
use crate::tui::msg::{GrantWork, Ticket};
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
    pub(super) searching: Option<Ticket>,
}

impl Chooser {
    pub(super) fn new(wanted: Wanted, label: &'static str) -> Chooser {
        Chooser {
            wanted,
            query: Field::new(label, 100),
            chosen: None,
            results: Vec::new(),
            pick: 0,
            searching: None,
        }
    }

    /// The query changed: whatever was chosen is forgotten and the search asked again.
    pub(super) fn changed(&mut self, cx: &mut Cx) {
        self.chosen = None;
        self.pick = 0;
        let query = self.query.value().trim().to_string();
        if query.chars().count() >= 2 {
            self.searching = Some(cx.grant_work(GrantWork::FindPeople {
                wanted: self.wanted,
                query,
            }));
        } else {
            self.searching = None;
            self.results.clear();
        }
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
        let Some(c) = self.results.get(self.pick).cloned() else {
            return Err(if self.searching.is_some() {
                "Still looking; press Enter again in a moment.".into()
            } else if typed.chars().count() < 2 {
                "Type at least two letters of the name.".into()
            } else {
                format!("No one matches {typed:?} among the people you may choose.")
            });
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
