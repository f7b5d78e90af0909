//! The temporary password of a new account or a reset, shown once in a box for the admin to hand
//! over. It lives only as long as the box: closing it drops the password, which wipes it
//! (`Zeroizing`), and nothing else ever holds it — not a note, not a log line, not `Debug`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::services::admin::TemporaryPassword;
use crate::tui::sanitize::inert;
use crate::tui::screens::records::Look;
use crate::tui::widgets::modal::centered;

pub struct Handover {
    name: String,
    email: String,
    password: TemporaryPassword,
}

impl std::fmt::Debug for Handover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handover(hidden)")
    }
}

impl Handover {
    pub fn new(name: String, email: String, password: TemporaryPassword) -> Handover {
        Handover {
            name,
            email,
            password,
        }
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let lines = vec![
            Line::from(
                inert(&format!(
                    "The temporary password of {} ({}):",
                    self.name, self.email
                ))
                .into_owned(),
            ),
            Line::default(),
            Line::from(Span::styled(
                format!("    {}", inert(&self.password.0)),
                theme.title,
            )),
            Line::default(),
            Line::from(
                "Hand this to the user; they must change it at next login. It is shown only this once and kept nowhere.",
            ),
            Line::default(),
            Line::from(Span::styled(
                "▶ [ Enter: done, I have it ]".to_string(),
                theme.selected,
            )),
        ];
        let r = centered(area, 64, 12);
        f.render_widget(Clear, r);
        let block = Block::default()
            .borders(Borders::ALL)
            .title(" Temporary password ")
            .style(theme.base);
        let inner = block.inner(r);
        f.render_widget(block, r);
        let text = Rect::new(
            inner.x + 1,
            inner.y,
            inner.width.saturating_sub(2),
            inner.height,
        );
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text);
    }
}
