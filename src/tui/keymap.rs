//! User-bindable commands and their keys. The commands are a closed set of unit variants, so a
//! keymap in `config.toml` can only name real ones; an unknown name is a startup error.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

macro_rules! commands {
    ($($variant:ident => $name:literal, $help:literal;)*) => {
        /// What a key can be bound to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Command {
            $($variant,)*
        }

        impl Command {
            pub const ALL: &'static [Command] = &[$(Command::$variant,)*];

            /// The name used in `config.toml`'s `[keymap]` table.
            pub fn name(self) -> &'static str {
                match self {
                    $(Command::$variant => $name,)*
                }
            }

            /// What the help overlay says it does.
            pub fn help(self) -> &'static str {
                match self {
                    $(Command::$variant => $help,)*
                }
            }
        }
    };
}

commands! {
    Quit => "quit", "log out and quit";
    Lock => "lock", "lock the screen now";
    Help => "help", "show or hide this help";
    Back => "back", "back / cancel";
    NextField => "next_field", "next field";
    PrevField => "prev_field", "previous field";
    Submit => "submit", "submit / open";
    Up => "up", "move up";
    Down => "down", "move down";
    PageUp => "page_up", "page up";
    PageDown => "page_down", "page down";
    First => "first", "first item";
    Last => "last", "last item";
    Filter => "filter", "filter the list";
    Refresh => "refresh", "reload from the database";
    TabAccount => "tab_account", "Account tab";
    TabRecords => "tab_records", "Records tab";
    TabGrants => "tab_grants", "Grants tab";
    TabAudit => "tab_audit", "Audit tab";
    TabAdmin => "tab_admin", "Admin tab";
    AddDevice => "add_device", "add an authenticator device";
    Rename => "rename", "rename the selected device";
    Remove => "remove", "remove the selected device";
    Edit => "edit", "edit the record";
    NewRecord => "new_record", "add a record for a patient";
    History => "history", "the record's versions";
    Mark => "mark", "mark a version to compare";
    Compare => "compare", "compare the two marked versions";
    BreakGlass => "break_glass", "emergency access to a patient (break-glass)";
    Save => "save", "save the draft";
    NewGrant => "new_grant", "grant someone access to a patient's records";
    ChangeExpiry => "change_expiry", "extend or shorten the grant";
    Revoke => "revoke", "revoke the grant (with a reason)";
    Follow => "follow", "follow new events live (on/off)";
    ByUser => "by_user", "events by the selected event's user";
    ByPatient => "by_patient", "events about the selected event's patient";
    ByResource => "by_resource", "events on the selected event's record or resource";
    Reviewed => "reviewed", "mark the event reviewed";
    Export => "export", "export the filtered events to a file";
    SwitchList => "switch_list", "switch between users and sessions";
    NewUser => "new_user", "create a user (temporary password shown once)";
    Deactivate => "deactivate", "deactivate the user (their sessions end)";
    Reactivate => "reactivate", "reactivate the user";
    ChangeRole => "change_role", "change the user's role";
    ResetPassword => "reset_password", "reset the user's password (shown once)";
    UnlockUser => "unlock_user", "unlock a user locked out by wrong passwords";
    ResetMfa => "reset_mfa", "reset the user's two-factor authentication";
    EndSession => "end_session", "end the selected session";
    EndSessions => "end_sessions", "end all of the user's sessions";
    ChangePassword => "change_password", "change your password";
}

/// One key with its modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl Key {
    /// Parses `q`, `?`, `G`, `enter`, `esc`, `tab`, `shift-tab`, `up`, `pgdn`, `f5`, `ctrl-l`, `alt-x`.
    pub fn parse(text: &str) -> Result<Key, String> {
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = text.trim();
        loop {
            let lower = rest.to_ascii_lowercase();
            if let Some(r) = lower.strip_prefix("ctrl-") {
                modifiers |= KeyModifiers::CONTROL;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower.strip_prefix("alt-") {
                modifiers |= KeyModifiers::ALT;
                rest = &rest[rest.len() - r.len()..];
            } else {
                break;
            }
        }
        let code = match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "shift-tab" | "backtab" => KeyCode::BackTab,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pgup" | "pageup" => KeyCode::PageUp,
            "pgdn" | "pagedown" => KeyCode::PageDown,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "space" => KeyCode::Char(' '),
            f if f.len() >= 2
                && f.starts_with('f')
                && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) =>
            {
                KeyCode::F(f[1..].parse().unwrap_or(1))
            }
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if !c.is_control() => {
                        KeyCode::Char(if modifiers.contains(KeyModifiers::CONTROL) {
                            c.to_ascii_lowercase()
                        } else {
                            c
                        })
                    }
                    _ => {
                        return Err(format!(
                            "{text:?} is not a key (examples: q, ctrl-l, f1, enter, shift-tab)"
                        ));
                    }
                }
            }
        };
        Ok(Key { code, modifiers })
    }

    fn matches(&self, event: &KeyEvent) -> bool {
        // Shift is part of the character itself (`G`, `?`), so it is ignored for characters.
        let mods = match event.code {
            KeyCode::Char(_) | KeyCode::BackTab => event.modifiers - KeyModifiers::SHIFT,
            _ => event.modifiers,
        };
        let code = match (event.code, mods.contains(KeyModifiers::CONTROL)) {
            (KeyCode::Char(c), true) => KeyCode::Char(c.to_ascii_lowercase()),
            (code, _) => code,
        };
        code == self.code && mods == self.modifiers
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("Ctrl-")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("Alt-")?;
        }
        match self.code {
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("Shift-Tab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::F(n) => write!(f, "F{n}"),
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) if self.modifiers.contains(KeyModifiers::CONTROL) => {
                write!(f, "{}", c.to_ascii_uppercase())
            }
            KeyCode::Char(c) => write!(f, "{c}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Keys to commands.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<(Key, Command)>,
}

const DEFAULTS: &[(&str, Command)] = &[
    ("q", Command::Quit),
    ("ctrl-l", Command::Lock),
    ("?", Command::Help),
    ("f1", Command::Help),
    ("esc", Command::Back),
    ("tab", Command::NextField),
    ("shift-tab", Command::PrevField),
    ("enter", Command::Submit),
    ("up", Command::Up),
    ("k", Command::Up),
    ("down", Command::Down),
    ("j", Command::Down),
    ("pgup", Command::PageUp),
    ("pgdn", Command::PageDown),
    ("g", Command::First),
    ("home", Command::First),
    ("G", Command::Last),
    ("end", Command::Last),
    ("/", Command::Filter),
    ("f5", Command::Refresh),
    ("ctrl-r", Command::Refresh),
    ("0", Command::TabAccount),
    ("1", Command::TabRecords),
    ("2", Command::TabGrants),
    ("3", Command::TabAudit),
    ("4", Command::TabAdmin),
    ("n", Command::AddDevice),
    ("r", Command::Rename),
    ("d", Command::Remove),
    ("e", Command::Edit),
    ("n", Command::NewRecord),
    ("h", Command::History),
    ("space", Command::Mark),
    ("c", Command::Compare),
    ("b", Command::BreakGlass),
    ("ctrl-s", Command::Save),
    ("n", Command::NewGrant),
    ("e", Command::ChangeExpiry),
    ("x", Command::Revoke),
    ("t", Command::Follow),
    ("u", Command::ByUser),
    ("p", Command::ByPatient),
    ("r", Command::ByResource),
    ("v", Command::Reviewed),
    ("x", Command::Export),
    ("s", Command::SwitchList),
    ("n", Command::NewUser),
    ("d", Command::Deactivate),
    ("a", Command::Reactivate),
    ("c", Command::ChangeRole),
    ("p", Command::ResetPassword),
    ("u", Command::UnlockUser),
    ("m", Command::ResetMfa),
    ("e", Command::EndSession),
    ("E", Command::EndSessions),
    ("p", Command::ChangePassword),
];

impl Default for Keymap {
    fn default() -> Keymap {
        Keymap {
            bindings: DEFAULTS
                .iter()
                .filter_map(|(k, c)| Key::parse(k).ok().map(|k| (k, *c)))
                .collect(),
        }
    }
}

impl Keymap {
    /// The defaults with `[keymap]` entries (`command = "key"` or `"key, key"`) replacing a
    /// command's keys. Errors name the entry.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> Result<Keymap, String> {
        let mut map = Keymap::default();
        for (name, keys) in overrides {
            let command = Command::ALL
                .iter()
                .copied()
                .find(|c| c.name() == name.trim().to_ascii_lowercase())
                .ok_or_else(|| {
                    format!(
                        "[keymap] names {name:?}, which is not a command; the commands are {}",
                        Command::ALL
                            .iter()
                            .map(|c| c.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            let parsed = keys
                .split(',')
                .map(|k| Key::parse(k).map_err(|e| format!("[keymap] {name}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            if parsed.is_empty() {
                return Err(format!("[keymap] {name} has no key"));
            }
            map.bindings
                .retain(|(k, c)| *c != command && !parsed.contains(k));
            map.bindings
                .extend(parsed.into_iter().map(|k| (k, command)));
        }
        Ok(map)
    }

    /// The command bound to `event`, if any.
    pub fn command(&self, event: &KeyEvent) -> Option<Command> {
        self.bindings
            .iter()
            .find(|(k, _)| k.matches(event))
            .map(|(_, c)| *c)
    }

    /// The command bound to `event` that the screen on show answers to (`wanted`), else the first
    /// one bound. One key may so serve two screens (`n`: a new device on Account, a new record on
    /// Records).
    pub fn command_among(&self, event: &KeyEvent, wanted: &[Command]) -> Option<Command> {
        let mut bound = self
            .bindings
            .iter()
            .filter(|(k, _)| k.matches(event))
            .map(|(_, c)| *c);
        let first = bound.next()?;
        if wanted.contains(&first) {
            return Some(first);
        }
        bound.find(|c| wanted.contains(c)).or(Some(first))
    }

    /// The keys bound to `command`, for hints and help (e.g. "Ctrl-L").
    pub fn keys(&self, command: Command) -> String {
        let keys: Vec<String> = self
            .bindings
            .iter()
            .filter(|(_, c)| *c == command)
            .map(|(k, _)| k.to_string())
            .collect();
        if keys.is_empty() {
            "unbound".into()
        } else {
            keys.join("/")
        }
    }

    /// The first key of `command` (for one-key hints).
    pub fn key(&self, command: Command) -> String {
        self.bindings
            .iter()
            .find(|(_, c)| *c == command)
            .map(|(k, _)| k.to_string())
            .unwrap_or_else(|| "unbound".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn defaults_follow_the_console_conventions() {
        let k = Keymap::default();
        assert_eq!(
            k.command(&press(KeyCode::Char('l'), KeyModifiers::CONTROL)),
            Some(Command::Lock)
        );
        assert_eq!(
            k.command(&press(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Some(Command::Help)
        );
        assert_eq!(
            k.command(&press(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Command::Last)
        );
        assert_eq!(
            k.command(&press(KeyCode::Char('g'), KeyModifiers::NONE)),
            Some(Command::First)
        );
        assert_eq!(
            k.command(&press(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Command::PrevField)
        );
        assert_eq!(
            k.command(&press(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Command::Down)
        );
        assert_eq!(k.keys(Command::Help), "?/F1");
        assert_eq!(k.key(Command::Lock), "Ctrl-L");
        assert_eq!(k.keys(Command::Refresh), "F5/Ctrl-R");
        assert_eq!(k.key(Command::Save), "Ctrl-S");
        assert_eq!(k.key(Command::Mark), "Space");
    }

    #[test]
    fn one_key_serves_the_command_of_the_screen_on_show() {
        let k = Keymap::default();
        let n = press(KeyCode::Char('n'), KeyModifiers::NONE);
        assert_eq!(k.command(&n), Some(Command::AddDevice));
        assert_eq!(
            k.command_among(&n, &[Command::Edit, Command::NewRecord]),
            Some(Command::NewRecord)
        );
        assert_eq!(
            k.command_among(&n, &[Command::AddDevice]),
            Some(Command::AddDevice)
        );
        assert_eq!(k.command_among(&n, &[]), Some(Command::AddDevice));
        assert_eq!(
            k.command_among(&press(KeyCode::Char('z'), KeyModifiers::NONE), &[]),
            None
        );
    }

    #[test]
    fn overrides_replace_keys_and_unknown_names_are_errors() {
        let mut o = BTreeMap::new();
        o.insert("lock".to_string(), "f12, ctrl-x".to_string());
        let k = Keymap::with_overrides(&o).unwrap();
        assert_eq!(
            k.command(&press(KeyCode::F(12), KeyModifiers::NONE)),
            Some(Command::Lock)
        );
        assert_eq!(
            k.command(&press(KeyCode::Char('l'), KeyModifiers::CONTROL)),
            None
        );
        assert_eq!(k.keys(Command::Lock), "F12/Ctrl-X");
        o.insert("teleport".to_string(), "t".to_string());
        let e = Keymap::with_overrides(&o).unwrap_err();
        assert!(
            e.starts_with("[keymap] names \"teleport\", which is not a command"),
            "{e}"
        );
        let mut o = BTreeMap::new();
        o.insert("quit".to_string(), "ctrl-".to_string());
        assert!(
            Keymap::with_overrides(&o)
                .unwrap_err()
                .contains("is not a key")
        );
    }

    #[test]
    fn the_readme_names_every_command() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
        let list = readme
            .split("Commands: ")
            .nth(1)
            .and_then(|rest| rest.split(". An unknown").next())
            .expect("the README lists the commands");
        let named: Vec<&str> = list.split(',').map(str::trim).collect();
        for command in Command::ALL {
            assert!(
                named.contains(&command.name()),
                "README's command list lacks {}",
                command.name()
            );
        }
        assert_eq!(named.len(), Command::ALL.len(), "{named:?}");
    }
}
