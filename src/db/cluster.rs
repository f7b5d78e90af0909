//! hsc's private PostgreSQL cluster: created on first use under the data dir with the machine's own
//! server binaries, reached only through a Unix socket in a directory only its owner can enter.
//!
//! Several hsc processes share one cluster. Each holds a shared lock on `in-use.lock` while it runs;
//! starting is serialised by `start.lock`; the last process out (the one that can turn its shared
//! lock into an exclusive one) stops the server.

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::unistd::{Uid, User};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnectOptions;

/// The server's superuser inside the private cluster.
pub const SUPERUSER: &str = "hsc";
/// The port number names the socket file; TCP is off unless `extra_conf` turns it on.
const DEFAULT_PORT: u16 = 5432;

/// Why the private cluster could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no PostgreSQL server binaries (initdb, pg_ctl) were found on PATH, via pg_config or under /usr/lib/postgresql; install Debian's `postgresql` package, set HSC_PG_BINDIR to their directory, or set DATABASE_URL to use an existing server"
    )]
    NoServerBinaries,
    #[error(
        "hsc runs as root, so its private PostgreSQL must run as the `postgres` system user, which does not exist; create it (`adduser --system --group postgres`), run hsc as an ordinary user, or set DATABASE_URL"
    )]
    NoPostgresUser,
    #[error("the private PostgreSQL cluster's directory {path} could not be prepared: {reason}")]
    Directory { path: PathBuf, reason: String },
    #[error(
        "the socket path {0} is longer than Unix sockets allow; set HSC_DATA_DIR to a shorter directory"
    )]
    SocketPathTooLong(PathBuf),
    #[error("`{command}` failed for the private PostgreSQL cluster in {dir}: {reason}")]
    Command {
        command: &'static str,
        dir: PathBuf,
        reason: String,
    },
}

/// Settings the private cluster is started with, beyond the ones that keep it private.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Skip fsync: throwaway test clusters only.
    pub unsafe_fast: bool,
    /// Extra `postgresql.conf` lines (tests add TLS and TCP this way).
    pub extra_conf: Vec<String>,
    /// Extra `pg_hba.conf` lines, placed before the defaults.
    pub extra_hba: Vec<String>,
    /// The server's port (5432 unless set), for clusters that also listen on TCP.
    pub port: Option<u16>,
}

/// A private cluster's location and the binaries that run it.
#[derive(Debug, Clone)]
pub struct LocalCluster {
    root: PathBuf,
    bindir: PathBuf,
    /// The system user the server runs as when hsc itself is root.
    server_user: Option<User>,
    options: ClusterOptions,
}

/// Held while this process uses the cluster; dropping it stops the server if no one else uses it.
#[derive(Debug)]
pub struct ClusterLease {
    cluster: LocalCluster,
    in_use: Option<File>,
}

impl LocalCluster {
    /// Finds the binaries and decides where the cluster lives for `data_dir`.
    pub fn locate(
        data_dir: &Path,
        bindir: Option<&Path>,
        options: ClusterOptions,
    ) -> Result<Self, ClusterError> {
        let bindir = match bindir {
            Some(dir) => dir.to_path_buf(),
            None => find_server_bindir(
                std::env::var_os("PATH").as_deref(),
                pg_config_bindir().as_deref(),
                Path::new("/usr/lib/postgresql"),
            )
            .ok_or(ClusterError::NoServerBinaries)?,
        };
        let server_user = if Uid::effective().is_root() {
            Some(
                User::from_name("postgres")
                    .ok()
                    .flatten()
                    .ok_or(ClusterError::NoPostgresUser)?,
            )
        } else {
            None
        };
        let mut root = data_dir.join("postgres");
        if let Some(user) = &server_user
            && !reachable_by(data_dir, user)
        {
            // The postgres user cannot enter root's home; keep the cluster where it can, one per data dir.
            let digest = Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
            root = PathBuf::from("/var/lib/hsc").join(hex::encode(&digest[..6]));
        }
        let cluster = LocalCluster {
            root,
            bindir,
            server_user,
            options,
        };
        let socket = cluster
            .socket_dir()
            .join(format!(".s.PGSQL.{}", cluster.port()));
        if socket.as_os_str().len() > 100 {
            return Err(ClusterError::SocketPathTooLong(socket));
        }
        Ok(cluster)
    }

    /// The port number of the server (and of its socket file's name).
    pub fn port(&self) -> u16 {
        self.options.port.unwrap_or(DEFAULT_PORT)
    }

    /// The directory holding the server binaries.
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// The directory that holds everything of this cluster.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("socket")
    }

    /// Connection options for `database` over the private socket.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new_without_pgpass()
            .socket(self.socket_dir())
            .port(self.port())
            .username(SUPERUSER)
            .database(database)
            .application_name("hsc")
    }

    /// Creates the cluster if needed and makes sure its server runs. Blocking: call it from
    /// `spawn_blocking` in async code.
    pub fn ensure_running(&self) -> Result<ClusterLease, ClusterError> {
        self.prepare_root()?;
        let in_use = self.lock_file("in-use.lock")?;
        // Shared: many users at once; blocks while a last user is stopping the server.
        in_use.lock_shared().map_err(|e| self.dir_error(e))?;
        let lease = ClusterLease {
            cluster: self.clone(),
            in_use: Some(in_use),
        };
        let start = self.lock_file("start.lock")?;
        start.lock().map_err(|e| self.dir_error(e))?;
        if !self.data_dir().join("PG_VERSION").exists() {
            self.init()?;
        }
        self.write_conf()?;
        if !self.answers() {
            self.start()?;
        }
        drop(start);
        Ok(lease)
    }

    fn dir_error(&self, e: impl std::fmt::Display) -> ClusterError {
        ClusterError::Directory {
            path: self.root.clone(),
            reason: e.to_string(),
        }
    }

    fn lock_file(&self, name: &str) -> Result<File, ClusterError> {
        File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join(name))
            .map_err(|e| self.dir_error(e))
    }

    /// The root and socket dirs belong to the server's user and nobody else may enter them.
    fn prepare_root(&self) -> Result<(), ClusterError> {
        for dir in [self.root.clone(), self.socket_dir()] {
            fs::create_dir_all(&dir).map_err(|e| self.dir_error(e))?;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| self.dir_error(e))?;
            if let Some(user) = &self.server_user {
                chown(&dir, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                    .map_err(|e| self.dir_error(e))?;
            }
        }
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bindir.join(program));
        cmd.stdin(Stdio::null())
            .env_remove("PGDATA")
            .env("LC_ALL", "C.UTF-8")
            .current_dir(&self.root)
            // Its own process group: a Ctrl-C in this terminal must not stop a server others share.
            .process_group(0);
        if let Some(user) = &self.server_user {
            cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
            cmd.env("HOME", &user.dir);
        }
        cmd
    }

    fn run(&self, name: &'static str, mut cmd: Command) -> Result<(), ClusterError> {
        let output = cmd.output().map_err(|e| ClusterError::Command {
            command: name,
            dir: self.root.clone(),
            reason: e.to_string(),
        })?;
        if output.status.success() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&output.stderr);
        let reason = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("it exited with an error")
            .trim()
            .to_string();
        Err(ClusterError::Command {
            command: name,
            dir: self.root.clone(),
            reason,
        })
    }

    fn init(&self) -> Result<(), ClusterError> {
        let data = self.data_dir();
        if data.exists() {
            // A half-finished initdb from an earlier crash; nothing in it is worth keeping.
            fs::remove_dir_all(&data).map_err(|e| self.dir_error(e))?;
        }
        let mut cmd = self.command("initdb");
        cmd.arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "-E", "UTF8", "--locale=C.UTF-8"])
            // The socket directory's permissions are the authentication.
            .args(["--auth-local=trust", "--auth-host=reject"]);
        if self.options.unsafe_fast {
            cmd.arg("--no-sync");
        }
        self.run("initdb", cmd)?;
        let conf = data.join("postgresql.conf");
        let mut text = fs::read_to_string(&conf).map_err(|e| self.dir_error(e))?;
        text.push_str("\ninclude 'hsc.conf'\n");
        fs::write(&conf, text).map_err(|e| self.dir_error(e))
    }

    /// Written at every start so a changed option takes effect.
    fn write_conf(&self) -> Result<(), ClusterError> {
        let quote = |p: &Path| p.display().to_string().replace('\'', "''");
        let mut conf = vec![
            "# Written by hsc at each start; edit ClusterOptions instead.".to_string(),
            "listen_addresses = ''".into(),
            format!("port = {}", self.port()),
            format!("unix_socket_directories = '{}'", quote(&self.socket_dir())),
            "unix_socket_permissions = 0700".into(),
            "max_connections = 200".into(),
        ];
        if self.options.unsafe_fast {
            conf.extend(
                [
                    "fsync = off",
                    "synchronous_commit = off",
                    "full_page_writes = off",
                ]
                .map(String::from),
            );
        }
        conf.extend(self.options.extra_conf.iter().cloned());
        let data = self.data_dir();
        self.write_server_file(&data.join("hsc.conf"), &(conf.join("\n") + "\n"))?;
        let mut hba = self.options.extra_hba.clone();
        hba.push("local all all trust".into());
        self.write_server_file(&data.join("pg_hba.conf"), &(hba.join("\n") + "\n"))
    }

    fn write_server_file(&self, path: &Path, text: &str) -> Result<(), ClusterError> {
        fs::write(path, text).map_err(|e| self.dir_error(e))?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .map_err(|e| self.dir_error(e))?;
        if let Some(user) = &self.server_user {
            chown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                .map_err(|e| self.dir_error(e))?;
        }
        Ok(())
    }

    /// True when a server accepts connections on the private socket.
    fn answers(&self) -> bool {
        std::os::unix::net::UnixStream::connect(
            self.socket_dir().join(format!(".s.PGSQL.{}", self.port())),
        )
        .is_ok()
    }

    fn start(&self) -> Result<(), ClusterError> {
        self.clear_stale_pid_files();
        let mut cmd = self.command("pg_ctl");
        cmd.arg("start")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.root.join("server.log"))
            .args(["-w", "-t", "60", "-s"])
            .stdout(Stdio::null());
        self.run("pg_ctl start", cmd).map_err(|e| match e {
            ClusterError::Command {
                command,
                dir,
                reason,
            } => ClusterError::Command {
                command,
                reason: format!("{reason} (see {})", dir.join("server.log").display()),
                dir,
            },
            other => other,
        })
    }

    /// After a crash the pid file names a process that is gone, or worse, one that now belongs to
    /// someone else; PostgreSQL would refuse to start over the second. Only called with no server
    /// answering on the socket and the start lock held.
    fn clear_stale_pid_files(&self) {
        let pid_file = self.data_dir().join("postmaster.pid");
        let Some(pid) = read_pid(&pid_file) else {
            return;
        };
        if is_postgres_process(pid) {
            // A server that is still starting up or shutting down: give it time to finish.
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline && is_postgres_process(pid) && !self.answers() {
                std::thread::sleep(Duration::from_millis(100));
            }
            if is_postgres_process(pid) {
                return;
            }
        }
        tracing::warn!(
            pid,
            "removing the stale pid file of a private PostgreSQL that is no longer running"
        );
        let _ = fs::remove_file(&pid_file);
        let _ = fs::remove_file(
            self.socket_dir()
                .join(format!(".s.PGSQL.{}.lock", self.port())),
        );
        let _ = fs::remove_file(self.socket_dir().join(format!(".s.PGSQL.{}", self.port())));
    }

    /// Stops the server now (fast shutdown), whoever else is using it.
    pub fn stop(&self) -> Result<(), ClusterError> {
        if !self.data_dir().join("postmaster.pid").exists() {
            return Ok(());
        }
        let mut cmd = self.command("pg_ctl");
        cmd.arg("stop")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "-t", "60", "-s"])
            .stdout(Stdio::null());
        self.run("pg_ctl stop", cmd)
    }
}

impl ClusterLease {
    pub fn cluster(&self) -> &LocalCluster {
        &self.cluster
    }

    /// Keeps the server running after this process ends (test harnesses stop it themselves).
    pub fn keep_running(mut self) {
        if let Some(file) = self.in_use.take() {
            // The open descriptor keeps the shared lock until the process exits.
            std::mem::forget(file);
        }
    }
}

impl Drop for ClusterLease {
    fn drop(&mut self) {
        let Some(file) = self.in_use.take() else {
            return;
        };
        // Turning the shared lock into an exclusive one succeeds only for the last user.
        if file.try_lock().is_ok()
            && let Err(e) = self.cluster.stop()
        {
            tracing::warn!(error = %e, "could not stop the private PostgreSQL");
        }
        drop(file);
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    text.lines().next()?.trim().parse().ok()
}

fn is_postgres_process(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|comm| matches!(comm.trim(), "postgres" | "postmaster"))
        .unwrap_or(false)
}

/// True when `user` can traverse every directory down to `dir` (or to its nearest existing ancestor).
fn reachable_by(dir: &Path, user: &User) -> bool {
    use std::os::unix::fs::MetadataExt;
    let mut path = PathBuf::new();
    for component in dir.components() {
        path.push(component);
        let Ok(meta) = fs::metadata(&path) else {
            // Directories hsc will create itself inherit nothing restrictive.
            return true;
        };
        let mode = meta.mode();
        let ok = if meta.uid() == user.uid.as_raw() {
            mode & 0o100 != 0
        } else if meta.gid() == user.gid.as_raw() {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !ok {
            return false;
        }
    }
    true
}

fn pg_config_bindir() -> Option<PathBuf> {
    let out = Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Finds a directory holding `initdb` and `pg_ctl`: on PATH, then pg_config's bindir, then the newest
/// version under `versions_root` (Debian's `/usr/lib/postgresql/<version>/bin`).
pub fn find_server_bindir(
    path: Option<&std::ffi::OsStr>,
    pg_config_bindir: Option<&Path>,
    versions_root: &Path,
) -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = path {
        for dir in std::env::split_paths(path) {
            if dir.join("initdb").is_file() {
                // Debian links the binaries into PATH; the real directory also holds `postgres`.
                let real = fs::canonicalize(dir.join("initdb"))
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf))
                    .unwrap_or(dir.clone());
                if has_both(&real) {
                    return Some(real);
                }
            }
        }
    }
    if let Some(dir) = pg_config_bindir
        && has_both(dir)
    {
        return Some(dir.to_path_buf());
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir(versions_root)
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_both(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bin(dir: &Path) {
        fs::create_dir_all(dir).unwrap();
        for name in ["initdb", "pg_ctl"] {
            fs::write(dir.join(name), "").unwrap();
        }
    }

    #[test]
    fn binaries_are_found_on_path_then_pg_config_then_newest_version() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("lib");
        fake_bin(&root.join("13/bin"));
        fake_bin(&root.join("15/bin"));
        fs::create_dir_all(root.join("notaversion/bin")).unwrap();
        assert_eq!(
            find_server_bindir(None, None, &root),
            Some(root.join("15/bin"))
        );

        let cfg = t.path().join("cfg");
        fake_bin(&cfg);
        assert_eq!(
            find_server_bindir(None, Some(&cfg), &root),
            Some(cfg.clone())
        );

        let on_path = t.path().join("path");
        fake_bin(&on_path);
        let path = std::env::join_paths([t.path().join("empty"), on_path.clone()]).unwrap();
        assert_eq!(
            find_server_bindir(Some(&path), Some(&cfg), &root),
            Some(on_path)
        );
    }

    #[test]
    fn no_binaries_anywhere_is_none() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(
            find_server_bindir(Some(std::ffi::OsStr::new("")), None, &t.path().join("none")),
            None
        );
        assert!(
            ClusterError::NoServerBinaries
                .to_string()
                .contains("`postgresql` package")
        );
    }
}
