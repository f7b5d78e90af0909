//! One console per SSH connection: the same loop as the local console, drawing into a buffer that
//! is sent down the channel after each frame, and reading keys from the channel's bytes.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossterm::event::Event;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use russh::ChannelId;
use russh::server::Handle;
use tokio::sync::{mpsc, watch};

use super::input::InputParser;
use crate::services::Services;
use crate::services::audit::Client;
use crate::tui::app::{self, Happening, Io};
use crate::tui::msg::Leave;
use crate::tui::state::Settings;

/// How long a lone ESC waits for the rest of a sequence before it counts as the Esc key.
const ESCAPE_WAIT: Duration = Duration::from_millis(40);

/// A client that stops reading for this long is treated as gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// What the connection's handler passes to its console.
#[derive(Debug)]
pub enum Input {
    Data(Vec<u8>),
    Resize(u16, u16),
}

/// Collects what a draw writes. The console's own task takes it after each frame and awaits the
/// send, so a slow client slows only its own console and nothing queues without bound.
#[derive(Clone, Default)]
pub struct Frames {
    buf: Arc<Mutex<Vec<u8>>>,
}

impl Frames {
    fn take(&self) -> Vec<u8> {
        // Nothing panics while holding the lock, so a poisoned one still holds whole frames.
        std::mem::take(&mut *self.buf.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl std::io::Write for Frames {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The SSH side of a console.
struct Channel {
    input: mpsc::Receiver<Input>,
    stop: watch::Receiver<bool>,
    parser: InputParser,
    events: VecDeque<Event>,
    frames: Frames,
    handle: Handle,
    id: ChannelId,
    /// When a held ESC counts as the Esc key; kept while the loop drops and restarts `next`.
    escape_until: Option<tokio::time::Instant>,
}

impl Channel {
    async fn send(&mut self) -> std::io::Result<()> {
        let bytes = self.frames.take();
        if bytes.is_empty() {
            return Ok(());
        }
        match tokio::time::timeout(SEND_TIMEOUT, self.handle.data(self.id, bytes)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the SSH client is gone",
            )),
        }
    }
}

impl Io for Channel {
    async fn next(&mut self) -> Happening {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Happening::Event(event);
            }
            let escape = if self.parser.holds_escape() {
                Some(
                    *self
                        .escape_until
                        .get_or_insert_with(|| tokio::time::Instant::now() + ESCAPE_WAIT),
                )
            } else {
                self.escape_until = None;
                None
            };
            tokio::select! {
                input = self.input.recv() => match input {
                    // The handler was dropped: the connection is gone.
                    None => return Happening::Leave(Leave::HangUp),
                    Some(Input::Data(bytes)) => self.parser.feed(&bytes, &mut self.events),
                    Some(Input::Resize(w, h)) => return Happening::Event(Event::Resize(w, h)),
                },
                _ = self.stop.wait_for(|stop| *stop) => return Happening::Leave(Leave::Terminated),
                _ = sleep_until(escape), if escape.is_some() => {
                    self.parser.flush_escape(&mut self.events);
                }
            }
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.send().await
    }
}

/// Everything one console needs.
pub struct Session {
    pub svc: Arc<Services>,
    pub settings: Settings,
    pub peer: SocketAddr,
    pub term: String,
    pub size: (u16, u16),
    pub input: mpsc::Receiver<Input>,
    pub stop: watch::Receiver<bool>,
    pub handle: Handle,
    pub channel: ChannelId,
}

/// What the terminal is put back to when a console ends, however it ends.
pub const RESTORE: &str = "\x1b[?2004l\x1b[?1049l\x1b[?25h";

/// Runs the console until its person leaves, the connection drops or the server stops. Returns
/// the exit status for the client's `ssh`.
pub async fn run(session: Session) -> u32 {
    let Session {
        svc,
        settings,
        peer,
        term,
        size: (cols, rows),
        input,
        stop,
        handle,
        channel,
    } = session;
    let frames = Frames::default();
    // A fixed viewport: ratatui would otherwise ask this process's own terminal for its size.
    let Ok(mut terminal) = Terminal::with_options(
        CrosstermBackend::new(frames.clone()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, cols, rows)),
        },
    ) else {
        return 1;
    };
    // No raw mode here: the client's `ssh` set its own terminal raw when it asked for the pty.
    if crossterm::execute!(
        terminal.backend_mut(),
        crossterm::terminal::EnterAlternateScreen,
        crossterm::event::EnableBracketedPaste,
        crossterm::cursor::Hide
    )
    .is_err()
    {
        return 1;
    }
    let stopping = stop.clone();
    let mut io = Channel {
        input,
        stop,
        parser: InputParser::default(),
        events: VecDeque::new(),
        frames: frames.clone(),
        handle,
        id: channel,
        escape_until: None,
    };
    let client = Client::new(Some(&format!("{} {}", peer.ip(), peer.port())), &term);
    let ended = app::console(&mut terminal, &mut io, svc, client, settings, (cols, rows)).await;
    drop(terminal);
    let farewell = match (&ended, *stopping.borrow()) {
        (Err(_), _) => "hsc: the console stopped; you are signed out\r\n",
        (Ok(()), true) => "hsc: signed out: the server is shutting down\r\n",
        (Ok(()), false) => "hsc: signed out\r\n",
    };
    {
        use std::io::Write;
        let mut out = frames.clone();
        let _ = write!(out, "{RESTORE}{farewell}");
    }
    let _ = io.send().await;
    u32::from(ended.is_err())
}

/// Sleeps until `deadline`; never, without one (its branch is disabled then anyway).
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
