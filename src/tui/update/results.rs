//! How the results of database work change the console: each is matched to the ticket it was
//! started with; anything no longer awaited is dropped.

use super::tabs::{admin_done, audit_done, grants_done, land, records_done};
use super::{end_live, lock, show_account};
use crate::db::DbError;
use crate::services::ServiceError;
use crate::services::auth::{AuthError, LoginStep};
use crate::services::sessions::SessionState;
use crate::tui::msg::{Effect, Outcome, Ticket};
use crate::tui::screens::enroll::{Enroll, EnrollFor, Ready};
use crate::tui::screens::{Screen, backup::Backup, code};
use crate::tui::state::{Note, State};

/// A database that does not answer is said so, in words, and the work can be tried again.
fn trouble(state: &mut State, e: &ServiceError) -> Note {
    let text = match e {
        ServiceError::Database(
            DbError::Connect { .. } | DbError::Query(_) | DbError::Unavailable(_),
        ) => {
            state.db_trouble = Some("database not answering".into());
            format!("The database did not answer ({e}). Nothing was changed; try again.")
        }
        other => other.to_string(),
    };
    Note::Error(text)
}

fn auth_note(state: &mut State, e: &AuthError) -> Note {
    match e {
        AuthError::Service(s) => trouble(state, s),
        other => Note::Error(other.to_string()),
    }
}

fn answered(state: &mut State) {
    state.db_trouble = None;
}

pub(super) fn on_done(state: &mut State, ticket: Ticket, outcome: Outcome) -> Vec<Effect> {
    if ended_elsewhere(&outcome) && state.live.is_some() && state.leaving.is_none() {
        state.to_login(Some(Note::Info(
            "Your session has ended. Sign in again to continue.".into(),
        )));
        return Vec::new();
    }
    match outcome {
        Outcome::SessionEnded => {
            return if state.leaving.is_some() {
                vec![Effect::Exit]
            } else {
                Vec::new()
            };
        }
        Outcome::SessionState(result) => return session_state(state, ticket, result),
        Outcome::Recorded(result) => {
            match result {
                Ok(()) => answered(state),
                Err(e) => {
                    trouble(state, &e);
                }
            }
            return Vec::new();
        }
        Outcome::Unlocked(result) => return unlocked(state, ticket, result),
        _ => {}
    }
    if state.leaving.is_some() {
        // With a session, its EndSession is under way and SessionEnded will close the console.
        // Without one, a sign-in that finished after all must not leave a session behind.
        if state.live.is_some() {
            return Vec::new();
        }
        let end = abandoned(state, outcome);
        return if end.is_empty() {
            vec![Effect::Exit]
        } else {
            end
        };
    }
    // Records results go to the tab, on show or not: a draft's save lands even from the Account tab.
    let outcome = match outcome {
        Outcome::Records(result) => return records_done(state, ticket, *result),
        Outcome::Grants(result) => return grants_done(state, ticket, *result),
        Outcome::Audit(result) => return audit_done(state, ticket, *result),
        Outcome::Admin(result) => return admin_done(state, ticket, *result),
        other => other,
    };
    match (&mut state.screen, outcome) {
        (Screen::Login(s), Outcome::Login(result)) if s.waiting == Some(ticket) => {
            s.waiting = None;
            match result {
                Ok(LoginStep::LoggedIn(session)) => {
                    answered(state);
                    state.logged_in(session);
                    land(state)
                }
                Ok(LoginStep::NeedsCode(pending)) => {
                    answered(state);
                    state.screen = Screen::Code(code::Code::new(pending));
                    Vec::new()
                }
                Ok(LoginStep::NeedsEnrollment(pending)) => {
                    answered(state);
                    let role = pending.user.role.label();
                    let account = pending.user.email.clone();
                    let prepare = state.ticket();
                    state.screen =
                        Screen::Enroll(Enroll::new(EnrollFor::Login(pending), prepare, role));
                    vec![Effect::PrepareEnrollment {
                        ticket: prepare,
                        account,
                    }]
                }
                Err(e) => {
                    let note = auth_note(state, &e);
                    if let Screen::Login(s) = &mut state.screen {
                        s.note = Some(note);
                        s.focus = 1;
                    }
                    Vec::new()
                }
            }
        }
        (Screen::Enroll(s), Outcome::EnrollmentReady(result)) if s.waiting == Some(ticket) => {
            s.waiting = None;
            match result.map_err(|e| e.to_string()).and_then(Ready::new) {
                Ok(ready) => s.ready = Some(ready),
                Err(e) => s.note = Some(Note::Error(e)),
            }
            Vec::new()
        }
        (Screen::Code(s), Outcome::Code(result)) if s.waiting == Some(ticket) => {
            s.waiting = None;
            match result {
                Ok(session) => {
                    answered(state);
                    state.logged_in(session);
                    land(state)
                }
                Err(AuthError::WrongCode) => {
                    s.note = Some(Note::Error(AuthError::WrongCode.to_string()));
                    Vec::new()
                }
                Err(e @ (AuthError::Refused | AuthError::TimedOut)) => {
                    state.to_login(Some(Note::Error(e.to_string())));
                    Vec::new()
                }
                Err(e) => {
                    let note = auth_note(state, &e);
                    state.show_note(note);
                    Vec::new()
                }
            }
        }
        (Screen::Enroll(s), Outcome::Enrolled(result)) if s.waiting == Some(ticket) => {
            s.waiting = None;
            match result {
                Ok((session, codes)) => {
                    answered(state);
                    state.logged_in(session);
                    state.screen = Screen::BackupCodes(Backup { codes: codes.0 });
                    Vec::new()
                }
                Err(AuthError::WrongCode) => {
                    s.note = Some(Note::Error(AuthError::WrongCode.to_string()));
                    Vec::new()
                }
                Err(
                    e @ (AuthError::Refused | AuthError::TimedOut | AuthError::AlreadyEnrolled),
                ) => {
                    state.to_login(Some(Note::Error(e.to_string())));
                    Vec::new()
                }
                Err(e) => {
                    let note = auth_note(state, &e);
                    state.show_note(note);
                    Vec::new()
                }
            }
        }
        (Screen::Enroll(s), Outcome::DeviceAdded(result)) if s.waiting == Some(ticket) => {
            s.waiting = None;
            match result {
                Ok(Some(codes)) => {
                    answered(state);
                    state.screen = Screen::BackupCodes(Backup { codes: codes.0 });
                    Vec::new()
                }
                Ok(None) => {
                    answered(state);
                    show_account(state)
                }
                Err(e) => {
                    let note = trouble(state, &e);
                    state.show_note(note);
                    Vec::new()
                }
            }
        }
        (Screen::Account(s), Outcome::Devices(result)) if s.waiting == Some(ticket) => {
            s.waiting = None;
            match result {
                Ok((devices, left)) => {
                    s.devices = devices;
                    s.backup_left = left;
                    s.loaded = true;
                    s.selected = s.selected.min(s.devices.len().saturating_sub(1));
                    answered(state);
                }
                Err(e) => {
                    let note = trouble(state, &e);
                    state.show_note(note);
                }
            }
            Vec::new()
        }
        (Screen::Account(s), Outcome::DeviceChanged(result)) if s.waiting == Some(ticket) => {
            s.waiting = None;
            match result {
                Ok(()) => {
                    answered(state);
                    let effects = show_account(state);
                    state.show_note(Note::Info("Saved.".into()));
                    effects
                }
                Err(e) => {
                    let note = trouble(state, &e);
                    state.show_note(note);
                    Vec::new()
                }
            }
        }
        (Screen::Password(s), Outcome::PasswordChanged(result)) if s.waiting == Some(ticket) => {
            s.waiting = None;
            match result {
                Ok(()) => {
                    let forced = s.forced;
                    answered(state);
                    if let Some(live) = &mut state.live {
                        live.session.password_change_required = false;
                    }
                    let effects = if forced {
                        land(state)
                    } else {
                        show_account(state)
                    };
                    state.show_note(Note::Info("Password changed.".into()));
                    effects
                }
                Err(e) => {
                    let note = trouble(state, &e);
                    if let Screen::Password(s) = &mut state.screen {
                        s.refused(note);
                    }
                    Vec::new()
                }
            }
        }
        // A result nobody waits for any more (the person moved on): dropped, but a session it
        // started is ended rather than left open for twelve hours.
        (_, outcome) => abandoned(state, outcome),
    }
}

/// True when a session-bound service refused because the session is over.
fn ended_elsewhere(outcome: &Outcome) -> bool {
    let ended = |r: Option<&ServiceError>| matches!(r, Some(ServiceError::SessionEnded));
    match outcome {
        Outcome::Devices(r) => ended(r.as_ref().err()),
        Outcome::DeviceAdded(r) => ended(r.as_ref().err()),
        Outcome::DeviceChanged(r) | Outcome::Recorded(r) => ended(r.as_ref().err()),
        Outcome::Unlocked(r) => ended(r.as_ref().err()),
        Outcome::Records(r) => ended(r.error()),
        Outcome::Grants(r) => ended(r.error()),
        Outcome::Audit(r) => ended(r.error()),
        Outcome::Admin(r) => ended(r.error()),
        Outcome::PasswordChanged(r) => ended(r.as_ref().err()),
        _ => false,
    }
}

/// Ends the session a late sign-in result carries, if it carries one.
fn abandoned(state: &mut State, outcome: Outcome) -> Vec<Effect> {
    let session = match outcome {
        Outcome::Login(Ok(LoginStep::LoggedIn(s)))
        | Outcome::Code(Ok(s))
        | Outcome::Enrolled(Ok((s, _))) => s,
        _ => return Vec::new(),
    };
    let ticket = state.ticket();
    vec![Effect::EndSession {
        ticket,
        session,
        reason: "sign-in abandoned",
    }]
}

fn session_state(
    state: &mut State,
    ticket: Ticket,
    result: Result<SessionState, ServiceError>,
) -> Vec<Effect> {
    let Some(live) = &mut state.live else {
        return Vec::new();
    };
    if live.check_waiting != Some(ticket) {
        return Vec::new();
    }
    live.check_waiting = None;
    match result {
        Ok(SessionState::Active) => {
            answered(state);
            Vec::new()
        }
        Ok(SessionState::Revoked { reason }) => {
            state.dirty = true;
            state.to_login(Some(Note::Info(format!(
                "Your session was ended ({reason}). Sign in again to continue."
            ))));
            Vec::new()
        }
        Ok(SessionState::Expired) => {
            state.dirty = true;
            state.to_login(Some(Note::Info(
                "Your session reached its time limit. Sign in again to continue.".into(),
            )));
            Vec::new()
        }
        Err(e) => {
            // The database is away: keep the session, say so, and check again at the next interval.
            trouble(state, &e);
            state.dirty = true;
            Vec::new()
        }
    }
}

fn unlocked(state: &mut State, ticket: Ticket, result: Result<bool, ServiceError>) -> Vec<Effect> {
    let Some(lock) = &mut state.lock else {
        return Vec::new();
    };
    if lock.waiting != Some(ticket) {
        return Vec::new();
    }
    lock.waiting = None;
    match result {
        Ok(true) => {
            answered(state);
            state.lock = None;
            if let Some(live) = &mut state.live {
                live.last_input = state.now;
            }
            Vec::new()
        }
        Ok(false) => {
            lock.wrong += 1;
            if lock.wrong >= lock::MAX_TRIES {
                let effects = end_live(state, "wrong password at the lock screen");
                state.to_login(Some(Note::Error(
                    "Three wrong passwords at the lock screen: you have been logged out.".into(),
                )));
                effects
            } else {
                lock.note = Some(Note::Error("That password is not right.".into()));
                Vec::new()
            }
        }
        Err(e) => {
            let note = trouble(state, &e);
            if let Some(lock) = &mut state.lock {
                lock.note = Some(note);
            }
            Vec::new()
        }
    }
}
