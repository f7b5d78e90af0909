//! The console's whole state. `update` changes it; views only read it.

use std::time::{Duration, Instant};

use crate::services::sessions::Session;
use crate::services::users::UserSummary;

use super::keymap::Keymap;
use super::msg::{Leave, Ticket};
use super::screens::{Screen, account::Account, lock::LockScreen, login::Login};
use super::theme::Theme;

/// The smallest terminal the console draws in.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
/// How often the database is asked whether the session still stands.
pub const SESSION_CHECK: Duration = Duration::from_secs(30);
/// `last_activity_at` is written at most this often.
pub const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// How long leaving waits for the session to be ended in the database.
pub const LEAVE_GRACE: Duration = Duration::from_secs(3);

/// A note under a form: what went wrong, or what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    Error(String),
    Info(String),
}

/// The logged-in session and its clocks.
#[derive(Debug, Clone)]
pub struct Live {
    pub session: Session,
    pub last_input: Instant,
    pub last_touch: Instant,
    pub last_check: Instant,
    pub check_waiting: Option<Ticket>,
}

impl Live {
    pub fn user(&self) -> &UserSummary {
        &self.session.user
    }
}

/// Settings the console starts with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub keymap: Keymap,
    pub theme: Theme,
    pub idle_lock: Duration,
}

#[derive(Debug)]
pub struct State {
    pub screen: Screen,
    pub live: Option<Live>,
    /// Set while the idle lock hides everything.
    pub lock: Option<LockScreen>,
    pub size: (u16, u16),
    pub help: bool,
    pub leaving: Option<(Leave, Instant)>,
    /// Set while the database does not answer; cleared when it does again.
    pub db_trouble: Option<String>,
    pub settings: Settings,
    /// The time of the message being handled; views read it instead of the clock.
    pub now: Instant,
    pub ticks: u64,
    pub dirty: bool,
    next_ticket: u64,
}

impl State {
    pub fn new(settings: Settings, size: (u16, u16), now: Instant) -> State {
        State {
            screen: Screen::Login(Login::new(None)),
            live: None,
            lock: None,
            size,
            help: false,
            leaving: None,
            db_trouble: None,
            settings,
            now,
            ticks: 0,
            dirty: true,
            next_ticket: 0,
        }
    }

    pub fn ticket(&mut self) -> Ticket {
        self.next_ticket += 1;
        Ticket(self.next_ticket)
    }

    pub fn too_small(&self) -> bool {
        self.size.0 < MIN_WIDTH || self.size.1 < MIN_HEIGHT
    }

    /// Time left before the idle lock, while logged in and unlocked.
    pub fn idle_left(&self) -> Option<Duration> {
        let live = self.live.as_ref()?;
        if self.lock.is_some() {
            return None;
        }
        Some(
            self.settings
                .idle_lock
                .saturating_sub(self.now.saturating_duration_since(live.last_input)),
        )
    }

    /// Puts `note` under the form on show (the lock screen keeps its own).
    pub fn show_note(&mut self, note: Note) {
        let slot = match &mut self.screen {
            Screen::Login(s) => &mut s.note,
            Screen::Code(s) => &mut s.note,
            Screen::Enroll(s) => &mut s.note,
            Screen::Account(s) => &mut s.note,
            Screen::BackupCodes(_) => return,
        };
        *slot = Some(note);
    }

    /// Back to the login screen, with a note; the session is forgotten.
    pub fn to_login(&mut self, note: Option<Note>) {
        self.live = None;
        self.lock = None;
        self.help = false;
        self.screen = Screen::Login(Login::new(note));
    }

    /// Logged in: start the session clocks and show the account screen.
    pub fn logged_in(&mut self, session: Session) -> Account {
        self.live = Some(Live {
            session,
            last_input: self.now,
            last_touch: self.now,
            last_check: self.now,
            check_waiting: None,
        });
        Account::new()
    }
}
