//! The audit viewer's work and results. `Debug` shows which parts of a filter are set, counts and
//! sequence numbers — never a searched name, a word typed into the filter, or an event's details.

use std::fmt;
use std::path::PathBuf;

use crate::services::ServiceError;
use crate::services::audit::export::{Exported, Format};
use crate::services::audit::filter::AuditFilter;
use crate::services::audit::query::{AuditEvent, AuditPage, Cursor, Review};

/// Audit-trail work for the runner.
pub enum AuditWork {
    /// A page of events, newest first, after `after`.
    List {
        filter: AuditFilter,
        after: Option<Cursor>,
    },
    /// The live tail: events sealed after `after_seq`.
    Newer { filter: AuditFilter, after_seq: i64 },
    /// An admin marks event `seq` reviewed.
    Review { seq: i64 },
    /// The filtered events, to a new file.
    Export {
        filter: AuditFilter,
        format: Format,
        path: PathBuf,
    },
}

/// What audit-trail work came back with.
pub enum AuditResult {
    Page(Result<AuditPage, ServiceError>),
    /// New events, oldest first, and the chain's head when they were read.
    Newer(Result<(Vec<AuditEvent>, i64), ServiceError>),
    Reviewed {
        seq: i64,
        result: Result<Review, ServiceError>,
    },
    Exported(Result<Exported, ServiceError>),
}

impl AuditResult {
    /// The error it carries, if it failed.
    pub fn error(&self) -> Option<&ServiceError> {
        match self {
            AuditResult::Page(r) => r.as_ref().err(),
            AuditResult::Newer(r) => r.as_ref().err(),
            AuditResult::Reviewed { result, .. } => result.as_ref().err(),
            AuditResult::Exported(r) => r.as_ref().err(),
        }
    }
}

impl fmt::Debug for AuditWork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditWork::List { filter, after } => f
                .debug_struct("List")
                .field("filter", filter)
                .field("after", after)
                .finish(),
            AuditWork::Newer { filter, after_seq } => f
                .debug_struct("Newer")
                .field("filter", filter)
                .field("after_seq", after_seq)
                .finish(),
            AuditWork::Review { seq } => write!(f, "Review({seq})"),
            AuditWork::Export { filter, format, .. } => f
                .debug_struct("Export")
                .field("filter", filter)
                .field("format", format)
                .finish_non_exhaustive(),
        }
    }
}

impl fmt::Debug for AuditResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = |ok: Option<String>, err: Option<&ServiceError>| match (ok, err) {
            (Some(ok), _) => ok,
            (None, Some(e)) => format!("error: {e}"),
            (None, None) => String::new(),
        };
        match self {
            AuditResult::Page(r) => write!(
                f,
                "Page({})",
                outcome(
                    r.as_ref().ok().map(|p| format!(
                        "{} events, next {:?}",
                        p.events.len(),
                        p.next
                    )),
                    r.as_ref().err()
                )
            ),
            AuditResult::Newer(r) => write!(
                f,
                "Newer({})",
                outcome(
                    r.as_ref()
                        .ok()
                        .map(|(e, head)| format!("{} events, head {head}", e.len())),
                    r.as_ref().err()
                )
            ),
            AuditResult::Reviewed { seq, result } => write!(
                f,
                "Reviewed({seq}, {})",
                outcome(
                    result.as_ref().ok().map(|_| "marked".into()),
                    result.as_ref().err()
                )
            ),
            AuditResult::Exported(r) => write!(
                f,
                "Exported({})",
                outcome(
                    r.as_ref().ok().map(|e| format!("{} rows", e.rows)),
                    r.as_ref().err()
                )
            ),
        }
    }
}
