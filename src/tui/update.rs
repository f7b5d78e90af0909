//! `update`: the one place the console's state changes. Pure: no I/O, no clock but `now`, no await.
//! It returns the effects the runner should start.

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::keymap::Command;
use super::msg::{Effect, Leave, Msg};
use super::screens::enroll::{self, Enroll, EnrollFor};
use super::screens::lock::{self, LockScreen};
use super::screens::password::{self, PasswordChange};
use super::screens::{Screen, account, code, login};
use super::state::{LEAVE_GRACE, Note, SESSION_CHECK, State, TOUCH_EVERY};

mod results;
mod tabs;
use results::on_done;
use tabs::{
    show_admin, show_audit, show_grants, show_records, with_admin, with_audit, with_grants,
    with_records,
};

/// Handles one message at time `now`.
pub fn update(state: &mut State, msg: Msg, now: Instant) -> Vec<Effect> {
    state.now = now;
    match msg {
        Msg::Key(key) => {
            state.dirty = true;
            on_key(state, key)
        }
        Msg::Paste(text) => {
            state.dirty = true;
            if let Some(live) = &mut state.live {
                live.last_input = now;
            }
            on_paste(state, &text)
        }
        Msg::Resize(w, h) => {
            state.size = (w, h);
            state.dirty = true;
            Vec::new()
        }
        Msg::Tick => on_tick(state),
        Msg::Leave(why) => leave(state, why),
        Msg::Done(ticket, outcome) => {
            state.dirty = true;
            on_done(state, ticket, outcome)
        }
    }
}

fn on_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        return leave(state, Leave::CtrlC);
    }
    if state.leaving.is_some() || state.too_small() {
        return Vec::new();
    }
    if let Some(live) = &mut state.live {
        live.last_input = state.now;
    }
    let typing = state.lock.is_some() || state.typing();
    let plain_char = matches!(key.code, KeyCode::Char(_))
        && !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    // In a text field a plain character is text, whatever it is bound to. A key bound to two
    // commands means the one the screen on show answers to.
    let command = if typing && plain_char {
        None
    } else {
        let mut wanted = state.commands().to_vec();
        wanted.extend([
            Command::Help,
            Command::Lock,
            Command::TabAccount,
            Command::TabRecords,
            Command::TabGrants,
            Command::TabAudit,
            Command::TabAdmin,
        ]);
        state.settings.keymap.command_among(&key, &wanted)
    };

    if state.help {
        if matches!(command, Some(Command::Help | Command::Back | Command::Quit)) {
            state.help = false;
        }
        return Vec::new();
    }
    if command == Some(Command::Help) {
        state.help = true;
        return Vec::new();
    }
    if state.lock.is_some() {
        return lock_key(state, key, command);
    }
    if command == Some(Command::Lock) && state.live.is_some() {
        return lock_now(state);
    }
    if let Some(yes) = state.quit_ask {
        return quit_ask_key(state, key, command, yes);
    }
    // The digits switch between the tabs of a signed-in session (not from a text field, and not
    // while a temporary password waits to be acknowledged or the session's own password is due).
    let on_a_tab = matches!(
        state.screen,
        Screen::Account(_) | Screen::Records | Screen::Grants | Screen::Audit | Screen::Admin
    ) && !state.holds_secret()
        && !state.password_due();
    if on_a_tab && !typing {
        match command {
            Some(Command::TabAccount) if !matches!(state.screen, Screen::Account(_)) => {
                return show_account(state);
            }
            Some(Command::TabRecords) if !matches!(state.screen, Screen::Records) => {
                return show_records(state);
            }
            Some(Command::TabGrants) if !matches!(state.screen, Screen::Grants) => {
                return show_grants(state);
            }
            Some(Command::TabAudit) if !matches!(state.screen, Screen::Audit) => {
                return show_audit(state);
            }
            Some(Command::TabAdmin) if !matches!(state.screen, Screen::Admin) => {
                return show_admin(state);
            }
            _ => {}
        }
    }
    screen_key(state, key, command)
}

fn on_paste(state: &mut State, text: &str) -> Vec<Effect> {
    if let Some(lock) = &mut state.lock {
        lock.paste(text);
        return Vec::new();
    }
    match &mut state.screen {
        Screen::Login(s) => s.paste(text),
        Screen::Code(s) => s.paste(text),
        Screen::Enroll(s) => s.paste(text),
        Screen::Account(s) => s.paste(text),
        Screen::Password(s) => s.paste(text),
        Screen::BackupCodes(_) => {}
        Screen::Records => return with_records(state, |tab, cx| tab.paste(text, cx)),
        Screen::Grants => return with_grants(state, |tab, cx| tab.paste(text, cx)),
        Screen::Audit => return with_audit(state, |tab, cx| tab.paste(text, cx)),
        Screen::Admin => return with_admin(state, |tab, cx| tab.paste(text, cx)),
    }
    Vec::new()
}

fn screen_key(state: &mut State, key: KeyEvent, command: Option<Command>) -> Vec<Effect> {
    if matches!(state.screen, Screen::Records) {
        return with_records(state, |tab, cx| tab.key(key, command, cx));
    }
    if matches!(state.screen, Screen::Grants) {
        return with_grants(state, |tab, cx| tab.key(key, command, cx));
    }
    if matches!(state.screen, Screen::Audit) {
        return with_audit(state, |tab, cx| tab.key(key, command, cx));
    }
    if matches!(state.screen, Screen::Admin) {
        return with_admin(state, |tab, cx| tab.key(key, command, cx));
    }
    let ticket = state.ticket();
    match &mut state.screen {
        Screen::Records | Screen::Grants | Screen::Audit | Screen::Admin => Vec::new(),
        Screen::Password(s) => match s.key(key, command) {
            password::Intent::Nothing => Vec::new(),
            password::Intent::Leave if s.forced => quit(state),
            password::Intent::Leave => show_account(state),
            password::Intent::Change { current, new } => match &state.live {
                Some(live) => {
                    s.waiting = Some(ticket);
                    vec![Effect::ChangePassword {
                        ticket,
                        session: live.session.clone(),
                        current,
                        new,
                    }]
                }
                None => Vec::new(),
            },
        },
        Screen::Login(s) => match s.key(key, command) {
            login::Intent::Nothing => Vec::new(),
            login::Intent::SignIn { email, password } => {
                s.waiting = Some(ticket);
                vec![Effect::Login {
                    ticket,
                    email,
                    password,
                }]
            }
        },
        Screen::Code(s) => match s.key(key, command) {
            code::Intent::Nothing => Vec::new(),
            code::Intent::Cancel => {
                state.to_login(None);
                Vec::new()
            }
            code::Intent::Submit(code) => {
                s.waiting = Some(ticket);
                vec![Effect::SubmitCode {
                    ticket,
                    pending: s.pending.clone(),
                    code,
                }]
            }
        },
        Screen::Enroll(s) => {
            match s.key(key, command) {
                enroll::Intent::Nothing => Vec::new(),
                enroll::Intent::Cancel => {
                    if matches!(s.purpose, EnrollFor::Login(_)) {
                        state.to_login(Some(Note::Info("Sign-in cancelled: this account cannot be used without an authenticator.".into())));
                        Vec::new()
                    } else {
                        show_account(state)
                    }
                }
                enroll::Intent::Confirm(code) => {
                    let Some(ready) = &s.ready else {
                        return Vec::new();
                    };
                    let enrollment = ready.enrollment.clone();
                    s.waiting = Some(ticket);
                    match &s.purpose {
                        EnrollFor::Login(pending) => {
                            vec![Effect::CompleteEnrollment {
                                ticket,
                                pending: pending.clone(),
                                enrollment,
                                code,
                            }]
                        }
                        EnrollFor::Account {
                            password,
                            current_code,
                        } => match &state.live {
                            Some(live) => vec![Effect::AddDevice {
                                ticket,
                                session: live.session.clone(),
                                enrollment,
                                code,
                                password: password.clone(),
                                current_code: current_code.clone(),
                            }],
                            None => Vec::new(),
                        },
                    }
                }
            }
        }
        Screen::BackupCodes(s) => {
            if s.key(command) {
                show_account(state)
            } else {
                Vec::new()
            }
        }
        Screen::Account(s) => {
            let Some(live) = &state.live else {
                return Vec::new();
            };
            let session = live.session.clone();
            match s.key(key, command) {
                account::Intent::Nothing => Vec::new(),
                account::Intent::Quit => quit(state),
                account::Intent::ChangePassword => {
                    state.screen = Screen::Password(PasswordChange::new(false));
                    Vec::new()
                }
                account::Intent::Reload => {
                    s.waiting = Some(ticket);
                    vec![Effect::LoadDevices { ticket, session }]
                }
                account::Intent::AddDevice {
                    password,
                    current_code,
                } => {
                    let role = session.user.role.label();
                    let purpose = EnrollFor::Account {
                        password,
                        current_code,
                    };
                    state.screen = Screen::Enroll(Enroll::new(purpose, ticket, role));
                    vec![Effect::PrepareEnrollment {
                        ticket,
                        account: session.user.email.clone(),
                    }]
                }
                account::Intent::Rename { device, name } => {
                    s.waiting = Some(ticket);
                    vec![Effect::RenameDevice {
                        ticket,
                        session,
                        device,
                        name,
                    }]
                }
                account::Intent::Remove {
                    device,
                    password,
                    code,
                } => {
                    s.waiting = Some(ticket);
                    vec![Effect::RemoveDevice {
                        ticket,
                        session,
                        device,
                        password,
                        code,
                    }]
                }
            }
        }
    }
}

fn lock_key(state: &mut State, key: KeyEvent, command: Option<Command>) -> Vec<Effect> {
    let ticket = state.ticket();
    let (Some(lock), Some(live)) = (&mut state.lock, &state.live) else {
        return Vec::new();
    };
    match lock.key(key, command) {
        lock::Intent::Nothing => Vec::new(),
        lock::Intent::Unlock(password) => {
            lock.waiting = Some(ticket);
            vec![Effect::Unlock {
                ticket,
                session: live.session.clone(),
                password,
            }]
        }
    }
}

/// Hides everything behind the lock screen and records it (SESSION_LOCKED).
pub(super) fn lock_now(state: &mut State) -> Vec<Effect> {
    let Some(live) = &state.live else {
        return Vec::new();
    };
    let session = live.session.clone();
    if let Some(admin) = &mut state.admin {
        admin.drop_secret();
    }
    state.lock = Some(LockScreen::new(state.settings.idle_lock.as_secs() / 60));
    state.help = false;
    state.dirty = true;
    let ticket = state.ticket();
    vec![Effect::RecordLock { ticket, session }]
}

pub(super) fn show_account(state: &mut State) -> Vec<Effect> {
    let Some(live) = &state.live else {
        state.to_login(None);
        return Vec::new();
    };
    // A password set by someone else is replaced before anything else is shown.
    if live.session.password_change_required {
        state.screen = Screen::Password(PasswordChange::new(true));
        return Vec::new();
    }
    let session = live.session.clone();
    let ticket = state.ticket();
    let mut account = account::Account::new();
    account.waiting = Some(ticket);
    state.screen = Screen::Account(account);
    vec![Effect::LoadDevices { ticket, session }]
}

/// `q`: logs out and leaves, after asking first when a record draft would be lost.
pub(super) fn quit(state: &mut State) -> Vec<Effect> {
    if state.unsaved_draft() {
        state.quit_ask = Some(false);
        state.help = false;
        return Vec::new();
    }
    leave(state, Leave::Logout)
}

/// The logout question: Enter on its default (No) keeps the draft, as Esc does.
fn quit_ask_key(
    state: &mut State,
    key: KeyEvent,
    command: Option<Command>,
    yes: bool,
) -> Vec<Effect> {
    let toggle = matches!(
        command,
        Some(Command::NextField | Command::PrevField | Command::Up | Command::Down)
    ) || matches!(key.code, KeyCode::Left | KeyCode::Right);
    if toggle {
        state.quit_ask = Some(!yes);
    } else if command == Some(Command::Submit) {
        state.quit_ask = None;
        if yes {
            return leave(state, Leave::Logout);
        }
    } else if command == Some(Command::Back) {
        state.quit_ask = None;
    }
    Vec::new()
}

/// Ends the session (if any) and leaves once the database has recorded it, or after a grace period.
fn leave(state: &mut State, why: Leave) -> Vec<Effect> {
    if state.leaving.is_some() {
        return Vec::new();
    }
    state.leaving = Some((why, state.now));
    state.dirty = true;
    if state.live.is_some() {
        end_live(state, why.reason())
    } else if signing_in(state) {
        // A sign-in under way may still start a session: wait for it (at most the grace period).
        Vec::new()
    } else {
        vec![Effect::Exit]
    }
}

/// Asks the database to end the live session, if there is one.
pub(super) fn end_live(state: &mut State, reason: &'static str) -> Vec<Effect> {
    let Some(session) = state.live.as_ref().map(|l| l.session.clone()) else {
        return Vec::new();
    };
    let ticket = state.ticket();
    vec![Effect::EndSession {
        ticket,
        session,
        reason,
    }]
}

fn signing_in(state: &State) -> bool {
    match &state.screen {
        Screen::Login(s) => s.waiting.is_some(),
        Screen::Code(s) => s.waiting.is_some(),
        Screen::Enroll(s) => s.waiting.is_some() && s.ready.is_some(),
        _ => false,
    }
}

fn on_tick(state: &mut State) -> Vec<Effect> {
    state.ticks += 1;
    let now = state.now;
    if let Some((_, since)) = state.leaving {
        return if now.saturating_duration_since(since) >= LEAVE_GRACE {
            vec![Effect::Exit]
        } else {
            Vec::new()
        };
    }
    // Redraw for the spinner while waiting, and once a second for the idle countdown.
    if waiting(state) || state.ticks.is_multiple_of(4) {
        state.dirty = true;
    }
    if state.live.is_none() {
        return Vec::new();
    }
    let mut effects = session_chores(state);
    // A save waiting out an outage is retried even while the tab or the lock hides it.
    effects.extend(with_records(state, |tab, cx| tab.tick(cx)));
    effects.extend(with_grants(state, |tab, cx| tab.tick(cx)));
    effects.extend(with_admin(state, |tab, cx| tab.tick(cx)));
    // The live tail follows only while the Audit tab is on show and unlocked.
    if matches!(state.screen, Screen::Audit) && state.lock.is_none() {
        effects.extend(with_audit(state, |tab, cx| tab.tick(cx)));
    }
    if state.lock.is_none() && state.idle_left().is_some_and(|left| left.is_zero()) {
        effects.extend(lock_now(state));
    }
    effects
}

/// The periodic database work of a live session: the revocation check and the activity stamp.
fn session_chores(state: &mut State) -> Vec<Effect> {
    let now = state.now;
    let mut effects = Vec::new();
    let due_check = state.live.as_ref().is_some_and(|l| {
        l.check_waiting.is_none() && now.saturating_duration_since(l.last_check) >= SESSION_CHECK
    });
    if due_check {
        let ticket = state.ticket();
        if let Some(live) = &mut state.live {
            live.last_check = now;
            live.check_waiting = Some(ticket);
            effects.push(Effect::CheckSession {
                ticket,
                session: live.session.clone(),
            });
        }
    }
    let due_touch = state.live.as_ref().is_some_and(|l| {
        now.saturating_duration_since(l.last_touch) >= TOUCH_EVERY && l.last_input > l.last_touch
    });
    if due_touch {
        let ticket = state.ticket();
        if let Some(live) = &mut state.live {
            live.last_touch = now;
            effects.push(Effect::Touch {
                ticket,
                session: live.session.clone(),
            });
        }
    }
    effects
}

fn waiting(state: &State) -> bool {
    if let Some(lock) = &state.lock {
        return lock.waiting.is_some();
    }
    match &state.screen {
        Screen::Login(s) => s.waiting.is_some(),
        Screen::Code(s) => s.waiting.is_some(),
        Screen::Enroll(s) => s.waiting.is_some(),
        Screen::Account(s) => s.waiting.is_some() || !s.loaded,
        Screen::BackupCodes(_) => false,
        Screen::Records => state.records.as_ref().is_some_and(|t| t.busy()),
        Screen::Grants => state.grants.as_ref().is_some_and(|t| t.busy()),
        Screen::Audit => state.audit.as_ref().is_some_and(|t| t.busy()),
        Screen::Admin => state.admin.as_ref().is_some_and(|t| t.busy()),
        Screen::Password(s) => s.waiting.is_some(),
    }
}
