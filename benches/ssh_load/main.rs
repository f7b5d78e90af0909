//! 100 concurrent SSH consoles (issue 7, point 3).
//!
//! `cargo bench --bench ssh_load` starts a throwaway private PostgreSQL in a temporary directory
//! (`TMPDIR` decides where), runs the migrations and loads 100 physicians, each with a patient of
//! their own and 120 records whose every visible word names that chart (generate.rs). Then it runs
//! the real release binary as `hsc serve --ssh 127.0.0.1:0` (server.rs) and, over loopback, russh
//! clients at 100 × 30 terminals that feed every byte into a vt100 screen (client.rs):
//! 1. one client alone signs in and pages for a while: the latency of an unloaded server;
//! 2. 100 clients connect at once and sign in one after another: the server's RSS before and after
//!    gives the memory per session; they sign out with `q`;
//! 3. 100 clients connect and sign in at once (100 argon2 verifications together), each as its own
//!    physician, and wait for their first page; RSS again;
//! 4. for `HSC_SSH_LOAD_SECS` (default 180) each client pages PgDn, PgDn, PgUp, PgUp, and every other
//!    round opens a record (j, Enter, Esc), thinking 100–300 ms before each key; every key is timed
//!    until the screen shows what it brings (the page's status and first title, the selection on
//!    the next row, the record's description, the list again), and every screen that arrives is
//!    checked to hold no chart number but the client's own; the CPU time of the server, PostgreSQL
//!    and the clients is read from /proc;
//! 5. everyone signs out with `q` (RSS again), 100 sign in again, and SIGTERM ends the server, which
//!    must sign every console out and exit 0; the `sessions` rows must all be inactive, those of the
//!    `q`s with reason `logout`, the last crowd's with `terminated`.
//!
//! Any error, key without its frame within 5 s, or screen showing another chart is printed and makes
//! the bench exit 1. Otherwise nothing is asserted about time; it prints figures for BENCHMARKS.md.

mod client;
mod generate;
mod phases;
mod report;
mod server;

use phases::*;
use report::*;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use client::Console;
use generate::RECORDS_EACH;
use hsc::config::{Config, Sources};
use hsc::db::cluster::{ClusterOptions, LocalCluster, SUPERUSER};
use hsc::db::{Database, Maintenance};
use server::Served;

/// The database inside the throwaway cluster.
const DATABASE: &str = "hsc_ssh_load";
const CLIENTS: usize = 100;
const DEFAULT_SECS: u64 = 180;
/// How long the lone client pages before the crowd arrives.
const SOLO_SECS: u64 = 10;
/// Enter, Esc pairs the lone client presses to see how the Esc key's wait is spread.
const ESC_PROBES: usize = 40;
/// A person's pause before each key.
const THINK_MS: std::ops::RangeInclusive<u64> = 100..=300;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let failures = runtime.block_on(run());
    if failures > 0 {
        println!("\nFAILED: {failures} error(s) or violation(s); see above");
        std::process::exit(1);
    }
}

/// What went wrong, printed as it is found; the bench fails when anything was.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, what: String) {
        if self.0.len() < 10 {
            println!("ERROR: {what}");
        }
        self.0.push(what);
    }
}

async fn run() -> usize {
    let total = Instant::now();
    let secs: u64 = match std::env::var("HSC_SSH_LOAD_SECS") {
        Ok(s) => s.parse().expect("HSC_SSH_LOAD_SECS is a number of seconds"),
        Err(_) => DEFAULT_SECS,
    };
    let dir = tempfile::Builder::new()
        .prefix("hsc-ssh-load-")
        .tempdir()
        .expect("a temporary directory");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("permissions");
    let mut env = BTreeMap::new();
    env.insert(
        "HSC_DATA_DIR".to_string(),
        dir.path().join("cluster").display().to_string(),
    );
    let config =
        Config::from_sources(&Sources::from_maps(env, dir.path().to_path_buf())).expect("config");
    let options = ClusterOptions {
        unsafe_fast: true,
        ..ClusterOptions::default()
    };
    let db = Database::connect_local(&config, DATABASE, options.clone())
        .await
        .expect("the private cluster");
    hsc::db::migrate::run(&db).await.expect("migrations");
    let cluster = LocalCluster::locate(&config.data_dir, config.pg_bindir.as_deref(), options)
        .expect("the private cluster");
    let url = format!(
        "postgresql://{SUPERUSER}@localhost/{DATABASE}?host={}&port={}",
        cluster.socket_dir().display(),
        cluster.port()
    );
    let version: String = owner_scalar(&db, "SHOW server_version").await;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "machine: {cores} cores (nproc), PostgreSQL {version}; cluster in {}; load average {}",
        dir.path().display(),
        server::load_average()
    );

    let start = Instant::now();
    generate::load(&db, CLIENTS).await;
    {
        let mut tx = db
            .begin_maintenance(Maintenance::Seed)
            .await
            .expect("an owner transaction");
        sqlx::query("ANALYZE")
            .execute(tx.conn())
            .await
            .expect("ANALYZE");
        tx.commit().await.expect("commit");
    }
    println!(
        "loaded {CLIENTS} physicians, {CLIENTS} patients, {} records (sealed) in {:.1} s",
        CLIENTS * RECORDS_EACH,
        start.elapsed().as_secs_f64()
    );

    let home = dir.path().join("server");
    std::fs::create_dir_all(&home).expect("the server's home");
    let mut served = Served::start(
        &home,
        &url,
        &["--per-minute", "1000", "--max-connections", "500"],
    );
    let pid = served.pid();
    let postmaster = server::postmaster_pid(&cluster.data_dir()).unwrap_or(0);
    let (rss_start, _) = server::rss_kib(pid);
    println!(
        "hsc serve (pid {pid}) on {}; RSS at start {}",
        served.address,
        mib(rss_start)
    );
    let mut problems = Problems::default();

    // 1. One client alone.
    println!("\n1. one client alone for {SOLO_SECS} s:");
    let solo_end = Instant::now() + Duration::from_secs(SOLO_SECS);
    let mut solo = Console::open(served.address, &served.fingerprint, 0)
        .await
        .expect("the lone client connects");
    let solo_sign_in = solo.sign_in().await.expect("the lone client signs in");
    println!(
        "   sign-in (Enter to first page) {:.1} ms",
        ms(solo_sign_in)
    );
    let driven = drive(solo, solo_end, 0).await;
    for e in driven.errors {
        problems.add(e);
    }
    let mut solo = driven.console;
    print_latencies(&driven.samples);
    esc_probe(&mut solo, ESC_PROBES, &mut problems).await;
    match solo.quit().await {
        Ok(Some(0)) => {}
        other => problems.add(format!("the lone client's q ended with {other:?}")),
    }
    solo.disconnect().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss_base, _) = server::rss_kib(pid);

    // 2. Memory: 100 connect at once and sign in one after another.
    println!("\n2. {CLIENTS} clients connect at once and sign in one after another:");
    let consoles = serial_wave(&served, &mut problems).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_serial, hwm_serial) = server::rss_kib(pid);
    quit_all(consoles, &mut problems).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss_serial_out, _) = server::rss_kib(pid);

    // 3. 100 sign in at once.
    println!("\n3. {CLIENTS} clients connect and sign in at once:");
    let (consoles, sign_ins) = wave(&served, &mut problems).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_100, hwm_100) = server::rss_kib(pid);
    println!(
        "   all on their first page {:.1} s after the first connect; sign-in (Enter to first page) \
         median {:.0} ms, max {:.0} ms",
        sign_ins.whole.as_secs_f64(),
        ms(sign_ins.median),
        ms(sign_ins.max)
    );

    // 4. The load.
    println!(
        "\n4. {} clients page for {secs} s (load average {}):",
        consoles.len(),
        server::load_average()
    );
    let before = Cpu::now(pid, postmaster);
    let load_start = Instant::now();
    let end = load_start + Duration::from_secs(secs);
    let mut tasks = JoinSet::new();
    for c in consoles {
        let seed = c.chart as u64;
        tasks.spawn(drive(c, end, seed));
    }
    let mut consoles = Vec::new();
    let mut samples = Vec::new();
    let (mut screens, mut violations) = (0u64, 0u64);
    while let Some(done) = tasks.join_next().await {
        let driven = done.expect("a client task");
        for e in driven.errors {
            problems.add(e);
        }
        samples.extend(driven.samples);
        let c = driven.console;
        screens += c.screens;
        violations += c.violations;
        if let Some(v) = &c.first_violation {
            problems.add(v.clone());
        }
        consoles.push(c);
    }
    let elapsed = load_start.elapsed();
    let after = Cpu::now(pid, postmaster);
    let (rss_load, hwm_load) = server::rss_kib(pid);
    println!(
        "   {} keystrokes measured in {:.1} s ({:.0}/s), {screens} screens checked, {violations} \
         showing another chart, load average {} at the end",
        samples.len(),
        elapsed.as_secs_f64(),
        samples.len() as f64 / elapsed.as_secs_f64(),
        server::load_average()
    );
    print_latencies(&samples);
    after.print_since(&before, elapsed);

    // 5. Everyone signs out, then a second crowd, then SIGTERM.
    println!("\n5. everyone signs out with q; {CLIENTS} sign in again at once; SIGTERM:");
    quit_all(consoles, &mut problems).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss_out, _) = server::rss_kib(pid);
    let (second, _) = wave(&served, &mut problems).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_second, hwm_end) = server::rss_kib(pid);
    let signed_in_second = second.len();
    let mut tasks = JoinSet::new();
    for mut c in second {
        tasks.spawn(async move {
            let ended = c.finish(Duration::from_secs(60)).await;
            (c, ended)
        });
    }
    let (code, took) = tokio::task::spawn_blocking(move || {
        let stopped = served.terminate();
        drop(served);
        stopped
    })
    .await
    .expect("the server stopped");
    let mut told = 0;
    while let Some(done) = tasks.join_next().await {
        let (c, ended) = done.expect("a client task");
        match ended {
            Ok(Some(0)) if c.text().contains("signed out: the server is shutting down") => {
                told += 1;
            }
            other => problems.add(format!(
                "chart {:03}: on SIGTERM the console ended with {other:?}, the screen showing:\n{}",
                c.chart,
                c.text()
            )),
        }
    }
    println!(
        "   SIGTERM: the server exited with {code:?} after {:.2} s; {told} of {signed_in_second} \
         consoles were told \"signed out: the server is shutting down\" and ended with status 0",
        took.as_secs_f64()
    );
    if code != Some(0) {
        problems.add(format!("hsc serve exited with {code:?} on SIGTERM"));
    }
    check_sessions(&db, 2 * CLIENTS + 1, signed_in_second, &mut problems).await;

    println!("\nmemory of hsc serve (VmRSS):");
    let per = |with: u64| with.saturating_sub(rss_base) as f64 / CLIENTS as f64 / 1024.0;
    println!(
        "   at start                                  {}",
        mib(rss_start)
    );
    println!(
        "   after the lone client signed out          {}  (baseline)",
        mib(rss_base)
    );
    println!(
        "   {CLIENTS} signed in one after another          {}  (peak so far {}) = {:.2} MiB a session",
        mib(rss_serial),
        mib(hwm_serial),
        per(rss_serial)
    );
    println!(
        "   all {CLIENTS} signed out                        {}",
        mib(rss_serial_out)
    );
    println!(
        "   {CLIENTS} signed in at once                    {}  (peak so far {}) = {:.2} MiB a session",
        mib(rss_100),
        mib(hwm_100),
        per(rss_100)
    );
    println!(
        "   after {secs} s of paging                    {}  (peak so far {}) = {:.2} MiB a session",
        mib(rss_load),
        mib(hwm_load),
        per(rss_load)
    );
    println!(
        "   all {CLIENTS} signed out                        {}",
        mib(rss_out)
    );
    println!(
        "   {CLIENTS} signed in at once again              {}  (peak {})",
        mib(rss_second),
        mib(hwm_end)
    );

    db.close().await;
    println!(
        "\nwhole bench: {:.0} s; {} problem(s)",
        total.elapsed().as_secs_f64(),
        problems.0.len()
    );
    problems.0.len()
}

async fn owner_scalar(db: &Database, sql: &'static str) -> String {
    let mut tx = db
        .begin_maintenance(Maintenance::Seed)
        .await
        .expect("an owner transaction");
    sqlx::query_scalar(sql)
        .fetch_one(tx.conn())
        .await
        .expect("a value")
}

/// Every session the server opened is closed: `logouts` of them by `q`, the last crowd's (`second`)
/// by `terminated`.
async fn check_sessions(db: &Database, logouts: usize, second: usize, problems: &mut Problems) {
    let mut tx = db
        .begin_maintenance(Maintenance::Seed)
        .await
        .expect("an owner transaction");
    let rows: Vec<(Option<String>, bool, i64)> = sqlx::query_as(
        "SELECT revoked_reason, is_active, count(*) FROM sessions GROUP BY 1, 2 ORDER BY 1",
    )
    .fetch_all(tx.conn())
    .await
    .expect("the sessions");
    let count = |reason: &str| {
        rows.iter()
            .filter(|(r, active, _)| r.as_deref() == Some(reason) && !active)
            .map(|(_, _, n)| *n)
            .sum::<i64>()
    };
    let active: i64 = rows.iter().filter(|(_, a, _)| *a).map(|(_, _, n)| *n).sum();
    println!("   sessions: {rows:?}");
    if active > 0 {
        problems.add(format!("{active} session(s) still active after SIGTERM"));
    }
    if count("logout") != logouts as i64 {
        problems.add(format!(
            "{} session(s) ended by logout, not the {logouts} that pressed q",
            count("logout")
        ));
    }
    if count("terminated") != second as i64 {
        problems.add(format!(
            "{} session(s) ended as terminated, not the {second} signed in when SIGTERM came",
            count("terminated")
        ));
    }
    let actions: Vec<(String, i64)> =
        sqlx::query_as("SELECT action::text, count(*) FROM audit_logs GROUP BY 1 ORDER BY 2 DESC")
            .fetch_all(tx.conn())
            .await
            .expect("the audit counts");
    println!("   audit rows: {actions:?}");
}
