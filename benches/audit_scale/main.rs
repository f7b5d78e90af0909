//! The audit trail at 10 million events (issue 6, point 5).
//!
//! `cargo bench --bench audit_scale` starts a throwaway private PostgreSQL in a temporary directory
//! (`TMPDIR` decides where: the full run needs ~8 GB), runs the migrations, loads ~300 staff and
//! 10,000 patients, then `HSC_AUDIT_EVENTS` events (default 10,000,000) over the 14 months before
//! this one with a real hash chain (generate.rs, events.rs), and measures:
//! 1. for each single filter, the viewer's first page and its 10,000th page (50 a page): keyset
//!    through the real service (`query::list` as an admin), its SQL alone under row-level security,
//!    and the same page by `OFFSET` (`query::OFFSET_PAGE_SQL`), with EXPLAIN for a page over target
//!    (pages.rs);
//! 2. verifying the whole chain (rows/s);
//! 3. 16 concurrent writers, one audit row per transaction, with the chain sealed after each commit
//!    and as plain inserts (then the backlog sealed), and the chain verified again afterwards
//!    (writers.rs).
//!
//! Nothing here asserts a time; it prints figures for BENCHMARKS.md.

mod events;
mod generate;
mod pages;
mod writers;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use generate::{AUDIT_KEY, Counts, KEY, PASSWORD, SEED, World};
use hsc::config::{Config, Sources};
use hsc::crypto::{AuditKey, Keyring};
use hsc::db::cluster::ClusterOptions;
use hsc::db::{Database, Maintenance};
use hsc::services::audit::{Client, seal, verify};
use hsc::services::auth::{self, LoginStep};
use hsc::services::sessions::Session;
use hsc::services::{Policy, Services};

/// The database inside the throwaway cluster.
const DATABASE: &str = "hsc_audit_scale";
const DEFAULT_EVENTS: u64 = 10_000_000;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let total = Instant::now();
    let events: u64 = match std::env::var("HSC_AUDIT_EVENTS") {
        Ok(n) => n
            .replace('_', "")
            .parse()
            .expect("HSC_AUDIT_EVENTS is a number"),
        Err(_) => DEFAULT_EVENTS,
    };
    let dir = tempfile::Builder::new()
        .prefix("hsc-audit-")
        .tempdir()
        .expect("a temporary directory");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("permissions");
    let mut env = BTreeMap::new();
    env.insert("HSC_DATA_DIR".to_string(), dir.path().display().to_string());
    // 16 writers, each with its transaction, and the sealer's.
    env.insert("DB_POOL_MAX".to_string(), "40".to_string());
    let config =
        Config::from_sources(&Sources::from_maps(env, dir.path().to_path_buf())).expect("config");
    let options = ClusterOptions {
        unsafe_fast: true,
        extra_conf: vec![
            // The load: COPY … FREEZE into partitions created in its transaction and CREATE INDEX
            // write no WAL at this level.
            "wal_level = minimal".into(),
            "max_wal_senders = 0".into(),
            "max_wal_size = '4GB'".into(),
            "checkpoint_timeout = '30min'".into(),
            "maintenance_work_mem = '512MB'".into(),
            // The trail is ~7 GB; keep the hot index pages of the pages measured in PostgreSQL's own
            // cache, as a server of this size would.
            "shared_buffers = '1GB'".into(),
        ],
        ..ClusterOptions::default()
    };
    let db = Database::connect_local(&config, DATABASE, options)
        .await
        .expect("the private cluster");
    hsc::db::migrate::run(&db).await.expect("migrations");
    let version: String = {
        let mut tx = db
            .begin_maintenance(Maintenance::Seed)
            .await
            .expect("an owner transaction");
        sqlx::query_scalar("SHOW server_version")
            .fetch_one(tx.conn())
            .await
            .expect("the server's version")
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "machine: {cores} cores (nproc), PostgreSQL {version}; cluster in {}",
        dir.path().display()
    );

    println!("\ngenerating {events} events (seed {SEED:#x}):");
    let start = Instant::now();
    let world = Arc::new(generate::plan(Utc::now().date_naive(), events));
    generate::load_users(&db, &world).await;
    let counts = generate::load_audit(&db, &world).await;
    let load_time = start.elapsed();
    println!(
        "  {:<26} {:>10}       {:>7.1} s",
        "total",
        "",
        load_time.as_secs_f64()
    );
    print_distribution(&world, &counts);

    let key = AuditKey(zeroize::Zeroizing::new(AUDIT_KEY));
    let mut policy = Policy::from_config(&config);
    policy.mfa_roles.clear();
    let svc = Services {
        db: seal::install(db.clone(), &key),
        keyring: Keyring::new(&zeroize::Zeroizing::new(KEY), &[]),
        policy,
    };
    let client = Client::command_line();
    let admin = sign_in(&svc, &client, &generate::email("admin", 0)).await;
    let staff = sign_in(&svc, &client, &generate::email("medical_records", 0)).await;

    let load_before = load_average();
    let cases = pages::cases(&world, &counts);
    let mut measured = Vec::new();
    for case in &cases {
        let session = if case.staff { &staff } else { &admin };
        measured.push(pages::measure_case(&svc, &client, session, case, world.events).await);
    }
    let load_pages = load_average();

    // The whole chain, as `hsc audit verify` reads it.
    let start = Instant::now();
    let first = verify::verify(&svc.db, &key, &verify::Range::default(), None, &mut ())
        .await
        .expect("the verification");
    let first_time = start.elapsed();

    let writers = writers::measure_writers(&db, &svc.db, &world).await;

    let start = Instant::now();
    let second = verify::verify(&svc.db, &key, &verify::Range::default(), None, &mut ())
        .await
        .expect("the verification");
    let second_time = start.elapsed();

    println!(
        "\nload average {load_before} before the pages, {load_pages} after them, {} at the end",
        load_average()
    );
    pages::print_pages(&measured);
    println!("\nverifying the chain (verify::verify over every row):");
    print_verify("after the load", &first, first_time);
    print_verify("after the writers", &second, second_time);
    writers.print();
    for m in &measured {
        m.print_plans();
    }

    svc.db.close().await;
    drop(db);
    println!(
        "\nwhole bench: {:.0} s ({:.0} s of it generating and loading)",
        total.elapsed().as_secs_f64(),
        load_time.as_secs_f64()
    );
}

async fn sign_in(svc: &Services, client: &Client, email: &str) -> Session {
    match auth::login(svc, client, email, PASSWORD).await {
        Ok(LoginStep::LoggedIn(s)) => s,
        Ok(_) => panic!("{email} was asked for a second factor"),
        Err(e) => panic!("{email} could not sign in: {e}"),
    }
}

fn print_distribution(world: &World, c: &Counts) {
    let n = world.events.max(1) as f64;
    let pct = |k: u64| 100.0 * k as f64 / n;
    println!(
        "\nevents from {} to {} ({} months, one partition each):",
        world.start.format("%Y-%m-%d"),
        world.end.format("%Y-%m-%d"),
        generate::MONTHS
    );
    for (label, k) in [
        ("busy user (physician0)", c.busy_user),
        ("busy patient (patient0)", c.busy_patient),
        ("RECORD_VIEW", c.record_view),
        ("severity HIGH", c.high),
        ("severity CRITICAL", c.critical),
        ("outcome denied", c.denied),
        ("details with the word", c.word),
        ("seen by records staff", c.records_staff_visible),
    ] {
        println!("  {label:<26} {k:>10}  {:>5.1} %", pct(k));
    }
}

/// The machine's load, printed beside the figures: other work on 2 cores shows in the tails.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

pub struct Stats {
    median: Duration,
    p99: Duration,
}

pub fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let n = samples.len();
    Stats {
        median: samples[n / 2],
        // Nearest rank: with few runs, the slowest.
        p99: samples[(n * 99).div_ceil(100) - 1],
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn print_verify(when: &str, report: &verify::Report, took: Duration) {
    println!(
        "  {when:<18} seq {}..{}: {} rows in {:.1} s = {:.0} rows/s, {}",
        report.from,
        report.to,
        report.rows,
        took.as_secs_f64(),
        report.rows as f64 / took.as_secs_f64(),
        match &report.problem {
            None => "intact".to_string(),
            Some(p) => format!("NOT INTACT: {p}"),
        }
    );
}
