//! `hsc serve --ssh`: the real server binary against a seeded database, reached by OpenSSH's `ssh`
//! in a pseudo-terminal and by a russh client (for what OpenSSH only does with an agent or X).

mod admin;
mod lifecycle;
mod openssh;
mod refusals;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use russh::ChannelMsg;
use russh::client;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::harness::{Home, TEST_ENCRYPTION_KEY, TestDb};

/// `hsc serve` running in the background; killed when dropped.
pub struct Served {
    pub home: Home,
    pub child: Child,
    pub address: SocketAddr,
    pub fingerprint: String,
    pub lines: Vec<String>,
    stdout: Receiver<String>,
}

impl Served {
    /// Serves `tdb` on a free loopback port; no role is asked for a second factor but billing.
    pub fn start(tdb: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Served {
        Served::start_in(Home::new(), tdb, args, env)
    }

    pub fn start_in(home: Home, tdb: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Served {
        let host_key = home.path().join("host_key");
        let mut all = vec!["serve", "--ssh", "127.0.0.1:0", "--host-key"];
        let host_key = host_key.display().to_string();
        all.push(&host_key);
        all.extend_from_slice(args);
        let mut cmd = home.hsc(&all);
        cmd.env("DATABASE_URL", tdb.url())
            .env("ENCRYPTION_KEY", TEST_ENCRYPTION_KEY)
            .env("AUDIT_HMAC_KEY", "09".repeat(32))
            .env("HSC_MFA_ROLES", "billing_staff")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, stdout) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let address = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = stdout
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("hsc serve did not start; it said {lines:?}"));
            lines.push(line.clone());
            if let Some(address) = line.strip_prefix("serving the console over SSH on ") {
                break address.parse().unwrap();
            }
        };
        let fingerprint = lines
            .iter()
            .find_map(|l| l.split(": ").last().filter(|f| f.starts_with("SHA256:")))
            .unwrap_or_else(|| panic!("no fingerprint in {lines:?}"))
            .to_string();
        Served {
            home,
            child,
            address,
            fingerprint,
            lines,
            stdout,
        }
    }

    /// Sends SIGTERM and waits for the server to exit; returns its exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                while let Ok(line) = self.stdout.try_recv() {
                    self.lines.push(line);
                }
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "hsc serve did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// OpenSSH's `ssh` to this server with `args`, ignoring the user's own configuration and keys.
    pub fn ssh_args(&self) -> Vec<String> {
        let known_hosts = self.home.path().join("known_hosts");
        let line = format!(
            "[127.0.0.1]:{} {}",
            self.address.port(),
            self.host_key().to_openssh().unwrap()
        );
        std::fs::write(&known_hosts, format!("{line}\n")).unwrap();
        [
            "-F",
            "/dev/null",
            "-p",
            &self.address.port().to_string(),
            "-o",
            &format!("UserKnownHostsFile={}", known_hosts.display()),
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "IdentityAgent=none",
            "clinic@127.0.0.1",
        ]
        .map(String::from)
        .to_vec()
    }

    fn host_key(&self) -> PublicKey {
        let pem = std::fs::read_to_string(self.home.path().join("host_key")).unwrap();
        PrivateKey::from_openssh(&pem).unwrap().public_key().clone()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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

/// An SSH connection, authenticated with "none" (or `key`).
pub async fn connect(
    served: &Served,
    key: Option<&PrivateKey>,
) -> Result<client::Handle<Pinned>, russh::Error> {
    let config = Arc::new(client::Config {
        inactivity_timeout: Some(Duration::from_secs(60)),
        ..Default::default()
    });
    let mut handle =
        client::connect(config, served.address, Pinned(served.fingerprint.clone())).await?;
    let auth = match key {
        None => handle.authenticate_none("clinic").await?,
        Some(key) => {
            handle
                .authenticate_publickey(
                    "clinic",
                    PrivateKeyWithHashAlg::new(Arc::new(key.clone()), None),
                )
                .await?
        }
    };
    if auth.success() {
        Ok(handle)
    } else {
        Err(russh::Error::NotAuthenticated)
    }
}

/// A console over russh: the pty, the shell, and a vt100 screen of what arrived.
pub struct Remote {
    pub handle: client::Handle<Pinned>,
    pub channel: russh::Channel<client::Msg>,
    pub screen: vt100::Parser,
    pub stderr: String,
    pub exit: Option<u32>,
    pub closed: bool,
}

pub const COLS: u16 = 100;
pub const ROWS: u16 = 30;

impl Remote {
    pub async fn open(served: &Served) -> Remote {
        let handle = connect(served, None).await.unwrap();
        let channel = handle.channel_open_session().await.unwrap();
        channel
            .request_pty(true, "xterm-256color", COLS.into(), ROWS.into(), 0, 0, &[])
            .await
            .unwrap();
        channel.request_shell(true).await.unwrap();
        Remote {
            handle,
            channel,
            screen: vt100::Parser::new(
                NonZeroU16::new(ROWS).unwrap(),
                NonZeroU16::new(COLS).unwrap(),
                0,
            ),
            stderr: String::new(),
            exit: None,
            closed: false,
        }
    }

    /// Reads what arrives within `wait`.
    pub async fn pump(&mut self, wait: Duration) {
        if self.closed {
            tokio::time::sleep(wait).await;
            return;
        }
        match tokio::time::timeout(wait, self.channel.wait()).await {
            Err(_) => {}
            Ok(None) | Ok(Some(ChannelMsg::Close)) => self.closed = true,
            Ok(Some(ChannelMsg::Data { data })) => self.screen.process(&data),
            Ok(Some(ChannelMsg::ExtendedData { data, .. })) => {
                self.stderr.push_str(&String::from_utf8_lossy(&data));
            }
            Ok(Some(ChannelMsg::ExitStatus { exit_status })) => self.exit = Some(exit_status),
            Ok(Some(_)) => {}
        }
    }

    pub fn text(&self) -> String {
        self.screen.screen().contents()
    }

    #[track_caller]
    pub fn wait_for(&mut self, text: &str) -> impl std::future::Future<Output = String> + '_ {
        let text = text.to_string();
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if self.text().contains(&text) {
                    return self.text();
                }
                assert!(
                    !self.closed,
                    "the channel closed before {text:?}:\n{}",
                    self.text()
                );
                self.pump(Duration::from_millis(100)).await;
            }
            panic!(
                "{text:?} did not appear; the screen shows:\n{}",
                self.text()
            );
        }
    }

    pub async fn send(&mut self, keys: &str) {
        self.channel
            .data_bytes(keys.as_bytes().to_vec())
            .await
            .unwrap();
    }

    pub async fn sign_in(&mut self, email: &str) {
        self.wait_for("Email:").await;
        self.send(&format!("{email}\t{}\r", crate::auth::PASSWORD))
            .await;
    }

    /// Reads until the server closes the channel; returns the exit status it gave.
    pub async fn finish(&mut self) -> Option<u32> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.closed {
            assert!(
                Instant::now() < deadline,
                "the console did not end:\n{}",
                self.text()
            );
            self.pump(Duration::from_millis(100)).await;
        }
        self.exit
    }
}

/// Polls until `sql` (one text column, one row) answers `want`.
pub async fn eventually(conn: &mut PgConnection, sql: &'static str, bind: Uuid, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got: Option<String> = sqlx::query_scalar(sql)
            .bind(bind)
            .fetch_optional(&mut *conn)
            .await
            .unwrap();
        if got.as_deref() == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{sql} gave {got:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The newest session of the user with `email`.
pub async fn newest_session(conn: &mut PgConnection, email: &str) -> Uuid {
    sqlx::query_scalar(
        "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1 \
         ORDER BY s.created_at DESC LIMIT 1",
    )
    .bind(email)
    .fetch_one(conn)
    .await
    .unwrap()
}

/// The audit trail of one session, oldest first: (action, ip_address, reason).
pub async fn session_trail(
    conn: &mut PgConnection,
    session: Uuid,
) -> Vec<(String, Option<String>, Option<String>)> {
    sqlx::query_as(
        "SELECT action::text, ip_address, details->>'reason' FROM audit_logs \
         WHERE session_id = $1 ORDER BY seq",
    )
    .bind(session)
    .fetch_all(conn)
    .await
    .unwrap()
}
