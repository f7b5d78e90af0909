//! The real `hsc serve --ssh` binary in the background, and what /proc says about it and the
//! other processes sharing the machine.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// `hsc serve` running; killed when dropped.
pub struct Served {
    pub child: Child,
    pub address: SocketAddr,
    pub fingerprint: String,
    pub lines: Vec<String>,
    stdout: Receiver<String>,
}

impl Served {
    /// Starts the release binary on a free loopback port with the tests' keys; `home` holds its
    /// data and config directories and its host key.
    pub fn start(home: &Path, database_url: &str, args: &[&str]) -> Served {
        let host_key = home.join("host_key").display().to_string();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hsc"));
        // Nothing from the developer's shell leaks in.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().to_string();
            if key.starts_with("DB_")
                || key.starts_with("HSC_")
                || key.starts_with("ENCRYPTION_")
                || matches!(
                    key.as_str(),
                    "DATABASE_URL" | "APP_ENV" | "NODE_ENV" | "AUDIT_HMAC_KEY" | "RUST_LOG"
                )
            {
                cmd.env_remove(&key);
            }
        }
        cmd.args(["serve", "--ssh", "127.0.0.1:0", "--host-key", &host_key])
            .args(args)
            .current_dir(home)
            .env("HSC_DATA_DIR", home.join("data"))
            .env("HSC_CONFIG_DIR", home.join("config"))
            .env("DATABASE_URL", database_url)
            .env("ENCRYPTION_KEY", super::generate::KEY_HEX)
            .env("AUDIT_HMAC_KEY", "09".repeat(32))
            .env("HSC_MFA_ROLES", "billing_staff")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("hsc serve starts");
        let out = child.stdout.take().expect("its stdout");
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
            let Ok(line) = stdout.recv_timeout(left) else {
                panic!("hsc serve did not start; it said {lines:?}");
            };
            lines.push(line.clone());
            if let Some(address) = line.strip_prefix("serving the console over SSH on ") {
                break address.parse().expect("an address");
            }
        };
        let Some(fingerprint) = lines
            .iter()
            .find_map(|l| l.split(": ").last().filter(|f| f.starts_with("SHA256:")))
            .map(str::to_string)
        else {
            panic!("no fingerprint in {lines:?}");
        };
        Served {
            child,
            address,
            fingerprint,
            lines,
            stdout,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (up to a minute) for the server to exit; returns its exit code
    /// and how long it took.
    pub fn terminate(&mut self) -> (Option<i32>, Duration) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("a pid"));
        let start = Instant::now();
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM sent");
        loop {
            if let Some(status) = self.child.try_wait().expect("the server's status") {
                while let Ok(line) = self.stdout.try_recv() {
                    self.lines.push(line);
                }
                return (status.code(), start.elapsed());
            }
            if start.elapsed() > Duration::from_secs(60) {
                return (None, start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process's resident set and its peak, in KiB, from /proc/PID/status.
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux).
const TICKS: f64 = 100.0;

/// User + system CPU time of a process so far, in seconds, and its parent's pid.
fn cpu_and_parent(pid: u32) -> Option<(f64, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: count fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) … utime(14) stime(15), numbered from 1 with pid and name.
    let parent = fields.get(1)?.parse().ok()?;
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some(((user + system) / TICKS, parent))
}

/// CPU seconds used so far by `pid`.
pub fn cpu_seconds(pid: u32) -> f64 {
    cpu_and_parent(pid).map_or(0.0, |(cpu, _)| cpu)
}

/// CPU seconds used so far by `pid` and its living children (the postmaster and its backends).
pub fn cpu_seconds_with_children(pid: u32) -> f64 {
    let mut total = cpu_seconds(pid);
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some((cpu, parent)) = cpu_and_parent(child)
                && parent == pid
            {
                total += cpu;
            }
        }
    }
    total
}

/// The whole machine's busy and total CPU seconds so far (all cores), from /proc/stat.
pub fn machine_cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return (0.0, 0.0);
    };
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: f64 = v.iter().take(8).sum();
    // idle and iowait
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    ((total - idle) / TICKS, total / TICKS)
}

/// The postmaster's pid, from its data directory.
pub fn postmaster_pid(data_dir: &Path) -> Option<u32> {
    std::fs::read_to_string(data_dir.join("postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// The machine's load, printed beside the figures: other work on 2 cores shows in the tails.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
