//! The terminal guard: raw mode, the alternate screen, bracketed paste and a hidden cursor while the
//! console runs; all restored on drop, on panic (a hook) and therefore on every way out.

use std::io::{Write, stdout};

use crossterm::cursor::Show;
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

pub struct TerminalGuard {
    _private: (),
}

fn restore() {
    let _ = disable_raw_mode();
    let mut out = stdout();
    let _ = execute!(out, DisableBracketedPaste, LeaveAlternateScreen, Show);
    let _ = out.flush();
}

impl TerminalGuard {
    pub fn enter() -> std::io::Result<TerminalGuard> {
        // A panic restores the terminal before its message is printed, so the message is readable.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        enable_raw_mode()?;
        let guard = TerminalGuard { _private: () };
        execute!(stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}
