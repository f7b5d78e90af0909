//! Text from the database or the keyboard is made inert before it reaches the terminal: control
//! characters and bidirectional overrides are shown as visible marks, never sent.

use std::borrow::Cow;

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` is shown as a mark instead of being sent (controls and BIDI overrides).
pub fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// `s` with every control character (C0, DEL, C1) and BIDI control replaced by a visible mark:
/// C0 and DEL by their Unicode control pictures (ESC becomes `␛`), the rest by `<U+XXXX>`.
pub fn inert(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\u{0}'..='\u{1F}' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('?')),
            '\u{7F}' => out.push('\u{2421}'),
            c if needs_escape(c) => out.push_str(&format!("<U+{:04X}>", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_overrides_become_visible() {
        assert_eq!(inert("plain text"), "plain text");
        assert_eq!(inert("\x1b[2J\x07"), "␛[2J␇");
        assert_eq!(inert("a\u{9b}31m"), "a<U+009B>31m");
        assert_eq!(inert("abc\u{202E}fed"), "abc<U+202E>fed");
        assert_eq!(inert("tab\there\r\n"), "tab␉here␍␊");
        assert!(!inert("\x1b]0;title\x07").chars().any(|c| c.is_control()));
    }
}
