//! One SSH client: a russh connection with a pty, a vt100 screen fed every byte that arrives, the
//! time from each keystroke until the screen shows what that key should bring, and a check of
//! every screen that it holds no chart but its own.

use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::{Duration, Instant};

use russh::client;
use russh::keys::HashAlg;
use russh::{ChannelMsg, Disconnect};

use super::generate::{self, MARKERS, PASSWORD, RECORDS_EACH};

pub const COLS: u16 = 100;
pub const ROWS: u16 = 30;

/// How long one keystroke may take to show its frame before it counts as an error.
pub const KEY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a sign-in may take (100 argon2 verifications at once on 2 cores).
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(120);

/// A russh client that accepts only the host key the server printed.
pub struct Pinned(pub String);

impl client::Handler for Pinned {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            return Ok(false);
        };
        Ok(key.fingerprint(HashAlg::Sha256).to_string() == self.0)
    }
}

/// The keys the load presses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    PageDown,
    PageUp,
    Down,
    Enter,
    Esc,
}

impl Key {
    pub const ALL: [Key; 5] = [Key::PageDown, Key::PageUp, Key::Down, Key::Enter, Key::Esc];

    /// The bytes a terminal sends for it, in one SSH data message.
    fn bytes(self) -> &'static [u8] {
        match self {
            Key::PageDown => b"\x1b[6~",
            Key::PageUp => b"\x1b[5~",
            Key::Down => b"j",
            Key::Enter => b"\r",
            Key::Esc => b"\x1b",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Key::PageDown => "PgDn (next page)",
            Key::PageUp => "PgUp (previous page)",
            Key::Down => "j (selection down)",
            Key::Enter => "Enter (open the record)",
            Key::Esc => "Esc (back to the list)",
        }
    }
}

/// One keystroke's timing.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub key: Key,
    /// Until the screen showed what the key brings.
    pub frame: Duration,
    /// Until the first bytes after the key arrived (a spinner or the frame itself).
    pub first: Option<Duration>,
}

/// A console over SSH, as one person at a 100 × 30 terminal sees it.
pub struct Console {
    pub chart: usize,
    handle: client::Handle<Pinned>,
    channel: russh::Channel<client::Msg>,
    screen: vt100::Parser,
    /// The screen's text after the last bytes arrived.
    text: String,
    pub stderr: String,
    pub exit: Option<u32>,
    pub closed: bool,
    /// Screens checked (one per data message) and those showing another chart.
    pub screens: u64,
    pub violations: u64,
    pub first_violation: Option<String>,
}

impl Console {
    /// Connects, authenticates with "none", and opens the shell on a 100 × 30 pty.
    pub async fn open(
        address: SocketAddr,
        fingerprint: &str,
        chart: usize,
    ) -> Result<Console, String> {
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(Duration::from_secs(600)),
            ..Default::default()
        });
        let failed = |what: &str, e: russh::Error| format!("chart {chart:03}: {what}: {e}");
        let mut handle = client::connect(config, address, Pinned(fingerprint.to_string()))
            .await
            .map_err(|e| failed("connect", e))?;
        let auth = handle
            .authenticate_none("clinic")
            .await
            .map_err(|e| failed("authenticate", e))?;
        if !auth.success() {
            return Err(format!("chart {chart:03}: SSH authentication refused"));
        }
        let channel = handle
            .channel_open_session()
            .await
            .map_err(|e| failed("open a session", e))?;
        channel
            .request_pty(true, "xterm-256color", COLS.into(), ROWS.into(), 0, 0, &[])
            .await
            .map_err(|e| failed("pty", e))?;
        channel
            .request_shell(true)
            .await
            .map_err(|e| failed("shell", e))?;
        let size = |n: u16| NonZeroU16::new(n).unwrap_or(NonZeroU16::MIN);
        Ok(Console {
            chart,
            handle,
            channel,
            screen: vt100::Parser::new(size(ROWS), size(COLS), 0),
            text: String::new(),
            stderr: String::new(),
            exit: None,
            closed: false,
            screens: 0,
            violations: 0,
            first_violation: None,
        })
    }

    /// Signs in as this chart's physician and waits for the first page; returns how long that
    /// took from the password's Enter.
    pub async fn sign_in(&mut self) -> Result<Duration, String> {
        let start = Instant::now();
        self.wait_until(|t| t.contains("Email:"), start, SIGN_IN_TIMEOUT)
            .await?;
        let typed = format!("{}\t{PASSWORD}\r", generate::email(self.chart));
        let start = Instant::now();
        self.send(typed.as_bytes()).await?;
        let chart = self.chart;
        let first = generate::title(chart, RECORDS_EACH - 1);
        self.wait_until(
            move |t| t.contains("page 1 · 50 shown") && t.contains(&first),
            start,
            SIGN_IN_TIMEOUT,
        )
        .await
        .map(|(frame, _)| frame)
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.channel
            .data_bytes(bytes.to_vec())
            .await
            .map_err(|e| format!("chart {:03}: sending keys: {e}", self.chart))
    }

    /// Presses `key` and waits until `shows` holds for the screen; `shows` must not hold before.
    pub async fn press(
        &mut self,
        key: Key,
        shows: impl Fn(&str) -> bool,
    ) -> Result<Sample, String> {
        if shows(&self.text) {
            return Err(format!(
                "chart {:03}: what {key:?} should bring is on the screen already:\n{}",
                self.chart, self.text
            ));
        }
        let start = Instant::now();
        self.send(key.bytes()).await?;
        let (frame, first) = self
            .wait_until(shows, start, KEY_TIMEOUT)
            .await
            .map_err(|e| format!("{key:?}: {e}"))?;
        Ok(Sample { key, frame, first })
    }

    /// Reads until `shows` holds; returns the time since `start` then, and the time of the first
    /// bytes that arrived.
    async fn wait_until(
        &mut self,
        shows: impl Fn(&str) -> bool,
        start: Instant,
        limit: Duration,
    ) -> Result<(Duration, Option<Duration>), String> {
        let deadline = start + limit;
        let mut first = None;
        loop {
            if shows(&self.text) {
                return Ok((start.elapsed(), first));
            }
            if self.closed {
                return Err(format!(
                    "chart {:03}: the channel closed; the screen shows:\n{}\n{}",
                    self.chart, self.text, self.stderr
                ));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "chart {:03}: nothing expected within {limit:?}; the screen shows:\n{}",
                    self.chart, self.text
                ));
            }
            if self.read(deadline - now).await && first.is_none() {
                first = Some(start.elapsed());
            }
        }
    }

    /// Reads and checks whatever arrives within `wait` (the person thinking).
    pub async fn idle(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        loop {
            let now = Instant::now();
            if now >= deadline || self.closed {
                if self.closed {
                    tokio::time::sleep_until(deadline.into()).await;
                }
                return;
            }
            self.read(deadline - now).await;
        }
    }

    /// One message, waiting at most `wait`; true when it brought screen bytes.
    async fn read(&mut self, wait: Duration) -> bool {
        match tokio::time::timeout(wait, self.channel.wait()).await {
            Err(_) => false,
            Ok(None) | Ok(Some(ChannelMsg::Close)) => {
                self.closed = true;
                false
            }
            Ok(Some(ChannelMsg::Data { data })) => {
                self.screen.process(&data);
                self.text = self.screen.screen().contents();
                self.check();
                true
            }
            Ok(Some(ChannelMsg::ExtendedData { data, .. })) => {
                self.stderr.push_str(&String::from_utf8_lossy(&data));
                false
            }
            Ok(Some(ChannelMsg::ExitStatus { exit_status })) => {
                self.exit = Some(exit_status);
                false
            }
            Ok(Some(_)) => false,
        }
    }

    /// Counts the screen as a violation when a chart number other than this client's follows any
    /// of the words that name one.
    fn check(&mut self) {
        self.screens += 1;
        if let Some(other) = foreign_chart(&self.text, self.chart) {
            self.violations += 1;
            if self.first_violation.is_none() {
                self.first_violation = Some(format!(
                    "chart {:03}'s screen shows chart {other:03}:\n{}",
                    self.chart, self.text
                ));
            }
        }
    }

    /// The screen's text now.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The visit number of the selected row (the one marked ▶), if a list is on show.
    pub fn selected_visit(&self) -> Option<usize> {
        let line = self.text.lines().find(|l| l.contains('▶'))?;
        visit_in(line)
    }

    /// `q`: the console signs out and the channel closes; returns the exit status.
    pub async fn quit(&mut self) -> Result<Option<u32>, String> {
        self.send(b"q").await?;
        self.finish(Duration::from_secs(30)).await
    }

    /// Reads until the server closes the channel.
    pub async fn finish(&mut self, limit: Duration) -> Result<Option<u32>, String> {
        let deadline = Instant::now() + limit;
        while !self.closed {
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "chart {:03}: the console did not end; the screen shows:\n{}",
                    self.chart, self.text
                ));
            }
            self.read(deadline - now).await;
        }
        Ok(self.exit)
    }

    pub async fn disconnect(self) {
        let _ = self
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
    }
}

/// The first chart number on `text` that is not `own`.
pub fn foreign_chart(text: &str, own: usize) -> Option<usize> {
    for marker in MARKERS {
        for (at, _) in text.match_indices(marker) {
            let digits = &text.as_bytes()[at + marker.len()..];
            if digits.len() >= 3 && digits[..3].iter().all(u8::is_ascii_digit) {
                let n = usize::from(digits[0] - b'0') * 100
                    + usize::from(digits[1] - b'0') * 10
                    + usize::from(digits[2] - b'0');
                if n != own {
                    return Some(n);
                }
            }
        }
    }
    None
}

/// The three-digit number after "visit " on `line`.
pub fn visit_in(line: &str) -> Option<usize> {
    let at = line.find("visit ")? + "visit ".len();
    line.get(at..at + 3)?.parse().ok()
}
