//! The loop: receive an event, `update`, start the effects, draw when something changed. The same
//! loop runs in this process's terminal and, under `hsc serve`, once per SSH connection; what
//! differs (where keys come from, where frames go) is a `Terminal`'s backend and an [`Io`].

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::layout::Rect;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;

use super::effects::Runner;
use super::msg::{Effect, Leave, Msg};
use super::state::{Settings, State};
use super::terminal::TerminalGuard;
use super::{update, view};
use crate::services::audit::Client;
use crate::services::{Services, sessions};

/// What happened at the console's terminal.
#[derive(Debug)]
pub enum Happening {
    /// A key, a paste or a new size.
    Event(Event),
    /// The terminal went away, or the process (or server) was told to stop.
    Leave(Leave),
}

/// Where a console's events come from and where its frames go.
pub trait Io {
    /// The next thing that happened; a terminal that went away says `Leave(HangUp)`.
    fn next(&mut self) -> impl Future<Output = Happening> + Send;

    /// Sends what the last draw wrote. `Err` means the terminal is gone.
    fn flush(&mut self) -> impl Future<Output = std::io::Result<()>> + Send;
}

/// Runs the console in this process's terminal until the person leaves.
pub async fn run(svc: Arc<Services>, client: Client, settings: Settings) -> std::io::Result<()> {
    let mut io = Local {
        events: EventStream::new(),
        sigterm: signal(SignalKind::terminate())?,
        sighup: signal(SignalKind::hangup())?,
    };
    let guard = TerminalGuard::enter()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    let size = crossterm::terminal::size()?;
    let result = console(&mut terminal, &mut io, svc, client, settings, size).await;
    drop(terminal);
    drop(guard);
    result
}

/// The local terminal: crossterm's event stream and the process's signals.
struct Local {
    events: EventStream,
    sigterm: Signal,
    sighup: Signal,
}

impl Io for Local {
    async fn next(&mut self) -> Happening {
        tokio::select! {
            event = self.events.next() => match event {
                Some(Ok(event)) => Happening::Event(event),
                Some(Err(_)) | None => Happening::Leave(Leave::HangUp),
            },
            _ = self.sigterm.recv() => Happening::Leave(Leave::Terminated),
            _ = self.sighup.recv() => Happening::Leave(Leave::HangUp),
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        // CrosstermBackend flushes stdout at the end of every draw.
        Ok(())
    }
}

/// One console on `terminal` (already sized `size`) until the person leaves or `io` says stop.
pub async fn console<B, I>(
    terminal: &mut Terminal<B>,
    io: &mut I,
    svc: Arc<Services>,
    client: Client,
    settings: Settings,
    size: (u16, u16),
) -> std::io::Result<()>
where
    B: Backend<Error = std::io::Error>,
    I: Io,
{
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = Runner::new(svc.clone(), client.clone(), tx);
    let mut state = State::new(settings, size, Instant::now());
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // Once the terminal says leave, it is not asked again: a closed one would say so in a busy loop
    // while the logout is written.
    let mut listening = true;
    let mut hung_up = false;
    loop {
        if state.dirty {
            let drawn = catch_unwind(AssertUnwindSafe(|| {
                terminal.draw(|f| view::draw(&state, f)).map(|_| ())
            }));
            match drawn {
                Ok(drawn) => drawn?,
                Err(_) => return Err(failed(&svc, &client, &state).await),
            }
            state.dirty = false;
            // A frame that cannot be sent means the terminal is gone: sign out as for a hang-up.
            if io.flush().await.is_err() && listening {
                listening = false;
                hung_up = true;
            }
        }
        let msg = if std::mem::take(&mut hung_up) {
            Msg::Leave(Leave::HangUp)
        } else {
            tokio::select! {
            happening = io.next(), if listening => match happening {
                Happening::Event(Event::Key(key)) if key.kind != KeyEventKind::Release => {
                    if key.code == crossterm::event::KeyCode::F(12) && crate::fault::armed("panic-on-f12") {
                        panic!("fault injected: panic-on-f12");
                    }
                    Msg::Key(key)
                }
                Happening::Event(Event::Paste(text)) => Msg::Paste(text),
                Happening::Event(Event::Resize(w, h)) => {
                    terminal.resize(Rect::new(0, 0, w, h))?;
                    Msg::Resize(w, h)
                }
                Happening::Event(_) => continue,
                Happening::Leave(why) => {
                    listening = false;
                    Msg::Leave(why)
                }
            },
            Some(msg) = rx.recv() => msg,
            _ = tick.tick() => Msg::Tick,
            }
        };
        // The loop reads the clocks; update is given them.
        state.today = Some(chrono::Local::now().date_naive());
        state.utc_today = Some(chrono::Utc::now().date_naive());
        let effects = catch_unwind(AssertUnwindSafe(|| {
            if crate::fault::armed("panic-in-update-on-f11")
                && matches!(&msg, Msg::Key(k) if k.code == crossterm::event::KeyCode::F(11))
            {
                panic!("fault injected: panic-in-update-on-f11");
            }
            update::update(&mut state, msg, Instant::now())
        }));
        let Ok(effects) = effects else {
            return Err(failed(&svc, &client, &state).await);
        };
        for effect in effects {
            if let Effect::Exit = effect {
                return Ok(());
            }
            runner.start(effect);
        }
    }
}

/// A bug panicked in `update` or `view`: the console cannot go on, but its session is still signed
/// out on the record (LOGOUT, reason "internal error") rather than left open until it expires.
async fn failed(svc: &Services, client: &Client, state: &State) -> std::io::Error {
    if let Some(live) = &state.live
        && let Err(e) = sessions::end(svc, client, &live.session, "internal error").await
    {
        tracing::error!(error = %e, "the session of a failed console could not be ended");
    }
    std::io::Error::other("an internal error closed it, and its session was signed out")
}
