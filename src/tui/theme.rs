//! Colours and emphasis. Nothing is signalled by colour alone: errors say "Error:", the focused field
//! carries a marker, the active tab is bracketed. `NO_COLOR` leaves only bold, reverse and underline.

use ratatui::style::{Color, Modifier, Style};

/// Which palette to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    Default,
    HighContrast,
    Monochrome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub palette: Palette,
    pub base: Style,
    pub title: Style,
    pub focus: Style,
    pub field: Style,
    pub error: Style,
    pub info: Style,
    pub muted: Style,
    pub key: Style,
    pub tab_active: Style,
    pub selected: Style,
    pub status: Style,
    /// A line a comparison removed (also marked `-`) and one it added (`+`).
    pub removed: Style,
    pub added: Style,
}

impl Theme {
    pub fn new(palette: Palette) -> Theme {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let reversed = Style::new().add_modifier(Modifier::REVERSED);
        match palette {
            Palette::Default => Theme {
                palette,
                base: Style::new(),
                title: bold.fg(Color::Cyan),
                focus: bold.fg(Color::Yellow),
                field: Style::new().add_modifier(Modifier::UNDERLINED),
                error: bold.fg(Color::Red),
                info: Style::new().fg(Color::Green),
                muted: Style::new().fg(Color::DarkGray),
                key: bold.fg(Color::Cyan),
                tab_active: reversed.add_modifier(Modifier::BOLD),
                selected: reversed,
                status: Style::new().bg(Color::DarkGray).fg(Color::White),
                removed: Style::new().fg(Color::Red),
                added: Style::new().fg(Color::Green),
            },
            Palette::HighContrast => Theme {
                palette,
                base: Style::new().fg(Color::White).bg(Color::Black),
                title: bold
                    .fg(Color::White)
                    .bg(Color::Black)
                    .add_modifier(Modifier::UNDERLINED),
                focus: bold.fg(Color::Black).bg(Color::Yellow),
                field: Style::new()
                    .fg(Color::White)
                    .bg(Color::Black)
                    .add_modifier(Modifier::UNDERLINED),
                error: bold.fg(Color::Black).bg(Color::LightRed),
                info: bold.fg(Color::Black).bg(Color::LightGreen),
                muted: Style::new().fg(Color::White).bg(Color::Black),
                key: bold.fg(Color::Yellow).bg(Color::Black),
                tab_active: bold.fg(Color::Black).bg(Color::White),
                selected: bold.fg(Color::Black).bg(Color::White),
                status: bold.fg(Color::Black).bg(Color::White),
                removed: Style::new().fg(Color::Black).bg(Color::LightRed),
                added: Style::new().fg(Color::Black).bg(Color::LightGreen),
            },
            Palette::Monochrome => Theme {
                palette,
                base: Style::new(),
                title: bold,
                focus: bold.add_modifier(Modifier::REVERSED),
                field: Style::new().add_modifier(Modifier::UNDERLINED),
                error: bold,
                info: Style::new(),
                muted: Style::new(),
                key: bold,
                tab_active: reversed.add_modifier(Modifier::BOLD),
                selected: reversed,
                status: reversed,
                removed: Style::new(),
                added: bold,
            },
        }
    }

    /// `NO_COLOR` (set and not empty) wins; then `HSC_THEME` (`default` or `high-contrast`).
    pub fn choose(no_color: bool, name: Option<&str>) -> Result<Theme, String> {
        if no_color {
            return Ok(Theme::new(Palette::Monochrome));
        }
        match name.map(|n| n.trim().to_ascii_lowercase()) {
            None => Ok(Theme::new(Palette::Default)),
            Some(n) if n == "default" => Ok(Theme::new(Palette::Default)),
            Some(n) if n == "high-contrast" || n == "high_contrast" => {
                Ok(Theme::new(Palette::HighContrast))
            }
            Some(n) if n == "monochrome" => Ok(Theme::new(Palette::Monochrome)),
            Some(other) => Err(format!(
                "must be default, high-contrast or monochrome, not {other:?}"
            )),
        }
    }
}
