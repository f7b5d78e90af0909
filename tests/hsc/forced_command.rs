//! hsc under OpenSSH's own server: a private `sshd` on a loopback port whose `Match` block runs
//! `ForceCommand hsc` (configured through `SetEnv`), reached by OpenSSH's `ssh` with a key of the
//! test's own. The console records the source address sshd put in `SSH_CONNECTION`, and refuses
//! commands and terminal-less sessions with one sentence.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::CommandBuilder;

use crate::harness::{TEST_ENCRYPTION_KEY, TestDb};
use crate::pty::Console;
use crate::ssh::{newest_session, session_trail};

const SSHD: &str = "/usr/sbin/sshd";

/// A private `sshd -D` whose only program is hsc; stopped when dropped.
struct Sshd {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
    user: String,
    said: Arc<Mutex<Vec<String>>>,
}

impl Sshd {
    /// Serves the console on `tdb` as this process's own user (root in CI).
    fn start(tdb: &TestDb) -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "OpenSSH's server ({SSHD}) is missing: install Debian's openssh-server (.ci/run does)"
        );
        let root = nix::unistd::geteuid().is_root();
        if root && !Path::new("/run/sshd").exists() {
            // sshd's privilege-separation directory (Debian's service unit creates it at boot).
            std::fs::create_dir_all("/run/sshd").unwrap();
        }
        let user = nix::unistd::User::from_uid(nix::unistd::geteuid())
            .unwrap()
            .expect("this process's user has a name")
            .name;
        let dir = tempfile::Builder::new()
            .prefix("hsc-sshd-")
            .tempdir()
            .unwrap();
        let path = |name: &str| dir.path().join(name);
        keygen(&path("host_key"));
        keygen(&path("client_key"));
        std::fs::copy(path("client_key.pub"), path("authorized_keys")).unwrap();
        for sub in ["home", "data", "config"] {
            std::fs::create_dir(path(sub)).unwrap();
        }

        // A free port may be taken between asking and binding: then try another.
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let config = path("sshd_config");
            std::fs::write(&config, sshd_config(dir.path(), port, &user, tdb)).unwrap();
            let mut child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let (said, lines) = collect(child.stderr.take().unwrap());
            let listening = format!("Server listening on 127.0.0.1 port {port}");
            let deadline = Instant::now() + Duration::from_secs(20);
            let started = loop {
                match lines.recv_timeout(Duration::from_millis(100)) {
                    Ok(line) if line.contains(&listening) => break true,
                    Ok(_) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break false,
                }
                if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                    break false;
                }
            };
            if started {
                return Sshd {
                    dir,
                    child,
                    port,
                    user,
                    said,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            while lines.recv_timeout(Duration::from_secs(2)).is_ok() {}
            let said = said.lock().unwrap().join("\n");
            assert!(
                said.contains("Address already in use"),
                "sshd did not start; it said:\n{said}"
            );
        }
        panic!("sshd found no free loopback port in three tries");
    }

    /// Everything sshd has logged so far.
    fn said(&self) -> String {
        self.said.lock().unwrap().join("\n")
    }

    /// `ssh` to this server with the test's key, ignoring the developer's own configuration, keys,
    /// agent and known hosts; `before` goes before the destination, `after` after it.
    fn ssh_args(&self, before: &[&str], after: &[&str]) -> Vec<String> {
        let known_hosts = self.dir.path().join("known_hosts");
        let host_key = std::fs::read_to_string(self.dir.path().join("host_key.pub")).unwrap();
        std::fs::write(
            &known_hosts,
            format!("[127.0.0.1]:{} {}", self.port, host_key.trim()),
        )
        .unwrap();
        let mut args: Vec<String> = before.iter().map(|s| s.to_string()).collect();
        args.extend(
            [
                "-F",
                "/dev/null",
                "-p",
                &self.port.to_string(),
                "-i",
                &self.dir.path().join("client_key").display().to_string(),
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "IdentityAgent=none",
                "-o",
                "BatchMode=yes",
                "-o",
                &format!("UserKnownHostsFile={}", known_hosts.display()),
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "LogLevel=ERROR",
                &format!("{}@127.0.0.1", self.user),
            ]
            .map(String::from),
        );
        args.extend(after.iter().map(|s| s.to_string()));
        args
    }

    /// The client's HOME: empty, so nothing of the developer's `~/.ssh` is read.
    fn client_home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// `ssh` in a pseudo-terminal.
    fn ssh_in_terminal(&self, before: &[&str], after: &[&str]) -> Console {
        let mut cmd = CommandBuilder::new("ssh");
        cmd.env_clear();
        cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
        cmd.env("HOME", self.client_home());
        cmd.env("TERM", "xterm-256color");
        cmd.args(self.ssh_args(before, after));
        Console::spawn(cmd)
    }

    /// `ssh` without a terminal: (exit code, stdout, stderr).
    fn ssh_plain(&self, before: &[&str], after: &[&str]) -> (Option<i32>, String, String) {
        let out = Command::new("ssh")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.client_home())
            .args(self.ssh_args(before, after))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(file: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "hsc-test", "-f"])
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The lines `stderr` gives, kept for messages and handed on for waiting.
fn collect(stderr: std::process::ChildStderr) -> (Arc<Mutex<Vec<String>>>, Receiver<String>) {
    let said = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = channel();
    let kept = said.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            kept.lock().unwrap().push(line.clone());
            let _ = tx.send(line);
        }
    });
    (said, rx)
}

/// A locked-down server for one user, the same `Match` block the README shows.
fn sshd_config(dir: &Path, port: u16, user: &str, tdb: &TestDb) -> String {
    let at = |name: &str| dir.join(name).display().to_string();
    format!(
        "\
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {pid_file}
AuthorizedKeysFile {authorized_keys}
AuthenticationMethods publickey
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
PrintLastLog no
AllowUsers {user}
LogLevel VERBOSE
Subsystem sftp /usr/lib/openssh/sftp-server

Match User {user}
    ForceCommand {hsc}
    DisableForwarding yes
    PermitTTY yes
    PermitUserRC no
    X11Forwarding no
    AllowAgentForwarding no
    AllowTcpForwarding no
    SetEnv DATABASE_URL={url} ENCRYPTION_KEY={key} AUDIT_HMAC_KEY={hmac} HSC_DATA_DIR={data} HSC_CONFIG_DIR={config} HSC_MFA_ROLES=billing_staff
",
        host_key = at("host_key"),
        pid_file = at("sshd.pid"),
        authorized_keys = at("authorized_keys"),
        hsc = env!("CARGO_BIN_EXE_hsc"),
        url = tdb.url(),
        key = TEST_ENCRYPTION_KEY,
        hmac = "09".repeat(32),
        data = at("data"),
        config = at("config"),
    )
}

async fn sessions(db: &mut sqlx::PgConnection) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn forced_command_console_records_the_ssh_source_and_refuses_commands() {
    let (tdb, _svc) = TestDb::seeded().await;
    let sshd = Sshd::start(&tdb);

    // `ssh -t host`: the console, signed in, on the Records tab; `q` signs out and ends the session.
    let mut c = sshd.ssh_in_terminal(&["-tt"], &[]);
    c.sign_in("dr.smith@healthystellar.com", crate::auth::PASSWORD);
    c.wait_for("[1 Records]");
    c.wait_for("Annual Physical Examination");
    c.send("q");
    let code = c.exit_code();
    assert_eq!(code, 0, "{}\nsshd said:\n{}", c.screen(), sshd.said());

    let mut db = tdb.admin().await;
    let session = newest_session(&mut db, "dr.smith@healthystellar.com").await;
    let (source, active): (String, bool) =
        sqlx::query_as("SELECT ip_address, is_active FROM sessions WHERE id = $1")
            .bind(session)
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(source, "127.0.0.1", "SSH_CONNECTION's peer is the source");
    assert!(!active, "quitting ended the session");
    let trail = session_trail(&mut db, session).await;
    let actions: Vec<&str> = trail.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(actions.first(), Some(&"LOGIN"), "{actions:?}");
    assert!(actions.contains(&"RECORD_LIST"), "{actions:?}");
    assert_eq!(actions.last(), Some(&"LOGOUT"), "{actions:?}");
    assert_eq!(trail[trail.len() - 1].2.as_deref(), Some("logout"));
    assert!(
        trail
            .iter()
            .all(|(_, ip, _)| ip.as_deref() == Some("127.0.0.1")),
        "every row names the client's address: {trail:?}"
    );
    let agents: Vec<String> =
        sqlx::query_scalar("SELECT user_agent FROM audit_logs WHERE session_id = $1 ORDER BY seq")
            .bind(session)
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert_eq!(agents.len(), trail.len());
    assert!(
        agents.iter().all(|a| a.contains("(xterm-256color; ssh)")),
        "every row says it came over SSH: {agents:?}"
    );
    let before = sessions(&mut db).await;

    // `ssh host CMD`: hsc runs anyway (ForceCommand) and refuses, naming how to connect.
    let (code, out, said) = sshd.ssh_plain(&[], &["cat", "/etc/passwd"]);
    assert_eq!(code, Some(1), "{said}\nsshd said:\n{}", sshd.said());
    assert!(out.is_empty(), "{out}");
    assert_eq!(
        said.trim_end(),
        "hsc: commands are not accepted over SSH; connect with `ssh -t HOST` for the console",
    );

    // The same with a terminal (`ssh -t host bash`): still no command.
    let mut c = sshd.ssh_in_terminal(&["-tt"], &["bash"]);
    assert_eq!(c.exit_code(), 1, "{}", c.screen());
    assert!(
        c.screen().contains("commands are not accepted over SSH"),
        "{}",
        c.screen()
    );

    // sftp (and so scp): the subsystem is a command too, and ForceCommand runs hsc in its place.
    // hsc exits 1 (sftp-server would have served and exited 0); OpenSSH discards a subsystem's
    // stderr, so the client is not told why.
    let (code, out, said) = sshd.ssh_plain(&["-s"], &["sftp"]);
    assert_eq!(code, Some(1), "{said}\nsshd said:\n{}", sshd.said());
    assert!(out.is_empty(), "{out}");

    // Forwarding never reaches hsc: sshd itself refuses it (`DisableForwarding yes`).
    let (code, _, said) = sshd.ssh_plain(&["-o", "LogLevel=INFO", "-W", "127.0.0.1:5432"], &[]);
    assert_eq!(code, Some(255), "{said}");
    assert!(said.contains("administratively prohibited"), "{said}");

    // `ssh -T host`: no terminal, so no console.
    let (code, out, said) = sshd.ssh_plain(&["-T"], &[]);
    assert_eq!(code, Some(1), "{said}\nsshd said:\n{}", sshd.said());
    assert!(out.is_empty(), "{out}");
    assert!(
        said.starts_with("hsc: the console needs a terminal") && said.lines().count() == 1,
        "{said}"
    );

    // None of the refusals got as far as a sign-in.
    assert_eq!(sessions(&mut db).await, before);
}
