//! The records browser and detail view at clinic scale: 100,000 patients, 1,000,000 records (each with
//! its first version), 50,000 grants, ~300 staff.
//!
//! `cargo bench --bench records_scale` starts a throwaway private PostgreSQL in a temporary directory,
//! runs the migrations, generates the clinic from a fixed seed and loads it with COPY (generate.rs),
//! then times, for the physician with the most grants:
//! - a. a browser page of 50 through the real service, first page and 20 pages deep;
//! - b. the same page SQL alone under row-level security, with its EXPLAIN (ANALYZE, BUFFERS);
//! - c. the same 50 rows read by primary key without row-level security (the floor);
//! - d. the detail view of 600 different records the physician may see;
//! - e. the Grants tab's first page over all 50,000 grants as records staff, and filtered by a
//!   grantee's name.
//!
//! Nothing here asserts a time; it prints figures for BENCHMARKS.md.

mod generate;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use sqlx::Row;
use uuid::Uuid;

use generate::{KEY, PASSWORD, PHYSICIANS, SEED, World};
use hsc::config::{Config, Sources};
use hsc::crypto::Keyring;
use hsc::db::cluster::ClusterOptions;
use hsc::db::{Actor, Database, Maintenance};
use hsc::services::audit::Client;
use hsc::services::auth::{self, LoginStep};
use hsc::services::grants::{self, GrantFilter};
use hsc::services::records::{self, Cursor, Filter};
use hsc::services::sessions::Session;
use hsc::services::users::Role;
use hsc::services::{Policy, Services};

/// The database inside the throwaway cluster.
const DATABASE: &str = "hsc_scale";

const PAGE: usize = 50;
/// The deep page is the one after this many pages.
const DEEP_PAGES: usize = 20;
const RUNS: usize = 200;
/// Runs before each measurement that are not counted (caches, the first plans of each connection).
const WARM_UP: usize = 20;
const VIEWS: usize = 600;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let total = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("hsc-scale-")
        .tempdir()
        .expect("a temporary directory");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("permissions");
    let mut env = BTreeMap::new();
    env.insert("HSC_DATA_DIR".to_string(), dir.path().display().to_string());
    let config =
        Config::from_sources(&Sources::from_maps(env, dir.path().to_path_buf())).expect("config");
    let options = ClusterOptions {
        unsafe_fast: true,
        // For the load only: fewer checkpoints during COPY, more memory for VACUUM.
        extra_conf: vec![
            "max_wal_size = '8GB'".into(),
            "checkpoint_timeout = '30min'".into(),
            "maintenance_work_mem = '256MB'".into(),
        ],
        ..ClusterOptions::default()
    };
    let db = Database::connect_local(&config, DATABASE, options.clone())
        .await
        .expect("the private cluster");
    hsc::db::migrate::run(&db).await.expect("migrations");

    println!("generating (seed {SEED:#x}):");
    let start = Instant::now();
    let world = Arc::new(generate::plan(Utc::now().date_naive()));
    generate::load_clinic(&db, &config, &options, &world).await;
    println!(
        "  {:<22} {:>9}       {:>7.1} s",
        "total",
        "",
        start.elapsed().as_secs_f64()
    );

    let mut policy = Policy::from_config(&config);
    policy.mfa_roles.clear();
    let svc = Services {
        db,
        keyring: Keyring::new(&zeroize::Zeroizing::new(KEY), &[]),
        policy,
    };
    measure(&svc, &world).await;
    svc.db.close().await;
    println!("\nwhole bench: {:.0} s", total.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------------------
// Who is measured.

/// The physician with the most all-records grants: the widest browser page to merge.
fn busiest_physician(world: &World) -> usize {
    let mut all_records = vec![0usize; PHYSICIANS];
    for g in &world.grants {
        if usize::from(g.grantee) < PHYSICIANS && g.selected.is_empty() {
            all_records[usize::from(g.grantee)] += 1;
        }
    }
    (0..PHYSICIANS)
        .max_by_key(|&i| (all_records[i], std::cmp::Reverse(i)))
        .expect("physicians")
}

/// Every record `physician` may see: their provider rows and what their grants cover.
fn visible_to(world: &World, physician: usize) -> Vec<Uuid> {
    let me = physician as u16;
    let mut patients = HashSet::new();
    let mut listed = HashSet::new();
    let mut selected_grants = 0;
    for g in world.grants.iter().filter(|g| g.grantee == me) {
        if g.selected.is_empty() {
            patients.insert(g.patient);
        } else {
            selected_grants += 1;
            listed.extend(g.selected.iter().copied());
        }
    }
    let mut provider_rows = 0;
    let mut visible = Vec::new();
    for (i, r) in world.records.iter().enumerate() {
        let own = r.provider == me;
        provider_rows += usize::from(own);
        if own || patients.contains(&r.patient) || listed.contains(&(i as u32)) {
            visible.push(r.id);
        }
    }
    println!(
        "\nmeasured as {}: provider of {provider_rows} records; all-records grants from {} patients, \
         {selected_grants} selected-records grants; {} records visible in all",
        generate::email("physician", physician),
        patients.len(),
        visible.len()
    );
    visible
}

// ---------------------------------------------------------------------------------------------
// Measurements.

struct Stats {
    runs: usize,
    median: Duration,
    p99: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let n = samples.len();
    Stats {
        runs: n,
        median: samples[n / 2],
        // Nearest rank.
        p99: samples[(n * 99).div_ceil(100) - 1],
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The machine's load, printed beside the figures: other work on 2 cores shows in the tails.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The page query's columns, for the rows of one page by primary key.
const BY_ID: &str = "SELECT m.id, m.patient_id, pt.first_name || ' ' || pt.last_name AS patient_name, \
    m.provider_id, pr.first_name || ' ' || pr.last_name AS provider_name, \
    m.record_type::text AS record_type, m.record_date, m.version, v.title \
    FROM medical_records m \
    LEFT JOIN users pt ON pt.id = m.patient_id \
    LEFT JOIN users pr ON pr.id = m.provider_id \
    LEFT JOIN record_versions v ON v.record_id = m.id AND v.version = m.version \
    WHERE m.id = ANY($1) \
    ORDER BY m.record_date DESC, m.id DESC";

/// The browser's first cursor (as list.rs starts): later than any date, before every id.
fn first_cursor() -> Cursor {
    Cursor {
        record_date: NaiveDate::from_ymd_opt(10000, 1, 1).expect("a date PostgreSQL stores"),
        id: Uuid::nil(),
    }
}

fn page_sql() -> &'static str {
    records::page_sql(Role::Physician).expect("clinicians have a page")
}

fn page_query(
    sql: &str,
    user: Uuid,
    at: Cursor,
) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(user)
        .bind(at.record_date)
        .bind(at.id)
        .bind(NaiveDate::from_ymd_opt(1, 1, 1).expect("a date"))
        .bind(PAGE as i64)
}

/// The page SQL alone: as `user` under row-level security (the application role, as every service
/// transaction), or as the owner without it. Only the query is timed, not the transaction around it.
async fn page_sql_runs(
    svc: &Services,
    user: Uuid,
    at: Cursor,
    rls: bool,
) -> (Vec<Duration>, Vec<Uuid>) {
    let mut samples = Vec::with_capacity(RUNS);
    let mut ids = Vec::new();
    for run in 0..WARM_UP + RUNS {
        let (mut acting, mut owner) = (None, None);
        let conn = if rls {
            let mut tx = svc
                .db
                .begin(Actor::User(user))
                .await
                .expect("a transaction");
            // As the service runs it: the connection keeps the generic plan.
            sqlx::query(records::PAGE_PLAN)
                .execute(tx.conn())
                .await
                .expect("the plan setting");
            acting.insert(tx).conn()
        } else {
            let mut tx = svc
                .db
                .begin_maintenance(Maintenance::Seed)
                .await
                .expect("a transaction");
            // The page reads the clinician's grant sets from the transaction, which the door's
            // hsc_set_actor gathers; as the owner (no row-level security) gather them the same way.
            sqlx::query("SELECT hsc_set_actor($1)")
                .bind(user)
                .execute(tx.conn())
                .await
                .expect("the grant sets");
            owner.insert(tx).conn()
        };
        let start = Instant::now();
        let rows = page_query(page_sql(), user, at)
            .fetch_all(conn)
            .await
            .expect("the page");
        let took = start.elapsed();
        // Read only: dropping the transaction rolls it back.
        drop((acting, owner));
        assert_eq!(rows.len(), PAGE, "a full page");
        if run >= WARM_UP {
            samples.push(took);
        }
        ids = rows.iter().map(|r| r.get::<Uuid, _>("id")).collect();
    }
    (samples, ids)
}

/// The same rows by primary key as the owner, without row-level security.
async fn by_id_runs(svc: &Services, ids: &[Uuid]) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(RUNS);
    for run in 0..WARM_UP + RUNS {
        let mut tx = svc
            .db
            .begin_maintenance(Maintenance::Seed)
            .await
            .expect("an owner transaction");
        let start = Instant::now();
        let rows = sqlx::query(BY_ID)
            .bind(ids)
            .fetch_all(tx.conn())
            .await
            .expect("the rows");
        let took = start.elapsed();
        drop(tx);
        assert_eq!(rows.len(), ids.len());
        if run >= WARM_UP {
            samples.push(took);
        }
    }
    samples
}

/// The browser's page through the service: session check, page query, titles opened, RECORD_LIST
/// audit row, commit.
async fn list_runs(
    svc: &Services,
    client: &Client,
    session: &Session,
    after: Option<Cursor>,
) -> (Vec<Duration>, Vec<Uuid>) {
    let mut samples = Vec::with_capacity(RUNS);
    let mut ids = Vec::new();
    for run in 0..WARM_UP + RUNS {
        let start = Instant::now();
        let page = records::list(svc, client, session, &Filter::default(), after, PAGE)
            .await
            .expect("a page");
        let took = start.elapsed();
        assert_eq!(page.records.len(), PAGE, "a full page");
        if run >= WARM_UP {
            samples.push(took);
        }
        ids = page.records.iter().map(|r| r.id).collect();
    }
    (samples, ids)
}

/// The Grants tab's page through the service under `filter`: session check, page query, GRANT_LIST
/// audit row, commit.
async fn grant_list_runs(
    svc: &Services,
    client: &Client,
    session: &Session,
    filter: &str,
) -> Vec<Duration> {
    let filter = GrantFilter::parse(filter).expect("a filter");
    let mut samples = Vec::with_capacity(RUNS);
    for run in 0..WARM_UP + RUNS {
        let start = Instant::now();
        let page = grants::list(svc, client, session, &filter, None, PAGE)
            .await
            .expect("a page of grants");
        let took = start.elapsed();
        assert!(!page.grants.is_empty(), "grants to list");
        if run >= WARM_UP {
            samples.push(took);
        }
    }
    samples
}

/// The grants page under `grantee:SURNAME` as the service runs it, explained.
async fn explain_grants(svc: &Services, staff: Uuid, surname: &str) -> Vec<String> {
    let mut tx = svc
        .db
        .begin(Actor::User(staff))
        .await
        .expect("a transaction");
    sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
        .execute(tx.conn())
        .await
        .expect("plan mode");
    let grantees: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM users WHERE role <> 'patient' AND strpos(lower(last_name), lower($1)) > 0",
    )
    .bind(surname)
    .fetch_all(tx.conn())
    .await
    .expect("the grantees");
    let sql = format!("EXPLAIN (ANALYZE, BUFFERS) {}", grants::page_sql());
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(None::<Uuid>)
        .bind(None::<Uuid>)
        .bind("active")
        .bind(None::<i32>)
        .bind(None::<Vec<Uuid>>)
        .bind(Some(grantees))
        .bind(Vec::<String>::new())
        .bind(None::<chrono::DateTime<Utc>>)
        .bind(None::<Uuid>)
        .bind(PAGE as i64 + 1)
        .fetch_all(tx.conn())
        .await
        .expect("the plan")
}

/// Prints a plan whole, or (`full` false) only its scans of medical_records and its times, and says
/// whether medical_records was read by a Seq Scan.
fn print_plan(label: &str, full: bool, lines: Vec<String>) {
    println!("\nEXPLAIN (ANALYZE, BUFFERS) of {label}:");
    for line in &lines {
        if full || line.contains(" on medical_records ") || line.contains(" Time: ") {
            println!("  {line}");
        }
    }
    if lines
        .iter()
        .any(|l| l.contains("Seq Scan on medical_records"))
    {
        println!("  -> a Seq Scan on medical_records: this does not follow the access paths");
    } else {
        println!("  -> no Seq Scan on medical_records");
    }
}

async fn explain_page(svc: &Services, user: Uuid, at: Cursor) -> Vec<String> {
    let sql = format!("EXPLAIN (ANALYZE, BUFFERS) {}", page_sql());
    let mut tx = svc
        .db
        .begin(Actor::User(user))
        .await
        .expect("a transaction");
    // The plan the service gets: generic, as list() asks for.
    sqlx::query(records::PAGE_PLAN)
        .execute(tx.conn())
        .await
        .expect("the plan setting");
    page_query(&sql, user, at)
        .fetch_all(tx.conn())
        .await
        .expect("EXPLAIN")
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect()
}

async fn explain_by_id(svc: &Services, ids: &[Uuid]) -> Vec<String> {
    let sql = format!("EXPLAIN (ANALYZE, BUFFERS) {BY_ID}");
    let mut tx = svc
        .db
        .begin_maintenance(Maintenance::Seed)
        .await
        .expect("a transaction");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .fetch_all(tx.conn())
        .await
        .expect("EXPLAIN")
}

struct Line {
    what: &'static str,
    stats: Stats,
    target: &'static str,
}

async fn measure(svc: &Services, world: &World) {
    let physician = busiest_physician(world);
    let me = world.physicians[physician];
    let mut visible = visible_to(world, physician);
    let client = Client::command_line();
    let email = generate::email("physician", physician);
    let session = match auth::login(svc, &client, &email, PASSWORD).await {
        Ok(LoginStep::LoggedIn(s)) => s,
        Ok(_) => panic!("the physician was asked for a second factor"),
        Err(e) => panic!("the physician could not sign in: {e}"),
    };
    let load_before = load_average();

    // The cursor after DEEP_PAGES pages, followed through the service as the browser would.
    let mut deep = None;
    for _ in 0..DEEP_PAGES {
        let page = records::list(svc, &client, &session, &Filter::default(), deep, PAGE)
            .await
            .expect("a page");
        deep = Some(page.next.expect("more pages"));
    }
    let deep = deep.expect("a deep cursor");

    let mut lines = Vec::new();
    let mut line = |what, samples, target| {
        lines.push(Line {
            what,
            stats: stats(samples),
            target,
        })
    };
    let (samples, first_ids) = list_runs(svc, &client, &session, None).await;
    line("a. service list(), first page", samples, "");
    let (samples, deep_ids) = list_runs(svc, &client, &session, Some(deep)).await;
    line("a. service list(), page 21", samples, "");

    let (samples, ids) = page_sql_runs(svc, me, first_cursor(), true).await;
    assert_eq!(ids, first_ids, "the SQL alone returns the service's page");
    line("b. page SQL under RLS, first page", samples, "p99 <= 10 ms");
    let (samples, ids) = page_sql_runs(svc, me, deep, true).await;
    assert_eq!(ids, deep_ids, "the SQL alone returns the service's page");
    line("b. page SQL under RLS, page 21", samples, "p99 <= 10 ms");
    // Not a target: shows how much of (b) is row-level security and how much the query's shape.
    let (samples, ids) = page_sql_runs(svc, me, first_cursor(), false).await;
    assert_eq!(ids, first_ids, "the owner sees the same page");
    line("   page SQL as owner, no RLS, first page", samples, "");

    line(
        "c. same rows by PK, no RLS, first page",
        by_id_runs(svc, &first_ids).await,
        "b <= 2 x c",
    );
    line(
        "c. same rows by PK, no RLS, page 21",
        by_id_runs(svc, &deep_ids).await,
        "b <= 2 x c",
    );

    // Different records each time, in a fixed random order.
    visible.shuffle(&mut SmallRng::seed_from_u64(SEED ^ 2));
    let mut views = Vec::with_capacity(VIEWS);
    for (i, id) in visible.iter().take(WARM_UP + VIEWS).enumerate() {
        let start = Instant::now();
        let detail = records::view(svc, &client, &session, *id)
            .await
            .expect("the record");
        let took = start.elapsed();
        assert!(detail.content.is_some(), "a physician reads the content");
        if i >= WARM_UP {
            views.push(took);
        }
    }
    line(
        "d. service view(), distinct records",
        views,
        "median <= 3 ms",
    );

    // The Grants tab over every generated grant, as records staff see it: the first page by expiry,
    // and the same filtered by the measured physician's surname (a name join on every row).
    let staff_email = generate::email("medical_records", 0);
    let staff = match auth::login(svc, &client, &staff_email, PASSWORD).await {
        Ok(LoginStep::LoggedIn(s)) => s,
        _ => panic!("the records staff member could not sign in"),
    };
    let surname: String = {
        let mut tx = svc
            .db
            .begin_maintenance(Maintenance::Seed)
            .await
            .expect("an owner transaction");
        sqlx::query_scalar("SELECT last_name FROM users WHERE id = $1")
            .bind(me)
            .fetch_one(tx.conn())
            .await
            .expect("the physician's surname")
    };
    line(
        "e. grants list(), records staff, first page",
        grant_list_runs(svc, &client, &staff, "").await,
        "",
    );
    line(
        "e. grants list(), grantee:SURNAME",
        grant_list_runs(svc, &client, &staff, &format!("grantee:{surname}")).await,
        "",
    );

    println!(
        "\nload average {load_before} before, {} after\n",
        load_average()
    );
    println!(
        "{:<42} {:>5} {:>10} {:>10}   target",
        "measurement", "runs", "median", "p99"
    );
    for l in &lines {
        println!(
            "{:<42} {:>5} {:>7.2} ms {:>7.2} ms   {}",
            l.what,
            l.stats.runs,
            ms(l.stats.median),
            ms(l.stats.p99),
            l.target
        );
    }

    print_plan(
        "the first page, as the physician under row-level security",
        true,
        explain_page(svc, me, first_cursor()).await,
    );
    print_plan(
        "page 21, as the physician under row-level security (scans of medical_records only)",
        false,
        explain_page(svc, me, deep).await,
    );
    print_plan(
        "the grants page filtered by grantee:SURNAME, as records staff",
        true,
        explain_grants(svc, staff.user.id, &surname).await,
    );
    print_plan(
        "the first page's rows by primary key, as the owner",
        true,
        explain_by_id(svc, &first_ids).await,
    );
}
