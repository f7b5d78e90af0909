//! One SSH connection: who may in, the one session channel with its pty and shell, and a refusal
//! with a reason for everything else (commands, subsystems, forwarding of any kind).

use std::net::SocketAddr;
use std::sync::Arc;

use russh::keys::PublicKey;
use russh::server::{
    Auth, ChannelOpenHandle, Handler, Msg, PublicKeyOffer, Session, VerifiedPublicKey,
};
use russh::{Channel, ChannelId, ChannelOpenFailure, MethodKind, MethodSet, Pty};
use tokio::sync::{mpsc, oneshot};

use super::Shared;
use super::console::{self, Input, RESTORE};

/// The exit status a client sees when its console panicked (EX_SOFTWARE).
const PANICKED: u32 = 70;

pub struct Connection {
    pub peer: SocketAddr,
    pub shared: Arc<Shared>,
    /// Fired once SSH authentication succeeds; the connection's deadline for it then stops.
    pub authenticated: Option<oneshot::Sender<()>>,
    channel: Option<ChannelId>,
    pty: Option<PtyRequest>,
    /// Dropped with the handler when the connection goes: the console then reads a hang-up.
    input: Option<mpsc::Sender<Input>>,
}

/// The terminal the client asked for.
struct PtyRequest {
    term: String,
    size: (u16, u16),
}

impl Connection {
    pub fn new(peer: SocketAddr, shared: Arc<Shared>, authenticated: oneshot::Sender<()>) -> Self {
        Connection {
            peer,
            shared,
            authenticated: Some(authenticated),
            channel: None,
            pty: None,
            input: None,
        }
    }

    fn admits(&self, key: &PublicKey) -> Auth {
        match &self.shared.authorized_keys {
            None => Auth::Accept,
            // key_data: a key's comment is no part of it.
            Some(keys) if keys.iter().any(|k| k.key_data() == key.key_data()) => Auth::Accept,
            Some(_) => only_keys(),
        }
    }

    fn without_key(&self) -> Auth {
        if self.shared.authorized_keys.is_none() {
            Auth::Accept
        } else {
            only_keys()
        }
    }
}

fn only_keys() -> Auth {
    Auth::Reject {
        proceed_with_methods: Some(MethodSet::from(&[MethodKind::PublicKey][..])),
        partial_success: false,
    }
}

/// Says why on the client's stderr, then ends the channel with status 1.
fn refuse(session: &mut Session, channel: ChannelId, why: &str) -> Result<(), russh::Error> {
    session.extended_data(channel, 1, format!("hsc: {why}\r\n").into_bytes())?;
    session.exit_status_request(channel, 1)?;
    session.eof(channel)?;
    session.close(channel)
}

/// A window size from the client, kept to what a terminal can be. `ssh -tt` without a terminal of
/// its own sends 0 × 0.
fn size(cols: u32, rows: u32) -> (u16, u16) {
    if cols == 0 || rows == 0 {
        return (80, 24);
    }
    let fit = |v: u32| u16::try_from(v.clamp(1, 1000)).unwrap_or(1000);
    (fit(cols), fit(rows))
}

impl Handler for Connection {
    type Error = russh::Error;

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        Ok(self.without_key())
    }

    async fn auth_password(&mut self, _user: &str, _password: &str) -> Result<Auth, Self::Error> {
        // The console's own sign-in is the authentication; an SSH password is not looked at.
        Ok(self.without_key())
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        _user: &str,
        _submethods: &str,
        _response: Option<russh::server::Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.without_key())
    }

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.admits(offer.public_key))
    }

    async fn auth_publickey(
        &mut self,
        _user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.admits(key.public_key))
    }

    async fn auth_succeeded(&mut self, _session: &mut Session) -> Result<(), Self::Error> {
        if let Some(done) = self.authenticated.take() {
            let _ = done.send(());
        }
        Ok(())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.channel.is_some() {
            let reason = "hsc: one console per connection".into();
            reply
                .reject(ChannelOpenFailure::Other { code: 1, reason })
                .await;
        } else {
            self.channel = Some(channel.id());
            reply.accept().await;
        }
        Ok(())
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        _channel: Channel<Msg>,
        _host: &str,
        _port: u32,
        _from_address: &str,
        _from_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let reason = "hsc: port forwarding is not allowed".into();
        reply
            .reject(ChannelOpenFailure::Other { code: 1, reason })
            .await;
        Ok(())
    }

    async fn channel_open_direct_streamlocal(
        &mut self,
        _channel: Channel<Msg>,
        _socket_path: &str,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let reason = "hsc: socket forwarding is not allowed".into();
        reply
            .reject(ChannelOpenFailure::Other { code: 1, reason })
            .await;
        Ok(())
    }

    async fn tcpip_forward(
        &mut self,
        _address: &str,
        _port: &mut u32,
        session: &mut Session,
    ) -> Result<bool, Self::Error> {
        // A global request's refusal carries no text, so the console's stderr says it, if open.
        if let Some(channel) = self.channel {
            session.extended_data(channel, 1, &b"hsc: port forwarding is not allowed\r\n"[..])?;
        }
        Ok(false)
    }

    async fn streamlocal_forward(
        &mut self,
        _socket_path: &str,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(false)
    }

    async fn agent_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<bool, Self::Error> {
        session.extended_data(channel, 1, &b"hsc: agent forwarding is not allowed\r\n"[..])?;
        Ok(false)
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _protocol: &str,
        _cookie: &str,
        _screen: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.extended_data(channel, 1, &b"hsc: X11 forwarding is not allowed\r\n"[..])?;
        session.channel_failure(channel)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        _value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // The console's settings are the server's; a client's LANG or anything else is not taken.
        session.channel_failure(channel)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _command: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.input.is_some() {
            return session.channel_failure(channel);
        }
        // Success first, then the reason: after a failure reply OpenSSH exits before printing it.
        session.channel_success(channel)?;
        refuse(
            session,
            channel,
            "commands are not accepted; connect with `ssh -t` for the console",
        )
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.input.is_some() {
            return session.channel_failure(channel);
        }
        session.channel_success(channel)?;
        let name: String = name
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(40)
            .collect();
        refuse(
            session,
            channel,
            &format!("the {name:?} subsystem is not offered"),
        )
    }

    #[allow(clippy::too_many_arguments)] // russh's signature
    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        cols: u32,
        rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.pty = Some(PtyRequest {
            term: term.to_string(),
            size: size(cols, rows),
        });
        session.channel_success(channel)
    }

    async fn window_change_request(
        &mut self,
        _channel: ChannelId,
        cols: u32,
        rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(input) = &self.input {
            let (w, h) = size(cols, rows);
            let _ = input.send(Input::Resize(w, h)).await;
        }
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.input.is_some() {
            // The console is already running on this channel: say no, and leave it be.
            return session.channel_failure(channel);
        }
        session.channel_success(channel)?;
        let Some(pty) = self.pty.take() else {
            return refuse(
                session,
                channel,
                "the console needs a terminal; connect with `ssh -t`",
            );
        };
        let (input, rx) = mpsc::channel(64);
        self.input = Some(input);
        let handle = session.handle();
        let console = console::Session {
            svc: self.shared.svc.clone(),
            settings: self.shared.settings.clone(),
            peer: self.peer,
            term: pty.term,
            size: pty.size,
            input: rx,
            stop: self.shared.stop.subscribe(),
            handle: handle.clone(),
            channel,
        };
        let peer = self.peer;
        // The console runs in a task of its own: a panic there ends that task, reported here,
        // and no other console notices.
        let app = self.shared.consoles.spawn(console::run(console));
        self.shared.consoles.spawn(async move {
            let status = match app.await {
                Ok(status) => status,
                Err(e) => {
                    tracing::error!(%peer, panicked = e.is_panic(), "a console session failed");
                    let text = format!("{RESTORE}\r\nhsc: the console failed and was closed; nothing else was affected\r\n");
                    let _ = handle.extended_data(channel, 1, text.into_bytes()).await;
                    PANICKED
                }
            };
            let _ = handle.exit_status_request(channel, status).await;
            let _ = handle.eof(channel).await;
            let _ = handle.close(channel).await;
        });
        Ok(())
    }

    async fn data(
        &mut self,
        _channel: ChannelId,
        data: &[u8],
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(input) = &self.input {
            // Awaiting slows only this connection when its console is behind.
            let _ = input.send(Input::Data(data.to_vec())).await;
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        _channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.input = None;
        Ok(())
    }

    async fn channel_close(
        &mut self,
        _channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.input = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::size;

    #[test]
    fn window_sizes_are_kept_sane() {
        assert_eq!(size(0, 0), (80, 24));
        assert_eq!(size(120, 0), (80, 24));
        assert_eq!(size(100, 30), (100, 30));
        assert_eq!(size(100_000, 5), (1000, 5));
    }
}
