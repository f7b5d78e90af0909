//! The bytes an SSH client types, read into the key events the console handles. The client's own
//! `ssh` put its terminal in raw mode for the pty request, so there is no line discipline in between:
//! Enter arrives as `\r`, Ctrl-C as `0x03`, PageDown as `ESC [ 6 ~`.

use std::collections::VecDeque;

use crossterm::event::Event;

/// An unfinished sequence longer than this (a paste that never ends) is dropped.
const MAX_PENDING: usize = 64 * 1024;

/// Reads events from a stream of bytes that may split anywhere, even inside a sequence.
#[derive(Debug, Default)]
pub struct InputParser {
    buf: Vec<u8>,
}

impl InputParser {
    /// Reads `data`, one message from the client, appending every complete event to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut VecDeque<Event>) {
        // A message that is one ESC and nothing else is the Esc key: a terminal writes a whole
        // sequence at once, and the client sends what it read, so no wait is needed.
        if data == [0x1b] && self.buf.is_empty() {
            self.buf.push(0x1b);
            self.parse(out);
            return;
        }
        for &byte in data {
            self.buf.push(byte);
            // A lone ESC is either the Esc key or the start of a sequence whose rest is still on
            // its way; `holds_escape` lets the caller wait briefly before deciding.
            if self.buf == [0x1b] {
                continue;
            }
            self.parse(out);
        }
    }

    /// True when the last byte read was a lone ESC.
    pub fn holds_escape(&self) -> bool {
        self.buf == [0x1b]
    }

    /// Nothing followed the ESC in time: it was the Esc key.
    pub fn flush_escape(&mut self, out: &mut VecDeque<Event>) {
        if self.holds_escape() {
            self.parse(out);
        }
    }

    fn parse(&mut self, out: &mut VecDeque<Event>) {
        match terminput::Event::parse_from(&self.buf) {
            Ok(Some(event)) => {
                if let Ok(event) = terminput_crossterm::to_crossterm(event) {
                    out.push_back(event);
                }
                self.buf.clear();
            }
            // Incomplete: a UTF-8 character, a CSI sequence or a paste still arriving.
            Ok(None) if self.buf.len() < MAX_PENDING => {}
            // Not a sequence anyone sends, or too long: dropped.
            _ => self.buf.clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    fn events(chunks: &[&[u8]]) -> Vec<Event> {
        let mut parser = InputParser::default();
        let mut out = VecDeque::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out);
        }
        parser.flush_escape(&mut out);
        out.into()
    }

    fn keys(chunks: &[&[u8]]) -> Vec<(KeyCode, KeyModifiers)> {
        events(chunks)
            .into_iter()
            .map(|e| match e {
                Event::Key(k) => (k.code, k.modifiers),
                other => panic!("not a key: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn keys_the_console_uses() {
        assert_eq!(
            keys(&[b"\x1b[6~a\r\x7f\x03\t\x1b[Z\x1b[A"]),
            vec![
                (KeyCode::PageDown, KeyModifiers::NONE),
                (KeyCode::Char('a'), KeyModifiers::NONE),
                (KeyCode::Enter, KeyModifiers::NONE),
                (KeyCode::Backspace, KeyModifiers::NONE),
                (KeyCode::Char('c'), KeyModifiers::CONTROL),
                (KeyCode::Tab, KeyModifiers::NONE),
                (KeyCode::BackTab, KeyModifiers::SHIFT),
                (KeyCode::Up, KeyModifiers::NONE),
            ]
        );
    }

    #[test]
    fn a_sequence_split_across_packets_is_one_key() {
        assert_eq!(
            keys(&[b"\x1b[", b"6", b"~"]),
            vec![(KeyCode::PageDown, KeyModifiers::NONE)]
        );
        assert_eq!(
            keys(&[b"a\x1b", b"[6~"]),
            vec![
                (KeyCode::Char('a'), KeyModifiers::NONE),
                (KeyCode::PageDown, KeyModifiers::NONE)
            ]
        );
        assert_eq!(
            keys(&[&[0xc3], &[0xa9]]),
            vec![(KeyCode::Char('é'), KeyModifiers::NONE)]
        );
    }

    #[test]
    fn an_escape_alone_in_its_message_is_esc_at_once() {
        let mut parser = InputParser::default();
        let mut out = VecDeque::new();
        parser.feed(b"\x1b", &mut out);
        assert!(matches!(out.pop_front(), Some(Event::Key(k)) if k.code == KeyCode::Esc));
        assert!(!parser.holds_escape());
    }

    #[test]
    fn an_escape_ending_a_message_is_esc_once_nothing_follows() {
        let mut parser = InputParser::default();
        let mut out = VecDeque::new();
        parser.feed(b"q\x1b", &mut out);
        out.clear();
        assert!(out.is_empty() && parser.holds_escape());
        parser.flush_escape(&mut out);
        assert!(matches!(out.pop_front(), Some(Event::Key(k)) if k.code == KeyCode::Esc));
        assert!(!parser.holds_escape());
    }

    #[test]
    fn pastes_and_alt_keys() {
        let got = events(&[b"\x1b[200~hello\x1b[201~"]);
        assert!(
            matches!(&got[..], [Event::Paste(text)] if text == "hello"),
            "{got:?}"
        );
        assert_eq!(
            keys(&[b"\x1bx\x1b[24~"]),
            vec![
                (KeyCode::Char('x'), KeyModifiers::ALT),
                (KeyCode::F(12), KeyModifiers::NONE)
            ]
        );
    }

    #[test]
    fn garbage_is_dropped_and_reading_goes_on() {
        let got = keys(&[b"\x1b[\xff\xfe", b"q"]);
        assert_eq!(got.last(), Some(&(KeyCode::Char('q'), KeyModifiers::NONE)));
    }
}
