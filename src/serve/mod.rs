//! `hsc serve --ssh ADDR`: the console for SSH clients. Every connection that asks for a terminal
//! gets its own console, the same app as the local one; the console's own sign-in (password and
//! code) is the authentication. This module is the door: who may connect how often, how long a
//! connection may last, and a shutdown that signs every console out before the process ends.

mod conn;
mod console;
mod hostkey;
mod input;
mod limit;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use russh::Disconnect;
use russh::keys::PublicKey;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio_util::task::TaskTracker;

pub use hostkey::{KeyError, fingerprint};
pub use limit::RateLimiter;

use crate::services::Services;
use crate::tui::state::Settings;

/// How `hsc serve` was asked to serve.
#[derive(Debug, Clone)]
pub struct Options {
    pub address: String,
    pub host_key: PathBuf,
    /// When set, only clients holding one of these keys get in.
    pub authorized_keys: Option<PathBuf>,
    /// New connections allowed per source address per minute.
    pub per_minute: u32,
    /// Connections open at once, from everywhere.
    pub max_connections: usize,
}

/// How long a client has to finish the SSH handshake and authenticate.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(30);

/// How long the consoles get to sign out on SIGTERM before the server stops anyway.
const SIGN_OUT_LIMIT: Duration = Duration::from_secs(15);

/// What every connection shares.
pub struct Shared {
    svc: Arc<Services>,
    settings: Settings,
    authorized_keys: Option<Vec<PublicKey>>,
    /// True once the server is stopping: every console signs out.
    stop: watch::Sender<bool>,
    /// Every console task, so shutdown can wait for their sign-outs.
    consoles: TaskTracker,
}

/// Why the server could not start or stopped: one sentence.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("cannot listen on {address}: {reason}")]
    Listen { address: String, reason: String },
    #[error("signals cannot be watched: {0}")]
    Signals(String),
}

/// Serves until SIGTERM or SIGINT, then signs every console out (each one audited) and returns.
/// `announce` gets the lines to print once the server listens.
pub async fn serve(
    svc: Arc<Services>,
    settings: Settings,
    options: &Options,
    announce: impl FnOnce(&[String]),
) -> Result<(), ServeError> {
    let (host_key, created) = hostkey::load_or_create(&options.host_key)?;
    let authorized_keys = match &options.authorized_keys {
        Some(path) => Some(hostkey::authorized_keys(path)?),
        None => None,
    };
    let listener = TcpListener::bind(&options.address)
        .await
        .map_err(|e| ServeError::Listen {
            address: options.address.clone(),
            reason: e.to_string(),
        })?;
    let local = listener.local_addr().map_err(|e| ServeError::Listen {
        address: options.address.clone(),
        reason: e.to_string(),
    })?;
    let mut sigterm =
        signal(SignalKind::terminate()).map_err(|e| ServeError::Signals(e.to_string()))?;
    let mut sigint =
        signal(SignalKind::interrupt()).map_err(|e| ServeError::Signals(e.to_string()))?;
    let keys_line = match &authorized_keys {
        Some(keys) => format!(
            "only the {} key(s) in {} may connect",
            keys.len(),
            options
                .authorized_keys
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ),
        None => "any SSH user may connect; the console's own sign-in decides who gets in".into(),
    };
    announce(&[
        format!(
            "host key {} ({}): {}",
            options.host_key.display(),
            if created { "created now" } else { "existing" },
            fingerprint(host_key.public_key())
        ),
        keys_line,
        format!("serving the console over SSH on {local}"),
    ]);
    tracing::info!(%local, "serving the console over SSH");
    quiet_panics();

    let config = Arc::new(config(host_key));
    let shared = Arc::new(Shared {
        svc,
        settings,
        authorized_keys,
        stop: watch::Sender::new(false),
        consoles: TaskTracker::new(),
    });
    let limiter = RateLimiter::new(options.per_minute, Duration::from_secs(60));
    let (close_tx, close_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((socket, peer)) = accepted else {
                    // Out of file descriptors or similar: wait rather than spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                if !limiter.allow(peer.ip()) {
                    tracing::warn!(%peer, "connection refused: too many from this address");
                    continue;
                }
                if connections.len() >= options.max_connections {
                    tracing::warn!(%peer, "connection refused: the server is full");
                    continue;
                }
                let _ = socket.set_nodelay(true);
                connections.spawn(connection(
                    socket,
                    peer,
                    config.clone(),
                    shared.clone(),
                    close_rx.clone(),
                ));
            }
        }
    }
    // Stop: no new connections; every console signs out (LOGOUT "terminated"); then the
    // connections close.
    drop(listener);
    tracing::info!(
        open = connections.len(),
        "stopping: signing every console out"
    );
    shared.stop.send_replace(true);
    shared.consoles.close();
    if tokio::time::timeout(SIGN_OUT_LIMIT, shared.consoles.wait())
        .await
        .is_err()
    {
        tracing::warn!("some consoles did not sign out in time");
    }
    let _ = close_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

fn config(host_key: russh::keys::PrivateKey) -> russh::server::Config {
    russh::server::Config {
        keys: vec![host_key],
        auth_rejection_time: Duration::from_secs(1),
        // OpenSSH first asks with "none" to learn the methods: no delay for that.
        auth_rejection_time_initial: Some(Duration::ZERO),
        // russh's own timer counts the server's redraws as activity; the console's idle lock and
        // session limit are the real ones, and keepalives find dead peers.
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 3,
        nodelay: true,
        ..Default::default()
    }
}

/// One connection from handshake to close: a deadline to authenticate, the absolute limit, and
/// the server's stop.
async fn connection(
    socket: tokio::net::TcpStream,
    peer: SocketAddr,
    config: Arc<russh::server::Config>,
    shared: Arc<Shared>,
    mut close: watch::Receiver<bool>,
) {
    let (authenticated, mut authenticated_rx) = oneshot::channel();
    // A session ends at its absolute limit by itself; this is for a connection that never signs
    // in, or a console that stopped listening.
    let limit = shared.svc.policy.absolute_session + Duration::from_secs(60);
    let handler = conn::Connection::new(peer, shared, authenticated);
    let started = russh::server::run_stream(config, socket, handler);
    let Ok(Ok(running)) = tokio::time::timeout(HANDSHAKE_LIMIT, started).await else {
        return;
    };
    let handle = running.handle();
    tokio::pin!(running);
    let handshake = tokio::time::sleep(HANDSHAKE_LIMIT);
    tokio::pin!(handshake);
    let absolute = tokio::time::sleep(limit);
    tokio::pin!(absolute);
    let mut signed_in = false;
    let why = loop {
        tokio::select! {
            _ = &mut running => return,
            done = &mut authenticated_rx, if !signed_in => {
                if done.is_err() {
                    return;
                }
                signed_in = true;
            }
            _ = &mut handshake, if !signed_in => break "authentication took too long",
            _ = &mut absolute => break "the session time limit was reached",
            _ = close.wait_for(|c| *c) => break "the server is shutting down",
        }
    };
    tracing::info!(%peer, why, "closing an SSH connection");
    let _ = handle
        .disconnect(Disconnect::ByApplication, why.into(), "en".into())
        .await;
    let _ = tokio::time::timeout(Duration::from_secs(5), running).await;
}

/// A console's panic is reported to its client and logged by the server without its message,
/// which could quote data; the default hook would print it on the server's stderr.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(at, "a console session panicked");
    }));
}
