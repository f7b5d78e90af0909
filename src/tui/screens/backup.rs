//! The ten backup codes, shown once after the first enrollment.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};
use zeroize::Zeroizing;

use crate::tui::keymap::Command;
use crate::tui::theme::Theme;

pub struct Backup {
    pub codes: Vec<Zeroizing<String>>,
}

/// The codes are secrets: `Debug` counts them.
impl std::fmt::Debug for Backup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backup")
            .field("codes", &self.codes.len())
            .finish()
    }
}

impl Backup {
    /// True when the person says they have saved the codes.
    pub fn key(&self, command: Option<Command>) -> bool {
        command == Some(Command::Submit)
    }

    pub fn view(&self, f: &mut Frame, area: Rect, theme: &Theme) {
        let [_, intro, codes, hint] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(3),
            Constraint::Length(12),
            Constraint::Min(1),
        ])
        .areas(area);
        f.render_widget(
            Paragraph::new(vec![
                Line::styled("Save these backup codes now. They are shown only this once.", theme.title),
                Line::from("Each one works a single time instead of an authenticator code, if you lose your phone."),
            ])
            .wrap(Wrap { trim: true }),
            intro,
        );
        let lines: Vec<Line> = self
            .codes
            .iter()
            .enumerate()
            .map(|(i, c)| Line::from(format!("  {:>2}.  {}", i + 1, c.as_str())))
            .collect();
        f.render_widget(Paragraph::new(lines), codes);
        f.render_widget(
            Paragraph::new(Line::styled("Enter: I have saved them", theme.muted)),
            hint,
        );
    }
}
