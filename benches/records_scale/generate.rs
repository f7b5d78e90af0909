//! The generated clinic: a plan made from a fixed seed, loaded with COPY.
//!
//! Words are synthetic syllables, never real names or chart text. Content is sealed with the real
//! keyring exactly as the services seal it: table `medical_records` for the record row and
//! `record_versions` for its version-1 row, row id = record id, version 1.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use chrono::{Days, NaiveDate, Utc};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::mpsc;
use uuid::Uuid;

use hsc::config::Config;
use hsc::crypto::{Aad, Keyring};
use hsc::db::cluster::{ClusterOptions, LocalCluster};
use hsc::db::{Database, Maintenance};
use hsc::services::passwords;
use hsc::services::records::RecordType;

/// Fixed, so two runs generate the same clinic (only nonces, salts and "today" differ).
pub const SEED: u64 = 0x4853_435f_5343_414c;
pub const KEY: [u8; 32] = [7u8; 32];
pub const PASSWORD: &str = "Test123!@#";

pub const PHYSICIANS: usize = 200;
const NURSES: usize = 100;
const RECORDS_STAFF: usize = 5;
const BILLING_STAFF: usize = 5;
const PATIENTS: usize = 100_000;
const RECORDS: usize = 1_000_000;
const GRANTS: usize = 50_000;
/// Record dates spread over the last six years.
const HISTORY_DAYS: u64 = 6 * 365;

/// COPY data goes to the server in chunks of about this size, so memory stays flat.
const CHUNK: usize = 1 << 20;

/// One record as planned; its words are regenerated from its id whenever they are needed.
pub struct Planned {
    pub id: Uuid,
    pub patient: u32,
    pub provider: u16,
    /// A nurse wrote it; otherwise the provider did.
    nurse: Option<u16>,
    record_type: RecordType,
    date: NaiveDate,
}

pub struct GrantPlan {
    id: Uuid,
    pub patient: u32,
    /// Physicians first, then nurses.
    pub grantee: u16,
    /// Indexes into `World::records`; empty for ALL_RECORDS.
    pub selected: Vec<u32>,
    read_write: bool,
    expires_in_days: u64,
}

pub struct World {
    admin: Uuid,
    pub physicians: Vec<Uuid>,
    nurses: Vec<Uuid>,
    records_staff: Vec<Uuid>,
    billing_staff: Vec<Uuid>,
    patients: Vec<Uuid>,
    /// In insertion order: by date, as a clinic writes them.
    pub records: Vec<Planned>,
    pub grants: Vec<GrantPlan>,
}

impl World {
    fn clinician(&self, i: u16) -> Uuid {
        let i = usize::from(i);
        if i < PHYSICIANS {
            self.physicians[i]
        } else {
            self.nurses[i - PHYSICIANS]
        }
    }

    fn author(&self, r: &Planned) -> Uuid {
        match r.nurse {
            Some(n) => self.nurses[usize::from(n)],
            None => self.physicians[usize::from(r.provider)],
        }
    }
}

fn uuid(rng: &mut SmallRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

/// Who, what and when; no content yet.
pub fn plan(today: NaiveDate) -> World {
    let mut rng = SmallRng::seed_from_u64(SEED);
    let mut ids = |n: usize| (0..n).map(|_| uuid(&mut rng)).collect::<Vec<_>>();
    let physicians = ids(PHYSICIANS);
    let nurses = ids(NURSES);
    let records_staff = ids(RECORDS_STAFF);
    let billing_staff = ids(BILLING_STAFF);
    let patients = ids(PATIENTS);

    let first_day = today - Days::new(HISTORY_DAYS);
    let mut records: Vec<Planned> = (0..RECORDS)
        .map(|_| Planned {
            id: uuid(&mut rng),
            patient: rng.random_range(0..PATIENTS as u32),
            provider: rng.random_range(0..PHYSICIANS as u16),
            nurse: rng
                .random_bool(0.15)
                .then(|| rng.random_range(0..NURSES as u16)),
            record_type: RecordType::ALL[rng.random_range(0..RecordType::ALL.len())],
            date: first_day + Days::new(rng.random_range(0..=HISTORY_DAYS)),
        })
        .collect();
    records.sort_by_key(|r| r.date);

    // Each patient's records (counting sort), to list 1–3 of them in a selected-records grant.
    let mut start = vec![0u32; PATIENTS + 1];
    for r in &records {
        start[r.patient as usize + 1] += 1;
    }
    for p in 0..PATIENTS {
        start[p + 1] += start[p];
    }
    let mut next = start.clone();
    let mut by_patient = vec![0u32; RECORDS];
    for (i, r) in records.iter().enumerate() {
        let slot = &mut next[r.patient as usize];
        by_patient[*slot as usize] = i as u32;
        *slot += 1;
    }

    let grants = (0..GRANTS)
        .map(|_| {
            let patient = rng.random_range(0..PATIENTS as u32);
            let p = patient as usize;
            let own = &by_patient[start[p] as usize..start[p + 1] as usize];
            let selected = if !own.is_empty() && rng.random_bool(0.15) {
                let k = rng.random_range(1..=3usize).min(own.len());
                rand::seq::index::sample(&mut rng, own.len(), k)
                    .into_iter()
                    .map(|i| own[i])
                    .collect()
            } else {
                Vec::new()
            };
            GrantPlan {
                id: uuid(&mut rng),
                patient,
                grantee: rng.random_range(0..(PHYSICIANS + NURSES) as u16),
                selected,
                read_write: rng.random_bool(0.1),
                expires_in_days: rng.random_range(30..=730),
            }
        })
        .collect();
    World {
        admin: Uuid::from_u128(1),
        physicians,
        nurses,
        records_staff,
        billing_staff,
        patients,
        records,
        grants,
    }
}

const SYLLABLES: [&str; 24] = [
    "ba", "ce", "di", "fo", "ga", "he", "ki", "lu", "ma", "ne", "or", "pi", "ra", "se", "ti", "ul",
    "ve", "wo", "xa", "yo", "zu", "an", "el", "is",
];

fn word(rng: &mut SmallRng, out: &mut String) {
    for _ in 0..rng.random_range(2..=4) {
        out.push_str(SYLLABLES[rng.random_range(0..SYLLABLES.len())]);
    }
}

fn name(rng: &mut SmallRng) -> String {
    let mut w = String::new();
    word(rng, &mut w);
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// A record's title, description and metadata JSON, the same every time for the same record.
fn content(r: &Planned) -> (String, String, String) {
    let mut rng = SmallRng::seed_from_u64(r.id.as_u64_pair().0);
    let mut title = format!("{}: ", r.record_type.label());
    word(&mut rng, &mut title);
    title.push(' ');
    word(&mut rng, &mut title);
    let mut description = String::new();
    for i in 0..rng.random_range(10..=50) {
        if i > 0 {
            description.push(' ');
        }
        word(&mut rng, &mut description);
    }
    description.push('.');
    let mut note = String::new();
    word(&mut rng, &mut note);
    let metadata = serde_json::json!({
        "code": format!("Q{}.{}", rng.random_range(10..99), rng.random_range(0..9)),
        "value": rng.random_range(40..180),
        "note": note,
    })
    .to_string();
    (title, description, metadata)
}

/// Seals title, description and metadata for `table` as the services do and writes them as three
/// CSV fields.
fn seal_content(keyring: &Keyring, table: &'static str, r: &Planned, out: &mut Vec<u8>) {
    let (title, description, metadata) = content(r);
    let fields = [
        ("title", title.trim()),
        ("description", description.as_str()),
        ("metadata", metadata.as_str()),
    ];
    for (i, (column, text)) in fields.into_iter().enumerate() {
        let aad = Aad {
            table,
            column,
            row_id: r.id,
            version: 1,
        };
        if i > 0 {
            out.push(b',');
        }
        push_bytea(out, &keyring.seal(&aad, text.as_bytes()).expect("sealed"));
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A bytea in CSV: `\x` and hex (a backslash is not special in CSV).
fn push_bytea(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(b"\\x");
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

/// Where a generator thread writes CSV rows; full chunks go to the COPY.
struct Sink {
    buf: Vec<u8>,
    tx: mpsc::Sender<Vec<u8>>,
}

impl Sink {
    /// Call after each row.
    fn row_done(&mut self) {
        if self.buf.len() >= CHUNK {
            let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 64 * 1024));
            self.tx
                .blocking_send(full)
                .expect("the COPY stopped reading");
        }
    }

    fn finish(self) {
        if !self.buf.is_empty() {
            self.tx
                .blocking_send(self.buf)
                .expect("the COPY stopped reading");
        }
    }
}

/// Runs `generate` on its own thread (sealing is CPU work) while this task streams its chunks to
/// `COPY … FROM STDIN` as the owner, and prints how long the table took.
async fn load<F>(db: &Database, table: &str, statement: &'static str, generate: F)
where
    F: FnOnce(&mut Sink) + Send + 'static,
{
    let start = Instant::now();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(4);
    let producer = std::thread::spawn(move || {
        let mut sink = Sink {
            buf: Vec::with_capacity(CHUNK + 64 * 1024),
            tx,
        };
        generate(&mut sink);
        sink.finish();
    });
    let mut txn = db
        .begin_maintenance(Maintenance::Seed)
        .await
        .expect("a maintenance transaction");
    let mut copy = txn
        .conn()
        .copy_in_raw(statement)
        .await
        .expect("COPY FROM STDIN");
    while let Some(chunk) = rx.recv().await {
        copy.send(chunk).await.expect("COPY data");
    }
    let rows = copy.finish().await.expect("COPY accepted");
    txn.commit().await.expect("commit");
    producer.join().expect("the generator thread");
    println!(
        "  {table:<22} {rows:>9} rows  {:>7.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// Loads the planned clinic into the migrated, empty database, then VACUUM (ANALYZE).
pub async fn load_clinic(
    db: &Database,
    config: &Config,
    options: &ClusterOptions,
    world: &Arc<World>,
) {
    // record_access is kept by row triggers; a bulk load turns them off and builds the table once at
    // the end (hsc_rebuild_record_access), as a restore would.
    record_access_triggers(db, "DISABLE").await;
    // One argon2 hash for everyone: 100,000 of them would take most of an hour.
    let hash = passwords::hash(PASSWORD).expect("an argon2 hash");
    let w = Arc::clone(world);
    load(
        db,
        "users",
        "COPY users (id, email, password_hash, first_name, last_name, role, license_number, npi, \
         specialization, last_password_change_at) FROM STDIN (FORMAT csv)",
        move |sink| {
            let mut rng = SmallRng::seed_from_u64(SEED ^ 1);
            let groups: [(&[Uuid], &str); 6] = [
                (std::slice::from_ref(&w.admin), "admin"),
                (&w.physicians, "physician"),
                (&w.nurses, "nurse"),
                (&w.records_staff, "medical_records"),
                (&w.billing_staff, "billing_staff"),
                (&w.patients, "patient"),
            ];
            for (ids, role) in groups {
                for (i, id) in ids.iter().enumerate() {
                    let (first, last) = (name(&mut rng), name(&mut rng));
                    // License, NPI, specialization; the PHC string holds commas, so it is quoted.
                    let extra = match role {
                        "physician" => {
                            format!("MD-B{i:05},{},Internal medicine", 1_000_000_000 + i)
                        }
                        "nurse" => format!("RN-B{i:05},,"),
                        _ => ",,".to_string(),
                    };
                    writeln!(
                        sink.buf,
                        "{id},{},\"{hash}\",{first},{last},{role},{extra},now",
                        email(role, i)
                    )
                    .expect("a row");
                    sink.row_done();
                }
            }
        },
    )
    .await;

    for table in ["medical_records", "record_versions"] {
        let w = Arc::clone(world);
        let statement = if table == "medical_records" {
            "COPY medical_records (id, patient_id, provider_id, created_by, updated_by, record_type, \
             title, description, metadata, record_date) FROM STDIN (FORMAT csv)"
        } else {
            "COPY record_versions (record_id, version, patient_id, provider_id, record_type, title, \
             description, metadata, status, record_date, changed_by) FROM STDIN (FORMAT csv)"
        };
        load(db, table, statement, move |sink| {
            let keyring = Keyring::new(&zeroize::Zeroizing::new(KEY), &[]);
            for r in &w.records {
                let (patient, provider) = (
                    w.patients[r.patient as usize],
                    w.physicians[usize::from(r.provider)],
                );
                let (author, kind) = (w.author(r), r.record_type.as_str());
                if table == "medical_records" {
                    write!(
                        sink.buf,
                        "{},{patient},{provider},{author},{author},{kind},",
                        r.id
                    )
                    .expect("a row");
                    seal_content(&keyring, "medical_records", r, &mut sink.buf);
                    writeln!(sink.buf, ",{}", r.date).expect("a row");
                } else {
                    write!(sink.buf, "{},1,{patient},{provider},{kind},", r.id).expect("a row");
                    seal_content(&keyring, "record_versions", r, &mut sink.buf);
                    writeln!(sink.buf, ",active,{},{author}", r.date).expect("a row");
                }
                sink.row_done();
            }
        })
        .await;
    }

    let now = Utc::now();
    let w = Arc::clone(world);
    load(
        db,
        "access_grants",
        "COPY access_grants (id, patient_id, grantee_id, scope, access_level, expires_at, granted_by) \
         FROM STDIN (FORMAT csv)",
        move |sink| {
            for g in &w.grants {
                let patient = w.patients[g.patient as usize];
                let scope = if g.selected.is_empty() {
                    "ALL_RECORDS"
                } else {
                    "SELECTED_RECORDS"
                };
                let level = if g.read_write { "READ_WRITE" } else { "READ" };
                let expires = now + chrono::Duration::days(g.expires_in_days as i64);
                // Granted by the patient, as patients grant their own records.
                writeln!(
                    sink.buf,
                    "{},{patient},{},{scope},{level},{},{patient}",
                    g.id,
                    w.clinician(g.grantee),
                    expires.to_rfc3339()
                )
                .expect("a row");
                sink.row_done();
            }
        },
    )
    .await;

    let w = Arc::clone(world);
    load(
        db,
        "access_grant_records",
        "COPY access_grant_records (grant_id, record_id) FROM STDIN (FORMAT csv)",
        move |sink| {
            for g in &w.grants {
                for &r in &g.selected {
                    writeln!(sink.buf, "{},{}", g.id, w.records[r as usize].id).expect("a row");
                    sink.row_done();
                }
            }
        },
    )
    .await;

    let start = Instant::now();
    let mut tx = db
        .begin_maintenance(Maintenance::Seed)
        .await
        .expect("an owner transaction");
    let rows: i64 = sqlx::query_scalar("SELECT hsc_rebuild_record_access()")
        .fetch_one(tx.conn())
        .await
        .expect("record_access built");
    tx.commit().await.expect("commit");
    record_access_triggers(db, "ENABLE").await;
    println!(
        "  {:<22} {:>9} rows {:>7.1} s",
        "record_access",
        rows,
        start.elapsed().as_secs_f64()
    );

    // What autovacuum would otherwise do in the middle of the measurements: statistics, and the
    // visibility map that lets index-only scans skip the heap.
    let start = Instant::now();
    vacuum(config, options).await;
    println!(
        "  {:<22} {:>9}       {:>7.1} s",
        "VACUUM (ANALYZE)",
        "",
        start.elapsed().as_secs_f64()
    );
}

/// Turns the triggers that keep record_access off or on (`DISABLE` / `ENABLE`).
async fn record_access_triggers(db: &Database, how: &str) {
    let mut tx = db
        .begin_maintenance(Maintenance::Seed)
        .await
        .expect("an owner transaction");
    for (table, trigger) in [
        ("medical_records", "medical_records_access"),
        ("access_grants", "access_grants_access"),
        ("access_grant_records", "access_grant_records_access"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {table} {how} TRIGGER {trigger}"
        )))
        .execute(tx.conn())
        .await
        .expect("ALTER TABLE … TRIGGER");
    }
    tx.commit().await.expect("commit");
}

/// The sign-in email of the `i`-th user of `role`.
pub fn email(role: &str, i: usize) -> String {
    format!("{role}{i}@bench.example")
}

/// VACUUM cannot run inside a transaction, and the pool hands out connections only inside one: use
/// a connection of its own to the same private cluster.
async fn vacuum(config: &Config, options: &ClusterOptions) {
    use sqlx::Connection;
    let cluster = LocalCluster::locate(
        &config.data_dir,
        config.pg_bindir.as_deref(),
        options.clone(),
    )
    .expect("the private cluster");
    let mut conn = sqlx::PgConnection::connect_with(&cluster.connect_options(super::DATABASE))
        .await
        .expect("a connection of its own");
    sqlx::query(
        "VACUUM (ANALYZE) users, medical_records, record_versions, access_grants, access_grant_records, \
         record_access",
    )
    .execute(&mut conn)
    .await
    .expect("VACUUM");
    conn.close().await.expect("close");
}
