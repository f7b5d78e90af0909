//! The Admin tab's work and results. `Debug` shows ids, roles, counts and which parts of a filter are
//! set — never a name, an email, a word typed into a filter, or a temporary password.

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::services::ServiceError;
use crate::services::admin::{
    AdminUser, Cursor, LiveSession, NewAccount, SessionFilter, TemporaryPassword, UserFilter,
};
use crate::services::users::Role;

/// Administrative work for the runner.
pub enum AdminWork {
    /// A page of users, newest first, after `after`.
    Users {
        filter: UserFilter,
        after: Option<Cursor>,
    },
    /// A page of live sessions, newest first, after `after`.
    Sessions {
        filter: SessionFilter,
        after: Option<Cursor>,
    },
    Create(NewAccount),
    SetActive {
        user: Uuid,
        active: bool,
    },
    ChangeRole {
        user: Uuid,
        role: Role,
    },
    ResetPassword {
        user: Uuid,
    },
    Unlock {
        user: Uuid,
    },
    ResetMfa {
        user: Uuid,
    },
    EndSession {
        session: Uuid,
    },
    EndSessionsOf {
        user: Uuid,
    },
}

/// A page of a list, and when the runner read it (a lock is judged against that moment, so
/// `update` never reads the clock).
pub struct ListPage<T> {
    pub rows: Vec<T>,
    pub next: Option<Cursor>,
    pub read_at: DateTime<Utc>,
}

/// What an action on a user or a session came back with.
pub enum Acted {
    /// Done, nothing to count.
    Done,
    /// Sessions ended (deactivate, end all) or authenticator devices removed (MFA reset).
    Count(u64),
    /// A temporary password to hand over, once.
    Password(TemporaryPassword),
    /// A new account and its temporary password.
    Created(Uuid, TemporaryPassword),
}

/// What administrative work came back with.
pub enum AdminResult {
    Users(Result<ListPage<AdminUser>, ServiceError>),
    Sessions(Result<ListPage<LiveSession>, ServiceError>),
    Acted(Result<Acted, ServiceError>),
}

impl AdminResult {
    /// The error it carries, if it failed.
    pub fn error(&self) -> Option<&ServiceError> {
        match self {
            AdminResult::Users(r) => r.as_ref().err(),
            AdminResult::Sessions(r) => r.as_ref().err(),
            AdminResult::Acted(r) => r.as_ref().err(),
        }
    }
}

impl fmt::Debug for AdminWork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminWork::Users { filter, after } => f
                .debug_struct("Users")
                .field("words", &filter.words.len())
                .field("role", &filter.role)
                .field("state", &filter.state)
                .field("after", after)
                .finish(),
            AdminWork::Sessions { filter, after } => f
                .debug_struct("Sessions")
                .field("user", &filter.user)
                .field("words", &filter.words.len())
                .field("after", after)
                .finish(),
            AdminWork::Create(new) => f
                .debug_struct("Create")
                .field("role", &new.role)
                .finish_non_exhaustive(),
            AdminWork::SetActive { user, active } => f
                .debug_struct("SetActive")
                .field("user", user)
                .field("active", active)
                .finish(),
            AdminWork::ChangeRole { user, role } => f
                .debug_struct("ChangeRole")
                .field("user", user)
                .field("role", role)
                .finish(),
            AdminWork::ResetPassword { user } => write!(f, "ResetPassword({user})"),
            AdminWork::Unlock { user } => write!(f, "Unlock({user})"),
            AdminWork::ResetMfa { user } => write!(f, "ResetMfa({user})"),
            AdminWork::EndSession { session } => write!(f, "EndSession({session})"),
            AdminWork::EndSessionsOf { user } => write!(f, "EndSessionsOf({user})"),
        }
    }
}

impl fmt::Debug for AdminResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn err(f: &mut fmt::Formatter<'_>, name: &str, e: &ServiceError) -> fmt::Result {
            if e.is_unavailable() {
                write!(f, "{name}(Err(unavailable))")
            } else {
                write!(f, "{name}(Err(..))")
            }
        }
        match self {
            AdminResult::Users(Ok(p)) => {
                write!(f, "Users({} rows, next {:?})", p.rows.len(), p.next)
            }
            AdminResult::Sessions(Ok(p)) => {
                write!(f, "Sessions({} rows, next {:?})", p.rows.len(), p.next)
            }
            AdminResult::Acted(Ok(acted)) => match acted {
                Acted::Done => f.write_str("Acted(Done)"),
                Acted::Count(n) => write!(f, "Acted(Count({n}))"),
                Acted::Password(_) => f.write_str("Acted(Password(hidden))"),
                Acted::Created(id, _) => write!(f, "Acted(Created({id}, hidden))"),
            },
            AdminResult::Users(Err(e)) => err(f, "Users", e),
            AdminResult::Sessions(Err(e)) => err(f, "Sessions", e),
            AdminResult::Acted(Err(e)) => err(f, "Acted", e),
        }
    }
}
