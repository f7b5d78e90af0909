//! One module per screen: its state, how it handles keys and results, and how it draws.

pub mod account;
pub mod admin;
pub mod audit;
pub mod backup;
pub mod code;
pub mod common;
pub mod enroll;
pub mod grants;
pub mod lock;
pub mod login;
pub mod paged;
pub mod password;
pub mod records;

use super::keymap::Command;

/// The screen on show.
#[derive(Debug)]
pub enum Screen {
    Login(login::Login),
    Code(code::Code),
    Enroll(enroll::Enroll),
    BackupCodes(backup::Backup),
    Account(account::Account),
    /// The Records tab; its state is `State::records`, kept while other screens are on show.
    Records,
    /// The Grants tab; its state is `State::grants`.
    Grants,
    /// The Audit tab; its state is `State::audit`.
    Audit,
    /// The Admin tab; its state is `State::admin`.
    Admin,
    /// Choosing a new password: before any tab after a temporary one, or from the account.
    Password(password::PasswordChange),
}

impl Screen {
    /// True when a text field has the focus, so plain characters are text, not commands.
    pub fn typing(&self) -> bool {
        match self {
            Screen::Login(_) | Screen::Code(_) | Screen::Enroll(_) | Screen::Password(_) => true,
            Screen::BackupCodes(_) => false,
            Screen::Account(a) => a.typing(),
            Screen::Records | Screen::Grants | Screen::Audit | Screen::Admin => false,
        }
    }

    /// The title shown above the screen.
    pub fn title(&self) -> &'static str {
        match self {
            Screen::Login(_) => "Sign in",
            Screen::Code(_) => "Two-factor code",
            Screen::Enroll(_) => "Set up an authenticator",
            Screen::BackupCodes(_) => "Backup codes",
            Screen::Account(_) => "Account",
            Screen::Records => "Records",
            Screen::Grants => "Grants",
            Screen::Audit => "Audit",
            Screen::Admin => "Admin",
            Screen::Password(_) => "Choose a new password",
        }
    }

    /// The commands this screen answers to, for the help overlay and the status hints.
    pub fn commands(&self) -> &'static [Command] {
        match self {
            Screen::Login(_) => &[Command::NextField, Command::PrevField, Command::Submit],
            Screen::Code(_) | Screen::Enroll(_) => &[Command::Submit, Command::Back],
            Screen::BackupCodes(_) => &[Command::Submit],
            Screen::Account(_) => &[
                Command::Up,
                Command::Down,
                Command::First,
                Command::Last,
                Command::AddDevice,
                Command::Rename,
                Command::Remove,
                Command::ChangePassword,
                Command::Refresh,
                Command::TabRecords,
                Command::TabGrants,
                Command::TabAudit,
                Command::TabAdmin,
                Command::Back,
                Command::Quit,
            ],
            Screen::Password(s) => s.commands(),
            Screen::Records | Screen::Grants | Screen::Audit | Screen::Admin => &[],
        }
    }
}
