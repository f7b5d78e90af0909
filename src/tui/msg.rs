//! Messages into `update`, and the effects it asks for.

mod admin;
mod audit;
pub use admin::{Acted, AdminResult, AdminWork, ListPage};
pub use audit::{AuditResult, AuditWork};

use std::fmt;
use std::sync::Arc;

use crate::tui::secret::Secret;
use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent};
use uuid::Uuid;

use crate::services::ServiceError;
use crate::services::auth::{AuthError, LoginStep, PendingLogin};
use crate::services::grants::{
    Candidate, Cursor as GrantCursor, Grant, GrantFilter, GrantPage, NewGrant, RecordChoice, Wanted,
};
use crate::services::mfa::{BackupCodes, Device, Enrollment};
use crate::services::records::diff::FieldDiff;
use crate::services::records::{
    Cursor, Draft, EmergencyGrant, Filter, Person, RecordDetail, Saved, Version, VersionSummary,
};
use crate::services::sessions::{Session, SessionState};
use crate::tui::screens::records::browser::RecordPage;

/// Identifies one piece of database work; a result whose ticket is no longer awaited is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(pub u64);

/// Why the console is closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    Logout,
    CtrlC,
    Terminated,
    HangUp,
}

impl Leave {
    /// The reason stored on the session.
    pub fn reason(self) -> &'static str {
        match self {
            Leave::Logout => "logout",
            Leave::CtrlC => "ctrl-c",
            Leave::Terminated => "terminated",
            Leave::HangUp => "connection closed",
        }
    }
}

/// Everything that can happen to the console. `Debug` leaves out what was typed or pasted.
pub enum Msg {
    Key(KeyEvent),
    Paste(String),
    Resize(u16, u16),
    /// A quarter-second heartbeat: idle lock, session checks, the spinner.
    Tick,
    Leave(Leave),
    Done(Ticket, Outcome),
}

/// What a piece of database work came back with.
#[derive(Debug)]
pub enum Outcome {
    Login(Result<LoginStep, AuthError>),
    EnrollmentReady(Result<Enrollment, ServiceError>),
    Code(Result<Session, AuthError>),
    Enrolled(Result<(Session, BackupCodes), AuthError>),
    SessionState(Result<SessionState, ServiceError>),
    Devices(Result<(Vec<Device>, i64), ServiceError>),
    DeviceAdded(Result<Option<BackupCodes>, ServiceError>),
    DeviceChanged(Result<(), ServiceError>),
    Unlocked(Result<bool, ServiceError>),
    /// Work whose result only matters if it failed (touch, lock audit).
    Recorded(Result<(), ServiceError>),
    SessionEnded,
    /// Medical-records work (the Records tab).
    Records(Box<RecordResult>),
    /// Access-grant work (the Grants tab).
    Grants(Box<GrantResult>),
    /// Audit-trail work (the Audit tab).
    Audit(Box<AuditResult>),
    /// Administrative work (the Admin tab).
    Admin(Box<AdminResult>),
    /// The signed-in person's own password change.
    PasswordChanged(Result<(), ServiceError>),
}

/// What access-grant work came back with. `Debug` shows ids and counts, no names or reasons.
pub enum GrantResult {
    Page(Result<GrantPage, ServiceError>),
    People(Result<Vec<Candidate>, ServiceError>),
    Records(Result<Vec<RecordChoice>, ServiceError>),
    /// A grant created, re-timed or revoked, as it now stands.
    Changed(Result<Box<Grant>, ServiceError>),
}

impl GrantResult {
    /// The error it carries, if it failed.
    pub fn error(&self) -> Option<&ServiceError> {
        match self {
            GrantResult::Page(r) => r.as_ref().err(),
            GrantResult::People(r) => r.as_ref().err(),
            GrantResult::Records(r) => r.as_ref().err(),
            GrantResult::Changed(r) => r.as_ref().err(),
        }
    }
}

/// Access-grant work for the runner. `Debug` shows ids and lengths, never a searched name or a reason.
pub enum GrantWork {
    List {
        filter: GrantFilter,
        after: Option<GrantCursor>,
    },
    FindPeople {
        wanted: Wanted,
        query: String,
    },
    PatientRecords(Uuid),
    Create(NewGrant),
    ChangeExpiry {
        grant: Uuid,
        expected: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    Revoke {
        grant: Uuid,
        reason: String,
    },
}

/// What medical-records work came back with. `Debug` shows ids, versions and counts, no content.
pub enum RecordResult {
    Page(Result<RecordPage, ServiceError>),
    Detail(Result<RecordDetail, ServiceError>),
    Saved(Result<Saved, ServiceError>),
    History(Result<Vec<VersionSummary>, ServiceError>),
    Version(Result<Version, ServiceError>),
    /// Two versions, older first, and their field-by-field difference.
    Compared(Result<(Version, Version, Vec<FieldDiff>), ServiceError>),
    Patients(Result<Vec<Person>, ServiceError>),
    Emergency(Result<EmergencyGrant, ServiceError>),
}

impl RecordResult {
    /// The error it carries, if it failed.
    pub fn error(&self) -> Option<&ServiceError> {
        match self {
            RecordResult::Page(r) => r.as_ref().err(),
            RecordResult::Detail(r) => r.as_ref().err(),
            RecordResult::Saved(r) => r.as_ref().err(),
            RecordResult::History(r) => r.as_ref().err(),
            RecordResult::Version(r) => r.as_ref().err(),
            RecordResult::Compared(r) => r.as_ref().err(),
            RecordResult::Patients(r) => r.as_ref().err(),
            RecordResult::Emergency(r) => r.as_ref().err(),
        }
    }
}

/// Medical-records work for the runner. `Debug` shows ids and lengths, never the draft, the
/// reason, a searched name or the password.
pub enum RecordWork {
    List {
        filter: Filter,
        after: Option<Cursor>,
    },
    View(Uuid),
    /// Shared, so a save retried after an outage sends the very same draft and change id.
    Save(Arc<SaveRequest>),
    History(Uuid),
    Version {
        record: Uuid,
        version: i32,
    },
    Compare {
        record: Uuid,
        a: i32,
        b: i32,
    },
    WritablePatients,
    FindPatients(String),
    BreakGlass {
        patient: Uuid,
        reason: String,
        password: Secret,
    },
}

/// One save of the editor: retried unchanged (same change id) while the database is away.
#[derive(Clone, PartialEq)]
pub struct SaveRequest {
    pub change_id: Uuid,
    pub target: SaveTarget,
    pub draft: Draft,
}

#[derive(Clone, PartialEq)]
pub enum SaveTarget {
    New {
        patient: Uuid,
    },
    Existing {
        record: Uuid,
        base_version: i32,
        reason: String,
    },
}

/// Work `update` asks the runner to do. Every variant carries what it needs; none blocks the UI.
#[derive(Debug)]
pub enum Effect {
    Login {
        ticket: Ticket,
        email: String,
        password: Secret,
    },
    SubmitCode {
        ticket: Ticket,
        pending: PendingLogin,
        code: Secret,
    },
    /// A fresh secret for a new authenticator (randomness is the runner's business, not update's).
    PrepareEnrollment {
        ticket: Ticket,
        account: String,
    },
    CompleteEnrollment {
        ticket: Ticket,
        pending: PendingLogin,
        enrollment: Arc<Enrollment>,
        code: Secret,
    },
    CheckSession {
        ticket: Ticket,
        session: Session,
    },
    Touch {
        ticket: Ticket,
        session: Session,
    },
    RecordLock {
        ticket: Ticket,
        session: Session,
    },
    Unlock {
        ticket: Ticket,
        session: Session,
        password: Secret,
    },
    LoadDevices {
        ticket: Ticket,
        session: Session,
    },
    AddDevice {
        ticket: Ticket,
        session: Session,
        enrollment: Arc<Enrollment>,
        code: Secret,
        password: Secret,
        current_code: Option<Secret>,
    },
    RenameDevice {
        ticket: Ticket,
        session: Session,
        device: Uuid,
        name: String,
    },
    RemoveDevice {
        ticket: Ticket,
        session: Session,
        device: Uuid,
        password: Secret,
        code: Secret,
    },
    EndSession {
        ticket: Ticket,
        session: Session,
        reason: &'static str,
    },
    Records {
        ticket: Ticket,
        session: Session,
        work: RecordWork,
    },
    Grants {
        ticket: Ticket,
        session: Session,
        work: GrantWork,
    },
    Audit {
        ticket: Ticket,
        session: Session,
        work: AuditWork,
    },
    Admin {
        ticket: Ticket,
        session: Session,
        work: AdminWork,
    },
    /// The signed-in person changes their own password.
    ChangePassword {
        ticket: Ticket,
        session: Session,
        current: Secret,
        new: Secret,
    },
    /// Leave the loop and restore the terminal.
    Exit,
}

// What follows keeps record content, drafts, searched names and passwords out of `{:?}`: a message
// or an effect printed by a log line, a panic or a failing test shows ids, versions and lengths.

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Msg::Key(key) => match key.code {
                // A typed character may be part of a password or a record.
                KeyCode::Char(_) => write!(f, "Key(Char(_), {:?})", key.modifiers),
                code => write!(f, "Key({code:?}, {:?})", key.modifiers),
            },
            Msg::Paste(text) => write!(f, "Paste({} bytes)", text.len()),
            Msg::Resize(w, h) => write!(f, "Resize({w}, {h})"),
            Msg::Tick => f.write_str("Tick"),
            Msg::Leave(why) => write!(f, "Leave({why:?})"),
            Msg::Done(ticket, outcome) => write!(f, "Done({ticket:?}, {outcome:?})"),
        }
    }
}

/// `Ok(<what shown>)`, or `Err(..)`: an error's sentence may quote what was typed.
fn shape<T>(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    result: &Result<T, ServiceError>,
    ok: impl FnOnce(&T) -> String,
) -> fmt::Result {
    match result {
        Ok(value) => write!(f, "{name}(Ok({}))", ok(value)),
        Err(e) if e.is_unavailable() => write!(f, "{name}(Err(unavailable))"),
        Err(_) => write!(f, "{name}(Err(..))"),
    }
}

impl fmt::Debug for RecordResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordResult::Page(r) => shape(f, "Page", r, |p| format!("{p:?}")),
            RecordResult::Detail(r) => shape(f, "Detail", r, |d| {
                format!("record {} version {}", d.id, d.version)
            }),
            RecordResult::Saved(r) => shape(f, "Saved", r, |s| format!("{s:?}")),
            RecordResult::History(r) => shape(f, "History", r, |v| format!("{} versions", v.len())),
            RecordResult::Version(r) => shape(f, "Version", r, |v| {
                format!("version {}", v.summary.version)
            }),
            RecordResult::Compared(r) => shape(f, "Compared", r, |(a, b, fields)| {
                format!(
                    "versions {} and {}, {} fields",
                    a.summary.version,
                    b.summary.version,
                    fields.len()
                )
            }),
            RecordResult::Patients(r) => {
                shape(f, "Patients", r, |p| format!("{} patients", p.len()))
            }
            RecordResult::Emergency(r) => shape(f, "Emergency", r, |g| {
                format!("grant {} for patient {}", g.grant, g.patient.id)
            }),
        }
    }
}

impl fmt::Debug for RecordWork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordWork::List { filter, after } => f
                .debug_struct("List")
                .field("filter_words", &filter.words.len())
                .field("from", &filter.from)
                .field("to", &filter.to)
                .field("after", after)
                .finish(),
            RecordWork::View(record) => write!(f, "View({record})"),
            RecordWork::Save(request) => write!(f, "Save({request:?})"),
            RecordWork::History(record) => write!(f, "History({record})"),
            RecordWork::Version { record, version } => f
                .debug_struct("Version")
                .field("record", record)
                .field("version", version)
                .finish(),
            RecordWork::Compare { record, a, b } => f
                .debug_struct("Compare")
                .field("record", record)
                .field("a", a)
                .field("b", b)
                .finish(),
            RecordWork::WritablePatients => f.write_str("WritablePatients"),
            RecordWork::FindPatients(query) => {
                write!(f, "FindPatients({} chars)", query.chars().count())
            }
            RecordWork::BreakGlass {
                patient,
                reason,
                password,
            } => f
                .debug_struct("BreakGlass")
                .field("patient", patient)
                .field("reason_chars", &reason.chars().count())
                .field("password", password)
                .finish(),
        }
    }
}

impl fmt::Debug for GrantResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrantResult::Page(r) => shape(f, "Page", r, |p| {
                format!("{} grants, next {:?}", p.grants.len(), p.next)
            }),
            GrantResult::People(r) => shape(f, "People", r, |p| format!("{} people", p.len())),
            GrantResult::Records(r) => shape(f, "Records", r, |p| format!("{} records", p.len())),
            GrantResult::Changed(r) => shape(f, "Changed", r, |g| format!("{g:?}")),
        }
    }
}

impl fmt::Debug for GrantWork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrantWork::List { filter, after } => f
                .debug_struct("List")
                .field("status", &filter.status)
                .field("expiring_within", &filter.expiring_within)
                .field(
                    "name_words",
                    &(filter.words.len() + filter.patient_words.len() + filter.grantee_words.len()),
                )
                .field("after", after)
                .finish(),
            GrantWork::FindPeople { wanted, query } => {
                write!(f, "FindPeople({wanted:?}, {} chars)", query.chars().count())
            }
            GrantWork::PatientRecords(patient) => write!(f, "PatientRecords({patient})"),
            GrantWork::Create(new) => write!(f, "Create({new:?})"),
            GrantWork::ChangeExpiry {
                grant,
                expected,
                expires_at,
            } => f
                .debug_struct("ChangeExpiry")
                .field("grant", grant)
                .field("expected", expected)
                .field("expires_at", expires_at)
                .finish(),
            GrantWork::Revoke { grant, reason } => f
                .debug_struct("Revoke")
                .field("grant", grant)
                .field("reason_chars", &reason.chars().count())
                .finish(),
        }
    }
}

impl fmt::Debug for SaveRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let content = &self.draft.content;
        f.debug_struct("SaveRequest")
            .field("change_id", &self.change_id)
            .field("target", &self.target)
            .field("record_type", &self.draft.record_type)
            .field("title_chars", &content.title.chars().count())
            .field("description_bytes", &content.description.len())
            .field("metadata_entries", &content.metadata.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SaveTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaveTarget::New { patient } => f.debug_struct("New").field("patient", patient).finish(),
            SaveTarget::Existing {
                record,
                base_version,
                reason,
            } => f
                .debug_struct("Existing")
                .field("record", record)
                .field("base_version", base_version)
                .field("reason_chars", &reason.chars().count())
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::services::records::{Content, RecordType};

    #[test]
    fn debug_shows_ids_and_lengths_never_content_or_passwords() {
        let request = SaveRequest {
            change_id: Uuid::from_u128(5),
            target: SaveTarget::Existing {
                record: Uuid::from_u128(7),
                base_version: 3,
                reason: "Corrected the HIV status".into(),
            },
            draft: Draft {
                record_type: RecordType::Diagnosis,
                record_date: NaiveDate::from_ymd_opt(2024, 2, 1).unwrap(),
                content: Content {
                    title: "Mallory's diagnosis".into(),
                    description: "Positive; started on treatment.".into(),
                    metadata: vec![("viralLoad".into(), "40 copies/ml".into())],
                },
            },
        };
        let work = [
            RecordWork::Save(Arc::new(request)),
            RecordWork::BreakGlass {
                patient: Uuid::from_u128(9),
                reason: "Unconscious, allergies unknown".into(),
                password: Secret::new("S3cret-Pass!".into()),
            },
            RecordWork::FindPatients("Mallory".into()),
        ];
        let printed = format!("{work:?}");
        for secret in [
            "HIV",
            "Mallory",
            "Positive",
            "viralLoad",
            "40 copies",
            "allergies",
            "S3cret-Pass!",
        ] {
            assert!(!printed.contains(secret), "{secret:?} in {printed}");
        }
        assert!(
            printed.contains(&Uuid::from_u128(7).to_string()),
            "{printed}"
        );
        assert!(printed.contains("reason_chars: 24"), "{printed}");

        let msg = Msg::Paste("Mallory's history".into());
        assert_eq!(format!("{msg:?}"), "Paste(17 bytes)");
        let key = Msg::Key(KeyEvent::from(KeyCode::Char('S')));
        assert!(!format!("{key:?}").contains('S'), "{key:?}");
    }
}
