//! A question in a box with two answers. The answer that has the focus is bracketed and marked
//! `▶` as well as highlighted, so it reads the same without colour.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::tui::theme::Theme;

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
    // Lines wrap inside the box; leave room for that, the answers and the border.
    let text_rows: u16 = lines
        .iter()
        .map(|l| {
            (l.width() as u16)
                .div_ceil(width.saturating_sub(4).max(1))
                .max(1)
        })
        .sum();
    let r = centered(area, width, text_rows + 4);
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
    let mut body = lines;
    body.push(Line::default());
    body.push(Line::from(vec![
        answer(no, !yes_chosen),
        Span::raw("   "),
        answer(yes, yes_chosen),
    ]));
    let text = Rect::new(
        inner.x + 1,
        inner.y,
        inner.width.saturating_sub(2),
        inner.height,
    );
    f.render_widget(Paragraph::new(body).wrap(Wrap { trim: true }), text);
}
