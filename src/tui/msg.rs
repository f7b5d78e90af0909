//! Messages into `update`, and the effects it asks for.

use std::sync::Arc;

use crossterm::event::KeyEvent;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::services::ServiceError;
use crate::services::auth::{AuthError, LoginStep, PendingLogin};
use crate::services::mfa::{BackupCodes, Device, Enrollment};
use crate::services::sessions::{Session, SessionState};

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
    /// Leave the loop and restore the terminal.
    Exit,
}
