//! Messages into `update`, and the effects it asks for.

use std::sync::Arc;

use crossterm::event::KeyEvent;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::services::ServiceError;
use crate::services::auth::{AuthError, LoginStep, PendingLogin};
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

/// Everything that can happen to the console.
#[derive(Debug)]
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
}

/// What medical-records work came back with.
#[derive(Debug)]
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

/// Medical-records work for the runner.
#[derive(Debug)]
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
        password: Zeroizing<String>,
    },
}

/// One save of the editor: retried unchanged (same change id) while the database is away.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveRequest {
    pub change_id: Uuid,
    pub target: SaveTarget,
    pub draft: Draft,
}

#[derive(Debug, Clone, PartialEq)]
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
        password: Zeroizing<String>,
    },
    SubmitCode {
        ticket: Ticket,
        pending: PendingLogin,
        code: Zeroizing<String>,
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
        code: Zeroizing<String>,
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
        password: Zeroizing<String>,
    },
    LoadDevices {
        ticket: Ticket,
        session: Session,
    },
    AddDevice {
        ticket: Ticket,
        session: Session,
        enrollment: Arc<Enrollment>,
        code: Zeroizing<String>,
        password: Zeroizing<String>,
        current_code: Option<Zeroizing<String>>,
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
        password: Zeroizing<String>,
        code: Zeroizing<String>,
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
    /// Leave the loop and restore the terminal.
    Exit,
}
