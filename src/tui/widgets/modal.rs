//! A question in a box with two answers. The answer that has the focus is bracketed and marked
//! `▶` as well as highlighted, so it reads the same without colour.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::tui::keymap::Command;
use crate::tui::theme::Theme;
use crate::tui::widgets::text::row_starts;

/// What a key did to a yes/no question.
pub enum Answer {
    Undecided,
    Yes,
    No,
}

/// A key on a yes/no question whose focus `yes` holds: Tab, the arrows and Up/Down move between the
/// answers; Enter takes the one with the focus; Esc is No.
pub fn answer(yes: &mut bool, key: KeyEvent, command: Option<Command>) -> Answer {
    let toggle = matches!(
        command,
        Some(Command::NextField | Command::PrevField | Command::Up | Command::Down)
    ) || matches!(key.code, KeyCode::Left | KeyCode::Right);
    if toggle {
        *yes = !*yes;
        return Answer::Undecided;
    }
    match command {
        Some(Command::Submit) if *yes => Answer::Yes,
        Some(Command::Submit | Command::Back) => Answer::No,
        _ => Answer::Undecided,
    }
}

/// Where a box `width`×`height` sits centred in `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Draws `lines` (already inert) and the answers `no` and `yes`; `yes_chosen` says which has the focus.
pub fn ask(
    f: &mut Frame,
    area: Rect,
    title: &str,
    lines: Vec<Line<'static>>,
    (no, yes): (&str, &str),
    yes_chosen: bool,
    theme: &Theme,
) {
    let width = 64.min(area.width);
    // The rows the lines take once wrapped inside the box (two columns of border, two of margin).
    let text_width = usize::from(width.saturating_sub(4)).max(1);
    let text_rows: usize = lines
        .iter()
        .map(|l| {
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            row_starts(&text, text_width).len()
        })
        .sum();
    let height = u16::try_from(text_rows + 4).unwrap_or(u16::MAX);
    let r = centered(area, width, height);
    f.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {title} "))
        .style(theme.base);
    let inner = block.inner(r);
    f.render_widget(block, r);
    let answer = |label: &str, chosen: bool| {
        if chosen {
            Span::styled(format!("▶ [ {label} ]"), theme.selected)
        } else {
            Span::styled(format!("  [ {label} ]"), theme.base)
        }
    };
    // The answers keep the box's last row whatever the text's length: a long statement is cut,
    // never the way to answer it.
    let text = Rect::new(
        inner.x + 1,
        inner.y,
        inner.width.saturating_sub(2),
        inner.height.saturating_sub(2),
    );
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), text);
    let answers = Rect::new(
        text.x,
        inner.y + inner.height.saturating_sub(1),
        text.width,
        inner.height.min(1),
    );
    f.render_widget(
        Paragraph::new(Line::from(vec![
            answer(no, !yes_chosen),
            Span::raw("   "),
            answer(yes, yes_chosen),
        ])),
        answers,
    );
}
