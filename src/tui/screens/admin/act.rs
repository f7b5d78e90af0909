//! The actions an admin takes on a user or a session: what the confirm modal says will happen, the
//! request it sends on Yes, and the note once it has landed. Every sentence names the person by name
//! and email, so Yes is never said to the wrong row.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::handover::Handover;
use crate::services::admin::{AdminUser, LiveSession, NewAccount};
use crate::services::users::Role;
use crate::tui::msg::{Acted, AdminWork};

/// The person an action is about.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    /// Their live sessions, when the list says.
    pub sessions: Option<i64>,
}

impl Target {
    pub fn of_user(u: &AdminUser) -> Target {
        Target {
            id: u.id,
            name: u.display_name(),
            email: u.email.clone(),
            sessions: Some(u.active_sessions),
        }
    }

    pub fn of_session(s: &LiveSession) -> Target {
        Target {
            id: s.user_id,
            name: s.user_name.clone(),
            email: s.email.clone(),
            sessions: None,
        }
    }

    /// "Emily Williams (nurse.williams@healthystellar.com)".
    pub fn named(&self) -> String {
        format!("{} ({})", self.name, self.email)
    }

    /// What ending their sessions means, in a sentence.
    fn sessions_end(&self) -> String {
        match self.sessions {
            Some(0) => "They have no live session.".into(),
            Some(1) => "Their live session ends now.".into(),
            Some(n) => format!("Their {n} live sessions end now."),
            None => "Their live sessions end now.".into(),
        }
    }
}

/// A new account as the form has it (the service's `NewAccount` is made from it on Yes).
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
}

/// One action, waiting for Yes or on its way.
#[derive(Clone, PartialEq, Eq)]
pub enum Act {
    Create(Account),
    Deactivate(Target),
    Reactivate(Target),
    ChangeRole {
        who: Target,
        from: Role,
        to: Role,
    },
    ResetPassword(Target),
    Unlock {
        who: Target,
        until: Option<DateTime<Utc>>,
    },
    ResetMfa(Target),
    EndSession {
        session: Uuid,
        who: Target,
        source: String,
        started: DateTime<Utc>,
    },
    EndSessions(Target),
}

/// Names and emails stay out of `Debug`.
impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({})", self.id)
    }
}

/// Names and emails stay out of `Debug`: the action's kind and the ids only.
impl std::fmt::Debug for Act {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.work())
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

impl Act {
    /// The request Yes sends.
    pub fn work(&self) -> AdminWork {
        match self {
            Act::Create(a) => AdminWork::Create(NewAccount {
                email: a.email.clone(),
                first_name: a.first_name.clone(),
                last_name: a.last_name.clone(),
                role: a.role,
            }),
            Act::Deactivate(who) => AdminWork::SetActive {
                user: who.id,
                active: false,
            },
            Act::Reactivate(who) => AdminWork::SetActive {
                user: who.id,
                active: true,
            },
            Act::ChangeRole { who, to, .. } => AdminWork::ChangeRole {
                user: who.id,
                role: *to,
            },
            Act::ResetPassword(who) => AdminWork::ResetPassword { user: who.id },
            Act::Unlock { who, .. } => AdminWork::Unlock { user: who.id },
            Act::ResetMfa(who) => AdminWork::ResetMfa { user: who.id },
            Act::EndSession { session, .. } => AdminWork::EndSession { session: *session },
            Act::EndSessions(who) => AdminWork::EndSessionsOf { user: who.id },
        }
    }

    /// The modal's title and its Yes answer.
    pub fn title(&self) -> (&'static str, &'static str) {
        match self {
            Act::Create(_) => ("Create a user", "Yes, create"),
            Act::Deactivate(_) => ("Deactivate a user", "Yes, deactivate"),
            Act::Reactivate(_) => ("Reactivate a user", "Yes, reactivate"),
            Act::ChangeRole { .. } => ("Change a role", "Yes, change"),
            Act::ResetPassword(_) => ("Reset a password", "Yes, reset"),
            Act::Unlock { .. } => ("Unlock an account", "Yes, unlock"),
            Act::ResetMfa(_) => ("Reset two-factor", "Yes, reset"),
            Act::EndSession { .. } => ("End a session", "Yes, end it"),
            Act::EndSessions(_) => ("End sessions", "Yes, end them"),
        }
    }

    /// What the confirm modal says: the question naming the person, then what will happen.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Act::Create(a) => vec![
                format!(
                    "Create an account for {} {} ({}) as {}?",
                    a.first_name,
                    a.last_name,
                    a.email,
                    a.role.label()
                ),
                "A temporary password is made and shown once for you to hand over; they must change it at their first sign-in.".into(),
            ],
            Act::Deactivate(who) => vec![
                format!("Deactivate {}?", who.named()),
                format!("They can no longer sign in. {}", who.sessions_end()),
            ],
            Act::Reactivate(who) => vec![
                format!("Reactivate {}?", who.named()),
                "They may sign in again with their password.".into(),
            ],
            Act::ChangeRole { who, from, to } => vec![
                format!(
                    "Change the role of {} from {} to {}?",
                    who.named(),
                    from.label(),
                    to.label()
                ),
                match who.sessions {
                    Some(0) => "They see the new role's screens at their next sign-in.".into(),
                    _ => format!(
                        "{} They sign in again and see the new role's screens.",
                        who.sessions_end()
                    ),
                },
            ],
            Act::ResetPassword(who) => vec![
                format!("Reset the password of {}?", who.named()),
                format!(
                    "A temporary password is made and shown once for you to hand over; they must change it at their next sign-in. {}",
                    who.sessions_end()
                ),
            ],
            Act::Unlock { who, until } => vec![
                format!("Unlock {}?", who.named()),
                match until {
                    Some(t) => format!(
                        "Wrong passwords locked them out until {}; they may sign in again at once.",
                        when(*t)
                    ),
                    None => "They may sign in again at once.".into(),
                },
            ],
            Act::ResetMfa(who) => vec![
                format!("Reset two-factor authentication for {}?", who.named()),
                "Their authenticator devices and backup codes are removed; where their role requires two-factor, they set up a new authenticator at their next sign-in.".into(),
            ],
            Act::EndSession {
                who,
                source,
                started,
                ..
            } => vec![
                format!(
                    "End the session of {} from {source}, started {}?",
                    who.named(),
                    when(*started)
                ),
                "They are signed out within 30 seconds; a console open on it says so.".into(),
            ],
            Act::EndSessions(who) => vec![
                format!("End every live session of {}?", who.named()),
                "They are signed out within 30 seconds and may sign in again.".into(),
            ],
        }
    }

    /// The note once the action has landed, and the temporary password to hand over, if one came.
    pub fn landed(&self, acted: Acted) -> (String, Option<Handover>) {
        let plural = |n: u64, one: &str, many: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {many}")
            }
        };
        let count = match &acted {
            Acted::Count(n) => Some(*n),
            _ => None,
        };
        let note = match self {
            Act::Create(a) => format!(
                "Created {} {} ({}) as {}.",
                a.first_name,
                a.last_name,
                a.email,
                a.role.label()
            ),
            Act::Deactivate(who) => match count {
                Some(n) if n > 0 => format!(
                    "Deactivated {}; {} ended.",
                    who.name,
                    plural(n, "session", "sessions")
                ),
                _ => format!("Deactivated {}.", who.name),
            },
            Act::Reactivate(who) => format!("Reactivated {}; they may sign in again.", who.name),
            Act::ChangeRole { who, to, .. } => {
                format!("The role of {} is now {}.", who.name, to.label())
            }
            Act::ResetPassword(who) => format!(
                "Reset the password of {}; they must choose a new one at their next sign-in.",
                who.name
            ),
            Act::Unlock { who, .. } => format!("Unlocked {}.", who.name),
            Act::ResetMfa(who) => match count {
                Some(n) => format!(
                    "Reset two-factor authentication for {}: {} removed.",
                    who.name,
                    plural(n, "device", "devices")
                ),
                None => format!("Reset two-factor authentication for {}.", who.name),
            },
            Act::EndSession { who, .. } => format!("Ended a session of {}.", who.name),
            Act::EndSessions(who) => format!(
                "Ended {} of {}.",
                plural(count.unwrap_or(0), "session", "sessions"),
                who.name
            ),
        };
        let handover = match (self, acted) {
            (Act::Create(a), Acted::Created(_, password)) => Some(Handover::new(
                format!("{} {}", a.first_name, a.last_name),
                a.email.clone(),
                password,
            )),
            (Act::ResetPassword(who), Acted::Password(password)) => {
                Some(Handover::new(who.name.clone(), who.email.clone(), password))
            }
            _ => None,
        };
        (note, handover)
    }
}
