//! What a verification can find, and the sentence that says it.

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A row named in a finding: where it is and what it says it records, never its details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub seq: i64,
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub action: String,
}

impl fmt::Display for BadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seq {} ({})", self.seq, self.what())
    }
}

impl BadRow {
    /// What the row says it records: its action, time and id.
    fn what(&self) -> String {
        format!(
            "{} at {}, id {}",
            self.action,
            self.occurred_at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.id
        )
    }
}

/// Why a row counts as changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangedBy {
    /// Its contents no longer match its signature.
    Contents,
    /// It links to the row before it, but its seq skips ahead.
    Seq,
    /// It is the newest row, and the chain head records another hash for it.
    Head,
    /// The checkpoint records another hash for it.
    Checkpoint,
}

/// Why a row counts as inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertedBy {
    /// Another row has the same seq.
    DuplicateSeq,
    /// Nothing links to it: the chain continues past it from the row before.
    Unlinked,
    /// It lies past the row the chain head records.
    PastHead,
}

/// What records the chain's true length, when rows are missing at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Witness {
    Head,
    Checkpoint,
}

/// The first thing wrong with the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Changed {
        row: BadRow,
        by: ChangedBy,
    },
    /// Rows are missing: `row` links to a row that is not in the chain.
    Removed {
        /// The seq numbers missing, when the numbering shows them.
        missing: Option<(i64, i64)>,
        /// The row after the gap (`None` when a checkpoint names a missing row).
        row: Option<BadRow>,
    },
    Inserted {
        row: BadRow,
        by: InsertedBy,
    },
    /// A genuine row in the wrong place: it links to the row at `links_to`, not to its predecessor.
    Reordered {
        row: BadRow,
        links_to: i64,
    },
    /// The newest rows are gone: the chain ends at `last`, but `witness` records `expected`.
    Truncated {
        last: i64,
        expected: i64,
        witness: Witness,
    },
}

impl Problem {
    /// One word for what happened: changed, removed, inserted, reordered or truncated.
    pub fn kind(&self) -> &'static str {
        match self {
            Problem::Changed { .. } => "changed",
            Problem::Removed { .. } => "removed",
            Problem::Inserted { .. } => "inserted",
            Problem::Reordered { .. } => "reordered",
            Problem::Truncated { .. } => "truncated",
        }
    }

    /// The first seq that is not as it should be (for a removal, the first one missing).
    pub fn seq(&self) -> i64 {
        match self {
            Problem::Changed { row, .. }
            | Problem::Inserted { row, .. }
            | Problem::Reordered { row, .. } => row.seq,
            Problem::Removed {
                missing: Some((first, _)),
                ..
            } => *first,
            Problem::Removed { row: Some(row), .. } => row.seq,
            Problem::Removed { .. } => 0,
            Problem::Truncated { last, .. } => last + 1,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "audit chain broken at seq {}: ", self.seq())?;
        match self {
            Problem::Changed { row, by } => {
                let why = match by {
                    ChangedBy::Contents => {
                        "was changed, as its contents no longer match its signature"
                    }
                    ChangedBy::Seq => {
                        "was changed, as its seq skips ahead although it links to the row before it"
                    }
                    ChangedBy::Head => {
                        "was changed or replaced, as the chain head records another hash for it"
                    }
                    ChangedBy::Checkpoint => {
                        "was changed or replaced, as the checkpoint records another hash for it"
                    }
                };
                write!(f, "the row there ({}) {why}", row.what())
            }
            Problem::Removed { missing, row } => {
                let gone = match missing {
                    Some((a, b)) if a == b => format!("the row at seq {a} was removed"),
                    Some((a, b)) => format!("rows seq {a}–{b} were removed"),
                    None => "rows were removed just before it and the seq numbers closed up".into(),
                };
                match row {
                    Some(row) => write!(
                        f,
                        "{gone}, as the row {}at seq {} ({}) links to a row that is no longer in the chain",
                        if missing.is_none() { "now " } else { "" },
                        row.seq,
                        row.what()
                    ),
                    None => write!(f, "{gone}, though the checkpoint records it"),
                }
            }
            Problem::Inserted { row, by } => {
                let why = match by {
                    InsertedBy::DuplicateSeq => "as another row has the same seq",
                    InsertedBy::Unlinked => "as no row links to it and the chain continues past it",
                    InsertedBy::PastHead => "after the newest row the chain head records",
                };
                write!(f, "the row there ({}) was inserted, {why}", row.what())
            }
            Problem::Reordered { row, links_to } => write!(
                f,
                "the row there ({}) was reordered, as it links to the row at seq {links_to} instead of the one before it",
                row.what()
            ),
            Problem::Truncated {
                last,
                expected,
                witness,
            } => {
                let who = match witness {
                    Witness::Head => "the chain head",
                    Witness::Checkpoint => "the checkpoint",
                };
                write!(
                    f,
                    "the chain was truncated after seq {last}, though {who} records seq {expected}"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64) -> BadRow {
        BadRow {
            seq,
            id: Uuid::from_u128(7),
            occurred_at: DateTime::from_timestamp(1_780_000_000, 0).unwrap(),
            action: "RECORD_VIEW".into(),
        }
    }

    #[test]
    fn each_finding_is_one_sentence_naming_the_seq_and_what_happened() {
        let findings = [
            (
                Problem::Changed {
                    row: row(7),
                    by: ChangedBy::Contents,
                },
                7,
                "changed",
            ),
            (
                Problem::Removed {
                    missing: Some((7, 9)),
                    row: Some(row(10)),
                },
                7,
                "removed",
            ),
            (
                Problem::Removed {
                    missing: None,
                    row: Some(row(7)),
                },
                7,
                "removed",
            ),
            (
                Problem::Inserted {
                    row: row(7),
                    by: InsertedBy::DuplicateSeq,
                },
                7,
                "inserted",
            ),
            (
                Problem::Reordered {
                    row: row(7),
                    links_to: 8,
                },
                7,
                "reordered",
            ),
            (
                Problem::Truncated {
                    last: 17,
                    expected: 20,
                    witness: Witness::Checkpoint,
                },
                18,
                "truncated",
            ),
        ];
        for (problem, seq, kind) in findings {
            let sentence = problem.to_string();
            assert_eq!((problem.seq(), problem.kind()), (seq, kind));
            assert!(
                sentence.starts_with(&format!("audit chain broken at seq {seq}: ")),
                "{sentence}"
            );
            assert!(sentence.contains(kind), "{sentence}");
            assert!(
                !sentence.contains('\n') && !sentence.ends_with('.'),
                "{sentence}"
            );
        }
        let sentence = Problem::Removed {
            missing: Some((7, 9)),
            row: Some(row(10)),
        }
        .to_string();
        assert!(sentence.contains("rows seq 7–9 were removed"), "{sentence}");
        assert!(
            sentence.contains(&format!(
                "seq 10 (RECORD_VIEW at 2026-05-28 20:26:40 UTC, id {})",
                Uuid::from_u128(7)
            )),
            "{sentence}"
        );
    }
}
