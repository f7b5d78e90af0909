//! The generated audit trail: ~300 staff and 10,000 patients (users, via COPY), then the events
//! (made in events.rs), spread evenly over the 14 calendar months before this one, written straight
//! into `audit_logs` as the owner with a real hash chain computed with the chain's own `Linker`.
//!
//! Each month's partition is created by `hsc_audit_partition` in the transaction that COPYs the
//! month into it, so the COPY can FREEZE its rows (no hint bits to set or VACUUM to run later) and,
//! with `wal_level = minimal`, skip the WAL. The parent's filter indexes are dropped before the load
//! and recreated from their own definitions after it; the primary key stays throughout.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::mpsc;
use uuid::Uuid;

use hsc::db::{Database, Maintenance};
use hsc::services::passwords;

/// Fixed, so two runs generate the same trail (only the months it falls in differ).
pub const SEED: u64 = 0x4853_435f_4155_4454;
/// The keyring's key (nothing is sealed with it here; the services want one).
pub const KEY: [u8; 32] = [7u8; 32];
/// The audit chain's HMAC key, fixed for the bench.
pub const AUDIT_KEY: [u8; 32] = [11u8; 32];
pub const PASSWORD: &str = "Test123!@#";

const PHYSICIANS: usize = 200;
const NURSES: usize = 90;
const RECORDS_STAFF: usize = 5;
const BILLING_STAFF: usize = 4;
pub const PATIENTS: usize = 10_000;
/// Record `r` is patient `r % PATIENTS`'s, so each patient has this many.
pub const RECORDS_PER_PATIENT: usize = 10;
/// The months before this one that the events fill, one partition each.
pub const MONTHS: u32 = 14;
/// The word a tenth of the events' details carry, for the free-text filter.
pub const WORD: &str = "telehealth";

/// COPY data goes to the server in chunks of about this size, so memory stays flat.
pub const CHUNK: usize = 1 << 20;

/// The people and records the events name.
pub struct World {
    pub admin: Uuid,
    pub physicians: Vec<Uuid>,
    nurses: Vec<Uuid>,
    pub records_staff: Vec<Uuid>,
    billing_staff: Vec<Uuid>,
    /// Everyone but patients, admin first.
    pub staff: Vec<Uuid>,
    pub patients: Vec<Uuid>,
    /// Record `r` belongs to patient `r % PATIENTS`.
    pub records: Vec<Uuid>,
    /// The first instant of the first month.
    pub start: DateTime<Utc>,
    /// The first instant of this month: the events end before it.
    pub end: DateTime<Utc>,
    pub events: u64,
}

impl World {
    /// The physician behind 6 % of all events.
    pub fn busy_user(&self) -> Uuid {
        self.physicians[0]
    }

    /// The `k`-th record of patient `p`.
    pub fn record(&self, p: usize, k: usize) -> Uuid {
        self.records[p + PATIENTS * k]
    }

    /// The first instant of month `m` (0 = the first month of the trail).
    pub fn month_start(&self, m: u32) -> DateTime<Utc> {
        self.start + Months::new(m)
    }
}

pub fn uuid(rng: &mut SmallRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

/// Who and which records; the events themselves are generated while they are loaded.
pub fn plan(today: NaiveDate, events: u64) -> World {
    let mut rng = SmallRng::seed_from_u64(SEED);
    let mut ids = |n: usize| (0..n).map(|_| uuid(&mut rng)).collect::<Vec<_>>();
    let physicians = ids(PHYSICIANS);
    let nurses = ids(NURSES);
    let records_staff = ids(RECORDS_STAFF);
    let billing_staff = ids(BILLING_STAFF);
    let patients = ids(PATIENTS);
    let records = ids(PATIENTS * RECORDS_PER_PATIENT);
    let admin = Uuid::from_u128(1);
    let staff = std::iter::once(admin)
        .chain(physicians.iter().copied())
        .chain(nurses.iter().copied())
        .chain(records_staff.iter().copied())
        .chain(billing_staff.iter().copied())
        .collect();
    let this_month = today
        .with_day(1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("the first of this month")
        .and_utc();
    World {
        admin,
        physicians,
        nurses,
        records_staff,
        billing_staff,
        staff,
        patients,
        records,
        start: this_month - Months::new(MONTHS),
        end: this_month,
        events,
    }
}

/// How many generated events each measured filter matches, and the chain's last link.
#[derive(Debug, Clone)]
pub struct Counts {
    pub busy_user: u64,
    pub busy_patient: u64,
    pub record_view: u64,
    pub high: u64,
    pub critical: u64,
    pub denied: u64,
    pub word: u64,
    /// Events records staff may see (about a medical record, or break-glass).
    pub records_staff_visible: u64,
    pub by_month: Vec<u64>,
    /// Events about each of the busy patient's records.
    pub busy_records: [u64; RECORDS_PER_PATIENT],
    pub last_seq: i64,
    pub last_hash: [u8; 32],
    pub last_at: DateTime<Utc>,
}

const SYLLABLES: [&str; 24] = [
    "ba", "ce", "di", "fo", "ga", "he", "ki", "lu", "ma", "ne", "or", "pi", "ra", "se", "ti", "ul",
    "ve", "wo", "xa", "yo", "zu", "an", "el", "is",
];

fn name(rng: &mut SmallRng) -> String {
    let mut w = String::new();
    for _ in 0..rng.random_range(2..=4) {
        w.push_str(SYLLABLES[rng.random_range(0..SYLLABLES.len())]);
    }
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// The sign-in email of the `i`-th user of `role`.
pub fn email(role: &str, i: usize) -> String {
    format!("{role}{i}@bench.example")
}

/// A chunk of COPY data, or the start of the next month's partition.
pub enum Piece {
    Month(DateTime<Utc>),
    Rows(Vec<u8>),
}

/// Loads the users with one COPY (one shared argon2 hash of the seed password).
pub async fn load_users(db: &Database, world: &World) {
    let start = Instant::now();
    let hash = passwords::hash(PASSWORD).expect("an argon2 hash");
    let mut rng = SmallRng::seed_from_u64(SEED ^ 1);
    let mut buf = Vec::new();
    let groups: [(&[Uuid], &str); 6] = [
        (std::slice::from_ref(&world.admin), "admin"),
        (&world.physicians, "physician"),
        (&world.nurses, "nurse"),
        (&world.records_staff, "medical_records"),
        (&world.billing_staff, "billing_staff"),
        (&world.patients, "patient"),
    ];
    for (ids, role) in groups {
        for (i, id) in ids.iter().enumerate() {
            let (first, last) = (name(&mut rng), name(&mut rng));
            let extra = match role {
                "physician" => format!("MD-A{i:05},{},Internal medicine", 1_000_000_000 + i),
                "nurse" => format!("RN-A{i:05},,"),
                _ => ",,".to_string(),
            };
            writeln!(
                buf,
                "{id},{},\"{hash}\",{first},{last},{role},{extra},now",
                email(role, i)
            )
            .expect("a row");
        }
    }
    let mut txn = db
        .begin_maintenance(Maintenance::Seed)
        .await
        .expect("a maintenance transaction");
    let mut copy = txn
        .conn()
        .copy_in_raw(
            "COPY users (id, email, password_hash, first_name, last_name, role, license_number, npi, \
             specialization, last_password_change_at) FROM STDIN (FORMAT csv)",
        )
        .await
        .expect("COPY FROM STDIN");
    copy.send(buf).await.expect("COPY data");
    let rows = copy.finish().await.expect("COPY accepted");
    txn.commit().await.expect("commit");
    println!(
        "  {:<26} {rows:>10} rows  {:>7.1} s",
        "users",
        start.elapsed().as_secs_f64()
    );
}

/// The filter indexes of `audit_logs` (all but the primary key), as `(name, CREATE INDEX …)`.
pub async fn filter_indexes(db: &Database) -> Vec<(String, String)> {
    let mut tx = db
        .begin_maintenance(Maintenance::Seed)
        .await
        .expect("an owner transaction");
    sqlx::query_as(
        "SELECT i.relname::text, pg_get_indexdef(i.oid) FROM pg_index x \
         JOIN pg_class i ON i.oid = x.indexrelid \
         WHERE x.indrelid = 'audit_logs'::regclass AND NOT x.indisprimary ORDER BY 1",
    )
    .fetch_all(tx.conn())
    .await
    .expect("the filter indexes")
}

/// Loads the events month by month, then rebuilds the filter indexes, ANALYZEs and moves the chain's
/// head to the last row. Prints the time of each step.
pub async fn load_audit(db: &Database, world: &Arc<World>) -> Counts {
    let indexes = filter_indexes(db).await;
    let mut tx = db
        .begin_maintenance(Maintenance::Seed)
        .await
        .expect("an owner transaction");
    for (name, _) in &indexes {
        // The names come from the catalog, not from input.
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX {name}")))
            .execute(tx.conn())
            .await
            .expect("DROP INDEX");
    }
    tx.commit().await.expect("commit");

    let load_start = Instant::now();
    let (sender, mut rx) = mpsc::channel::<Piece>(4);
    let w = Arc::clone(world);
    let producer = std::thread::spawn(move || crate::events::generate(&w, sender));
    let mut next = rx.recv().await;
    let mut total = 0u64;
    while let Some(Piece::Month(at)) = next {
        let start = Instant::now();
        let mut txn = db
            .begin_maintenance(Maintenance::Seed)
            .await
            .expect("a maintenance transaction");
        // Simple-protocol statements only before COPY … FREEZE: it refuses to run after a portal
        // this transaction left open. The time is the generator's own, not input.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "SELECT hsc_audit_partition('{}'::timestamptz)",
            at.to_rfc3339()
        )))
        .execute(txn.conn())
        .await
        .expect("the month's partition");
        let partition = format!("audit_logs_y{:04}m{:02}", at.year(), at.month());
        let statement = format!(
            "COPY {partition} (seq, id, occurred_at, xact, user_id, session_id, action, severity, \
             resource_type, resource_id, patient_id, ip_address, user_agent, outcome, details, \
             prev_hash, hash) FROM STDIN (FORMAT csv, FREEZE)"
        );
        let mut copy = txn
            .conn()
            .copy_in_raw(&statement)
            .await
            .expect("COPY FROM STDIN");
        next = loop {
            match rx.recv().await {
                Some(Piece::Rows(chunk)) => {
                    copy.send(chunk).await.expect("COPY data");
                }
                other => break other,
            }
        };
        let rows = copy.finish().await.expect("COPY accepted");
        txn.commit().await.expect("commit");
        total += rows;
        println!(
            "  {partition:<26} {rows:>10} rows  {:>7.1} s",
            start.elapsed().as_secs_f64()
        );
    }
    let counts = producer.join().expect("the generator thread");
    println!(
        "  {:<26} {total:>10} rows  {:>7.1} s  ({:.0} rows/s, generating the chain included)",
        "audit_logs COPY, all months",
        load_start.elapsed().as_secs_f64(),
        total as f64 / load_start.elapsed().as_secs_f64()
    );

    // Two index builds at a time: one per core.
    let start = Instant::now();
    let (a, b): (Vec<_>, Vec<_>) = indexes.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let strip =
        |part: Vec<(usize, &(String, String))>| part.into_iter().map(|(_, d)| d.clone()).collect();
    tokio::join!(build_indexes(db, strip(a)), build_indexes(db, strip(b)));
    println!(
        "  {:<26} {:>10}       {:>7.1} s",
        "7 filter indexes, 2 at once",
        "",
        start.elapsed().as_secs_f64()
    );
    assert_eq!(
        filter_indexes(db).await,
        indexes,
        "the migration's filter indexes, as they were"
    );
    let mut tx = db
        .begin_maintenance(Maintenance::Seed)
        .await
        .expect("an owner transaction");
    // Every index valid, and every partition with the parent's eight (the primary key included).
    let (invalid, partitions, fewest, most): (i64, i64, i64, i64) = sqlx::query_as(
        "WITH parts AS (SELECT p.relid, (SELECT count(*) FROM pg_index x WHERE x.indrelid = p.relid) AS n \
                        FROM pg_partition_tree('audit_logs') p WHERE p.isleaf) \
         SELECT (SELECT count(*) FROM pg_partition_tree('audit_logs') t JOIN pg_index x ON x.indrelid = t.relid \
                 WHERE NOT x.indisvalid), \
                count(*), min(n), max(n) FROM parts",
    )
    .fetch_one(tx.conn())
    .await
    .expect("the indexes");
    drop(tx);
    assert_eq!(
        (invalid, fewest, most),
        (0, indexes.len() as i64 + 1, indexes.len() as i64 + 1),
        "every partition has the migration's indexes, all valid"
    );
    println!(
        "  {:<26} {:>10}       checked: {partitions} partitions, {} indexes each, all valid",
        "",
        "",
        indexes.len() + 1
    );

    let start = Instant::now();
    let mut tx = db
        .begin_maintenance(Maintenance::Seed)
        .await
        .expect("an owner transaction");
    sqlx::query("ANALYZE users, audit_logs")
        .execute(tx.conn())
        .await
        .expect("ANALYZE");
    sqlx::query("UPDATE audit_chain SET seq = $1, hash = $2, occurred_at = $3")
        .bind(counts.last_seq)
        .bind(counts.last_hash.to_vec())
        .bind(counts.last_at)
        .execute(tx.conn())
        .await
        .expect("the chain's head");
    tx.commit().await.expect("commit");
    println!(
        "  {:<26} {:>10}       {:>7.1} s",
        "ANALYZE",
        "",
        start.elapsed().as_secs_f64()
    );
    let mut tx = db
        .begin_maintenance(Maintenance::Seed)
        .await
        .expect("an owner transaction");
    let (heap, indexes, database): (i64, i64, i64) = sqlx::query_as(
        "SELECT sum(pg_table_size(relid))::bigint, sum(pg_indexes_size(relid))::bigint, \
                pg_database_size(current_database()) \
         FROM pg_partition_tree('audit_logs') WHERE isleaf",
    )
    .fetch_one(tx.conn())
    .await
    .expect("the sizes");
    drop(tx);
    let gib = |b: i64| b as f64 / f64::from(1u32 << 30);
    println!(
        "  sizes: audit_logs {:.2} GiB of rows, {:.2} GiB of indexes; the database {:.2} GiB",
        gib(heap),
        gib(indexes),
        gib(database)
    );
    counts
}

/// Runs `definitions` (`(name, CREATE INDEX …)`) one after the other, each without parallel
/// workers (the other connection has the other core).
async fn build_indexes(db: &Database, definitions: Vec<(String, String)>) {
    for (name, definition) in definitions {
        let one = Instant::now();
        let mut tx = db
            .begin_maintenance(Maintenance::Seed)
            .await
            .expect("an owner transaction");
        sqlx::query("SET LOCAL max_parallel_maintenance_workers = 0")
            .execute(tx.conn())
            .await
            .expect("SET");
        // The definitions come from the catalog, not from input. The catalog prints a partitioned
        // index as `ON ONLY` the parent (an index of its own, invalid until each partition's is
        // attached); without ONLY it builds every partition's and attaches them, as the migration.
        let definition = definition.replacen(" ON ONLY ", " ON ", 1);
        sqlx::query(sqlx::AssertSqlSafe(definition))
            .execute(tx.conn())
            .await
            .expect("CREATE INDEX");
        tx.commit().await.expect("commit");
        println!(
            "  {name:<26} {:>10}       {:>7.1} s",
            "",
            one.elapsed().as_secs_f64()
        );
    }
}
