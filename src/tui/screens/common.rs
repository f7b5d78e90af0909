//! Pieces every form screen draws the same way.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::tui::state::Note;
use crate::tui::theme::Theme;

/// Braille spinner frames, advanced by the heartbeat.
const SPINNER: [char; 8] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧'];

pub fn spinner(ticks: u64) -> char {
    SPINNER[(ticks % SPINNER.len() as u64) as usize]
}

/// The note line: errors say so in words, not only in colour.
pub fn note(f: &mut Frame, area: Rect, note: Option<&Note>, theme: &Theme) {
    let line = match note {
        Some(Note::Error(text)) => Line::from(vec![
            Span::styled("Error: ", theme.error),
            Span::styled(text.clone(), theme.error),
        ]),
        Some(Note::Info(text)) => Line::from(Span::styled(text.clone(), theme.info)),
        None => Line::default(),
    };
    f.render_widget(Paragraph::new(line).wrap(Wrap { trim: true }), area);
}

/// "⠋ Signing in…" while work is under way.
pub fn busy(f: &mut Frame, area: Rect, what: &str, ticks: u64, theme: &Theme) {
    f.render_widget(
        Paragraph::new(Span::styled(
            format!("{} {what}", spinner(ticks)),
            theme.muted,
        )),
        area,
    );
}
