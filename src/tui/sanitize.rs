//! Text from the database or the keyboard is made inert before it reaches the terminal: control
//! characters, bidirectional overrides and the invisible characters that could make one text look
//! like another are shown as visible marks, never sent.

use std::borrow::Cow;

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that take no room and move no cursor but change what a text seems to say: the line
/// and paragraph separators, zero-width spaces and joiners, invisible operators, the byte-order
/// mark, and the interlinear annotation marks.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{2028}'
            | '\u{2029}'
            | '\u{200B}'..='\u{200D}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// Whether `c` is shown as a mark instead of being sent (controls, BIDI overrides, invisibles).
pub fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || is_invisible(c)
}

/// `s` with every control character (C0, DEL, C1), BIDI control and invisible character replaced
/// by a visible mark: C0 and DEL by their Unicode control pictures (ESC becomes `␛`), the rest by
/// `<U+XXXX>`.
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

    #[test]
    fn invisible_characters_become_visible() {
        assert_eq!(inert("a\u{2028}b\u{2029}c"), "a<U+2028>b<U+2029>c");
        assert_eq!(
            inert("pay\u{200B}pal\u{200C}\u{200D}"),
            "pay<U+200B>pal<U+200C><U+200D>"
        );
        assert_eq!(
            inert("\u{2060}\u{2061}\u{2062}\u{2063}\u{2064}"),
            "<U+2060><U+2061><U+2062><U+2063><U+2064>"
        );
        assert_eq!(inert("\u{FEFF}BOM"), "<U+FEFF>BOM");
        assert_eq!(
            inert("\u{FFF9}ruby\u{FFFA}note\u{FFFB}"),
            "<U+FFF9>ruby<U+FFFA>note<U+FFFB>"
        );
        // Their neighbours are ordinary text.
        for c in [
            '\u{200A}', '\u{2027}', '\u{202F}', '\u{2065}', '\u{FEFE}', '\u{FFFC}',
        ] {
            assert!(!needs_escape(c), "{:04X}", c as u32);
        }
        let all: String = ('\u{2000}'..='\u{2070}')
            .chain('\u{FEF0}'..='\u{FFFD}')
            .collect();
        assert!(!inert(&all).chars().any(needs_escape));
    }
}
