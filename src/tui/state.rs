//! The console's whole state. `update` changes it; views only read it.

use std::time::{Duration, Instant};

use chrono::NaiveDate;

use crate::services::sessions::Session;
use crate::services::users::UserSummary;

use super::keymap::{Command, Keymap};
use super::msg::{Leave, Ticket};
use super::screens::admin::AdminTab;
use super::screens::audit::AuditTab;
use super::screens::grants::GrantsTab;
use super::screens::records::RecordsTab;
use super::screens::{Screen, lock::LockScreen, login::Login};
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
/// Said on the login screen when a session ended with a record draft still open.
pub const DRAFT_DISCARDED: &str = "Your unsaved record draft was discarded.";
/// What the logout question answers to.
const ASKING: &[Command] = &[
    Command::NextField,
    Command::PrevField,
    Command::Up,
    Command::Down,
    Command::Submit,
    Command::Back,
];

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

/// Hands out tickets, each once.
#[derive(Debug, Default)]
pub struct Tickets(u64);

impl Tickets {
    pub fn issue(&mut self) -> Ticket {
        self.0 += 1;
        Ticket(self.0)
    }
}

/// Settings the console starts with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub keymap: Keymap,
    pub theme: Theme,
    pub idle_lock: Duration,
    /// How many days ahead a grant's expiry may be set (`HSC_GRANT_MAX_DAYS`).
    pub grant_max_days: u32,
    /// Where the Audit tab writes exports (`<data dir>/exports`): a person at the console names
    /// a file, never a place on the server.
    pub exports_dir: std::path::PathBuf,
}

#[derive(Debug)]
pub struct State {
    pub screen: Screen,
    pub live: Option<Live>,
    /// The Records tab of a role that may browse records, from login to logout.
    pub records: Option<RecordsTab>,
    /// The Grants tab of a role that has one, once opened, until logout.
    pub grants: Option<GrantsTab>,
    /// The Audit tab of a role that has one, once opened, until logout.
    pub audit: Option<AuditTab>,
    /// The Admin tab of an admin, once opened, until logout.
    pub admin: Option<AdminTab>,
    /// Set while the idle lock hides everything.
    pub lock: Option<LockScreen>,
    /// "Log out and lose the open draft?", asked when quitting with one: Some(whether Yes has the
    /// focus; it starts on No).
    pub quit_ask: Option<bool>,
    pub size: (u16, u16),
    pub help: bool,
    pub leaving: Option<(Leave, Instant)>,
    /// Set while the database does not answer; cleared when it does again.
    pub db_trouble: Option<String>,
    pub settings: Settings,
    /// The time of the message being handled; views read it instead of the clock.
    pub now: Instant,
    /// Today's date as the loop last read it (a new record's default date).
    pub today: Option<NaiveDate>,
    /// Today's date in UTC: grants expire at the end of a UTC day.
    pub utc_today: Option<NaiveDate>,
    pub ticks: u64,
    pub dirty: bool,
    pub tickets: Tickets,
}

impl State {
    pub fn new(settings: Settings, size: (u16, u16), now: Instant) -> State {
        State {
            screen: Screen::Login(Login::new(None)),
            live: None,
            records: None,
            grants: None,
            audit: None,
            admin: None,
            lock: None,
            quit_ask: None,
            size,
            help: false,
            leaving: None,
            db_trouble: None,
            settings,
            now,
            today: None,
            utc_today: None,
            ticks: 0,
            dirty: true,
            tickets: Tickets::default(),
        }
    }

    pub fn ticket(&mut self) -> Ticket {
        self.tickets.issue()
    }

    /// True when a text field has the focus, so plain characters are text, not commands.
    pub fn typing(&self) -> bool {
        if self.quit_ask.is_some() {
            return false;
        }
        if let (Screen::Audit, Some(tab)) = (&self.screen, &self.audit) {
            return tab.typing();
        }
        if let (Screen::Admin, Some(tab)) = (&self.screen, &self.admin) {
            return tab.typing();
        }
        match (&self.screen, &self.records, &self.grants) {
            (Screen::Records, Some(tab), _) => tab.typing(),
            (Screen::Grants, _, Some(tab)) => tab.typing(),
            (screen, _, _) => screen.typing(),
        }
    }

    /// The commands the screen on show answers to (help overlay, and which of two commands
    /// sharing a key is meant).
    pub fn commands(&self) -> &'static [Command] {
        if self.quit_ask.is_some() {
            return ASKING;
        }
        if let (Screen::Audit, Some(tab)) = (&self.screen, &self.audit) {
            return tab.commands();
        }
        if let (Screen::Admin, Some(tab)) = (&self.screen, &self.admin) {
            return tab.commands();
        }
        match (&self.screen, &self.records, &self.grants) {
            (Screen::Records, Some(tab), _) => tab.commands(),
            (Screen::Grants, _, Some(tab)) => tab.commands(),
            (screen, _, _) => screen.commands(),
        }
    }

    /// The title of the screen on show.
    pub fn title(&self) -> &'static str {
        if let (Screen::Audit, Some(tab)) = (&self.screen, &self.audit) {
            return tab.title();
        }
        if let (Screen::Admin, Some(tab)) = (&self.screen, &self.admin) {
            return tab.title();
        }
        match (&self.screen, &self.records, &self.grants) {
            (Screen::Records, Some(tab), _) => tab.title(),
            (Screen::Grants, _, Some(tab)) => tab.title(),
            (screen, _, _) => screen.title(),
        }
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
            Screen::Password(s) => &mut s.note,
            Screen::BackupCodes(_) => return,
            Screen::Records => {
                if let Some(tab) = &mut self.records {
                    tab.show_note(note);
                }
                return;
            }
            Screen::Grants => {
                if let Some(tab) = &mut self.grants {
                    tab.show_note(note);
                }
                return;
            }
            Screen::Audit => {
                if let Some(tab) = &mut self.audit {
                    tab.show_note(note);
                }
                return;
            }
            Screen::Admin => {
                if let Some(tab) = &mut self.admin {
                    tab.show_note(note);
                }
                return;
            }
        };
        *slot = Some(note);
    }

    /// A temporary password is on show in the Admin tab: it is acknowledged before the tab is left.
    pub fn holds_secret(&self) -> bool {
        matches!(self.screen, Screen::Admin)
            && self.admin.as_ref().is_some_and(AdminTab::holds_secret)
    }

    /// The session still has to choose its own password before any tab.
    pub fn password_due(&self) -> bool {
        self.live
            .as_ref()
            .is_some_and(|l| l.session.password_change_required)
    }

    /// An editor holds a changed draft, or a save that has not landed.
    pub fn unsaved_draft(&self) -> bool {
        self.records.as_ref().is_some_and(RecordsTab::unsaved_draft)
    }

    /// Back to the login screen, with a note; the session is forgotten. A draft still open is
    /// lost with it, and the note says so.
    pub fn to_login(&mut self, note: Option<Note>) {
        let note = if self.unsaved_draft() {
            Some(match note {
                Some(Note::Info(text)) => Note::Info(format!("{text} {DRAFT_DISCARDED}")),
                Some(Note::Error(text)) => Note::Error(format!("{text} {DRAFT_DISCARDED}")),
                None => Note::Info(DRAFT_DISCARDED.into()),
            })
        } else {
            note
        };
        self.live = None;
        self.records = None;
        self.grants = None;
        self.audit = None;
        self.admin = None;
        self.lock = None;
        self.quit_ask = None;
        self.help = false;
        self.screen = Screen::Login(Login::new(note));
    }

    /// Logged in: start the session clocks (a fresh session has no Records tab yet).
    pub fn logged_in(&mut self, session: Session) {
        self.records = None;
        self.grants = None;
        self.audit = None;
        self.admin = None;
        self.quit_ask = None;
        self.live = Some(Live {
            session,
            last_input: self.now,
            last_touch: self.now,
            last_check: self.now,
            check_waiting: None,
        });
    }
}
