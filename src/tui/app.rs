//! The loop: receive an event, `update`, start the effects, draw when something changed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::effects::Runner;
use super::msg::{Effect, Leave, Msg};
use super::state::{Settings, State};
use super::terminal::TerminalGuard;
use super::{update, view};
use crate::services::Services;
use crate::services::audit::Client;

/// Runs the console in this process's terminal until the person leaves.
pub async fn run(svc: Arc<Services>, client: Client, settings: Settings) -> std::io::Result<()> {
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let guard = TerminalGuard::enter()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    let size = crossterm::terminal::size()?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = Runner::new(svc, client, tx);
    let mut state = State::new(settings, size, Instant::now());
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        if state.dirty {
            terminal.draw(|f| view::draw(&state, f))?;
            state.dirty = false;
        }
        let msg = tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    if key.code == crossterm::event::KeyCode::F(12) && crate::fault::armed("panic-on-f12") {
                        panic!("fault injected: panic-on-f12");
                    }
                    Msg::Key(key)
                }
                Some(Ok(Event::Paste(text))) => Msg::Paste(text),
                Some(Ok(Event::Resize(w, h))) => {
                    terminal.autoresize()?;
                    Msg::Resize(w, h)
                }
                Some(Ok(_)) => continue,
                // The terminal went away.
                Some(Err(_)) | None => Msg::Leave(Leave::HangUp),
            },
            Some(msg) = rx.recv() => msg,
            _ = tick.tick() => Msg::Tick,
            _ = sigterm.recv() => Msg::Leave(Leave::Terminated),
            _ = sighup.recv() => Msg::Leave(Leave::HangUp),
        };
        // The loop reads the clocks; update is given them.
        state.today = Some(chrono::Local::now().date_naive());
        state.utc_today = Some(chrono::Utc::now().date_naive());
        for effect in update::update(&mut state, msg, Instant::now()) {
            if let Effect::Exit = effect {
                drop(terminal);
                drop(guard);
                return Ok(());
            }
            runner.start(effect);
        }
    }
}
