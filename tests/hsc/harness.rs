//! The test harness: one throwaway PostgreSQL cluster for the whole run (or the server `DATABASE_URL`
//! names), a migrated template database, and a fresh database per test cloned from it.
//!
//! The private cluster lives in a temporary directory. A watchdog process outlives this test process
//! just long enough to stop the server and delete the directory, whether the run passed, failed or
//! was killed.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::str::FromStr;
use std::sync::OnceLock;

use hsc::db::Database;
use hsc::db::cluster::{ClusterOptions, LocalCluster};
use hsc::db::migrate;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

/// Where the run's databases live.
pub struct Server {
    /// Connection options for the maintenance database (`postgres`).
    admin: PgConnectOptions,
    /// Base URL for spawned `hsc` processes; `{db}` stands for the database name.
    url_pattern: String,
    /// Directory with pg_dump of the same major version as the server.
    pub bindir: PathBuf,
    template: String,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

/// The run's server, started on first use. Each test has its own tokio runtime, so this keeps only
/// plain data: no pool crosses runtimes.
pub fn server() -> &'static Server {
    let result = SERVER.get_or_init(|| {
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(start())
        })
        .join()
        .unwrap_or_else(|_| Err("the harness thread panicked".into()))
    });
    match result {
        Ok(server) => server,
        Err(e) => panic!("the test PostgreSQL could not start: {e}"),
    }
}

async fn start() -> Result<Server, String> {
    let bindir = hsc::db::cluster::find_server_bindir(
        std::env::var_os("PATH").as_deref(),
        None,
        Path::new("/usr/lib/postgresql"),
    );
    let (admin, url_pattern, bindir) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => {
            let admin = PgConnectOptions::from_str(&url)
                .map_err(|_| "DATABASE_URL is not a valid URL".to_string())?;
            let pattern = replace_database(&url, "{db}");
            (
                admin.database("postgres"),
                pattern,
                bindir.unwrap_or_else(|| PathBuf::from("/usr/bin")),
            )
        }
        _ => {
            let cluster = start_private_cluster()?;
            let admin = cluster.connect_options("postgres");
            let pattern = format!(
                "postgresql://{}@localhost/{{db}}?host={}&port={}",
                hsc::db::cluster::SUPERUSER,
                cluster.socket_dir().display(),
                cluster.port()
            );
            (admin, pattern, cluster.bindir().to_path_buf())
        }
    };
    let template = create_template(&admin).await?;
    Ok(Server {
        admin,
        url_pattern,
        bindir,
        template,
    })
}

fn start_private_cluster() -> Result<LocalCluster, String> {
    let dir = tempfile::Builder::new()
        .prefix("hsc-test-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    // As root the server runs as `postgres`, which must be able to enter the directory.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    let options = ClusterOptions {
        unsafe_fast: true,
        ..ClusterOptions::default()
    };
    let cluster = LocalCluster::locate(&dir, None, options).map_err(|e| e.to_string())?;
    spawn_watchdog(&dir, &cluster.data_dir())?;
    cluster
        .ensure_running()
        .map_err(|e| e.to_string())?
        .keep_running();
    Ok(cluster)
}

/// Stops the server and removes `dir` once this process has gone, however it went.
fn spawn_watchdog(dir: &Path, data: &Path) -> Result<(), String> {
    let script = r#"
        while kill -0 "$1" 2>/dev/null; do sleep 0.2; done
        pid=$(head -n 1 "$3/postmaster.pid" 2>/dev/null)
        if [ -n "$pid" ]; then
            kill -QUIT "$pid" 2>/dev/null
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
        rm -rf "$2"
    "#;
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("hsc-test-watchdog")
        .arg(std::process::id().to_string())
        .arg(dir)
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own group, so a Ctrl-C that stops the tests does not stop the cleanup.
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(|e| format!("the cleanup watchdog could not start: {e}"))
}

/// The migrated template, named after the migrations so a changed migration gets a new one.
async fn create_template(admin: &PgConnectOptions) -> Result<String, String> {
    let mut fingerprint = Vec::new();
    for m in migrate::MIGRATOR.iter() {
        fingerprint.extend_from_slice(&m.checksum);
    }
    use sha2::Digest;
    let name = format!(
        "hsc_template_{}",
        &hex::encode(sha2::Sha256::digest(&fingerprint))[..12]
    );
    let mut conn = PgConnection::connect_with(admin)
        .await
        .map_err(|e| e.to_string())?;
    // Test processes sharing one DATABASE_URL server build the template once.
    sqlx::query("SELECT pg_advisory_lock(7345)")
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
    if !exists {
        let building = format!("{name}_building");
        exec(&mut conn, &format!("DROP DATABASE IF EXISTS {building}")).await?;
        exec(
            &mut conn,
            &format!("CREATE DATABASE {building} TEMPLATE template0"),
        )
        .await?;
        let db = Database::connect_with(admin.clone().database(&building), 0, 2, None)
            .await
            .map_err(|e| e.to_string())?;
        migrate::run(&db).await.map_err(|e| e.to_string())?;
        db.close().await;
        exec(
            &mut conn,
            &format!("ALTER DATABASE {building} RENAME TO {name}"),
        )
        .await?;
    }
    sqlx::query("SELECT pg_advisory_unlock(7345)")
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    conn.close().await.ok();
    Ok(name)
}

async fn exec(conn: &mut PgConnection, sql: &str) -> Result<(), String> {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(conn)
        .await
        .map(drop)
        .map_err(|e| format!("{sql}: {e}"))
}

fn replace_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// The keyring the tests encrypt with (the same key the spawned binaries get as ENCRYPTION_KEY).
pub fn test_keyring() -> hsc::crypto::Keyring {
    hsc::crypto::Keyring::new(&zeroize::Zeroizing::new([7u8; 32]), &[])
}

/// `ENCRYPTION_KEY` for spawned binaries, matching [`test_keyring`].
pub const TEST_ENCRYPTION_KEY: &str =
    "0707070707070707070707070707070707070707070707070707070707070707";

/// The audit chain key of the tests' in-process services.
pub fn test_audit_key() -> hsc::crypto::AuditKey {
    hsc::crypto::AuditKey(zeroize::Zeroizing::new([9u8; 32]))
}

/// A database of this test's own, dropped when the test ends.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    /// A fresh database with every migration applied.
    pub async fn migrated() -> TestDb {
        let template = server().template.clone();
        TestDb::create(&template).await
    }

    /// A fresh, empty database.
    pub async fn empty() -> TestDb {
        TestDb::create("template0").await
    }

    async fn create(template: &str) -> TestDb {
        let name = format!("hsc_test_{}", Uuid::new_v4().simple());
        let mut conn = PgConnection::connect_with(&server().admin).await.unwrap();
        exec(
            &mut conn,
            &format!("CREATE DATABASE {name} TEMPLATE {template}"),
        )
        .await
        .unwrap();
        conn.close().await.ok();
        TestDb { name }
    }

    pub fn options(&self) -> PgConnectOptions {
        server().admin.clone().database(&self.name)
    }

    /// The `DATABASE_URL` a spawned `hsc` uses for this database.
    pub fn url(&self) -> String {
        server().url_pattern.replace("{db}", &self.name)
    }

    /// hsc's own door to this database, sealing audit rows with the tests' chain key.
    pub async fn database(&self) -> Database {
        let db = Database::connect_with(self.options(), 0, 4, None)
            .await
            .unwrap();
        hsc::services::audit::seal::install(db, &test_audit_key())
    }

    /// The services over this database with the default policy and a fixed test keyring.
    pub async fn services(&self) -> hsc::services::Services {
        let config = hsc::config::Config::from_sources(&hsc::config::Sources::from_maps(
            std::collections::BTreeMap::new(),
            std::env::temp_dir(),
        ))
        .unwrap();
        hsc::services::Services {
            db: self.database().await,
            keyring: test_keyring(),
            policy: hsc::services::Policy::from_config(&config),
        }
    }

    /// A migrated database holding the development seed.
    pub async fn seeded() -> (TestDb, hsc::services::Services) {
        let tdb = TestDb::migrated().await;
        let svc = tdb.services().await;
        let config = hsc::config::Config::from_sources(&hsc::config::Sources::from_maps(
            std::collections::BTreeMap::new(),
            std::env::temp_dir(),
        ))
        .unwrap();
        hsc::services::seed::run(&config, &svc.db, &svc.keyring)
            .await
            .unwrap();
        (tdb, svc)
    }

    /// Audit actions written so far, oldest first.
    pub async fn audit_actions(&self) -> Vec<String> {
        let mut admin = self.admin().await;
        sqlx::query_scalar("SELECT action FROM audit_logs ORDER BY seq")
            .fetch_all(&mut admin)
            .await
            .unwrap()
    }

    /// A superuser connection, for looking behind hsc's back.
    pub async fn admin(&self) -> PgConnection {
        PgConnection::connect_with(&self.options()).await.unwrap()
    }

    /// `pg_dump --schema-only` of this database.
    pub fn dump_schema(&self) -> String {
        let dump = self.pg_dump(&["--schema-only", "--no-comments"]);
        // pg_dump brackets its output with lines naming a random "restrict" key; they say nothing about the schema.
        String::from_utf8(dump)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `pg_dump` of everything, data included.
    pub fn dump_all(&self) -> Vec<u8> {
        self.pg_dump(&[])
    }

    fn pg_dump(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new(server().bindir.join("pg_dump"))
            .args(args)
            .arg("-d")
            .arg(self.url())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop is synchronous; use a short-lived runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect_with(&server().admin).await.ok()?;
                exec(
                    &mut conn,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                )
                .await
                .ok()
            })
        })
        .join();
    }
}

/// A scratch home for a spawned `hsc`: its data dir, config dir and working directory.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        let dir = tempfile::Builder::new()
            .prefix("hsc-home-")
            .tempdir()
            .unwrap();
        // Reachable by the `postgres` user, so a private cluster can live inside when tests run as root.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Home { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The real `hsc` binary with a clean environment: nothing from the developer's shell leaks in.
    pub fn hsc(&self, args: &[&str]) -> Command {
        self.command(Path::new(env!("CARGO_BIN_EXE_hsc")), args)
    }

    /// Like [`Home::hsc`], for a copy of the binary kept elsewhere.
    pub fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().to_string();
            let ours = key.starts_with("DB_")
                || key.starts_with("HSC_")
                || key.starts_with("ENCRYPTION_")
                || matches!(
                    key.as_str(),
                    "DATABASE_URL" | "APP_ENV" | "NODE_ENV" | "AUDIT_HMAC_KEY" | "RUST_LOG"
                );
            if ours {
                cmd.env_remove(&key);
            }
        }
        cmd.args(args)
            .current_dir(self.path())
            .env("HSC_DATA_DIR", self.data_dir())
            .env("HSC_CONFIG_DIR", self.path().join("config"))
            .stdin(Stdio::null());
        cmd
    }
}

/// What a finished command said.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(mut cmd: Command) -> Ran {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    Ran {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

impl Ran {
    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Exit 1 with exactly one line on stderr, which is returned.
    #[track_caller]
    pub fn one_sentence_failure(&self) -> String {
        assert_eq!(
            self.code,
            Some(1),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one line on stderr, got:\n{}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        lines[0].to_string()
    }
}
