//! The clinic of the load: one physician per client, each with one patient of their own and
//! `RECORDS_EACH` records whose every visible word names the chart they belong to, so a screen
//! shows at a glance whose data it holds.
//!
//! Loaded with COPY as the owner; title, description and metadata are sealed with the real keyring
//! exactly as the services seal them (table `medical_records` for the record row and
//! `record_versions` for its version-1 row, row id = record id, version 1), so the console opens
//! them. The triggers that keep `record_access` stay on: 12,000 rows is nothing for them.

use std::io::Write as _;

use chrono::{Days, NaiveDate};
use uuid::Uuid;

use hsc::crypto::{Aad, Keyring};
use hsc::db::{Database, Maintenance};
use hsc::services::passwords;
use hsc::services::records::RecordType;

/// The keyring of the server's `ENCRYPTION_KEY` (`KEY_HEX`).
pub const KEY: [u8; 32] = [7u8; 32];
pub const KEY_HEX: &str = "0707070707070707070707070707070707070707070707070707070707070707";
pub const PASSWORD: &str = "Test123!@#";

/// Records per physician: pages of 50, 50 and 20.
pub const RECORDS_EACH: usize = 120;

/// The first visit's date; visit `v` is `v` weeks later, so the newest (highest) visit is first.
fn visit_date(v: usize) -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 1, 6).expect("a date") + Days::new(7 * v as u64)
}

/// The sign-in email of physician `i`.
pub fn email(i: usize) -> String {
    format!("physician{i:03}@load.example")
}

/// A record's title in the list; the visit number is what the bench reads back from a screen.
pub fn title(chart: usize, visit: usize) -> String {
    format!("Chart {chart:03} visit {visit:03}")
}

/// A record's description: shown only by its detail view.
pub fn description(chart: usize, visit: usize) -> String {
    format!("Notes of chart {chart:03} visit {visit:03}.")
}

/// The words before a chart number that a screen may show: the record's title and description,
/// the patient's name, the provider's name and the physician's email. A number after any of them
/// that is not the client's own is another session's data.
pub const MARKERS: [&str; 5] = ["Chart ", "chart ", "Pt", "Dr", "physician"];

/// Loads `clients` physicians and patients and their records into the migrated, empty database.
pub async fn load(db: &Database, clients: usize) {
    let hash = passwords::hash(PASSWORD).expect("an argon2 hash");
    let physicians: Vec<Uuid> = (0..clients).map(|_| Uuid::new_v4()).collect();
    let patients: Vec<Uuid> = (0..clients).map(|_| Uuid::new_v4()).collect();

    let mut users = Vec::new();
    for (i, id) in physicians.iter().enumerate() {
        writeln!(
            users,
            "{id},{},\"{hash}\",Dr{i:03},Doctor,physician,MD-L{i:05},{},Internal medicine,now",
            email(i),
            2_000_000_000 + i
        )
        .expect("a row");
    }
    for (i, id) in patients.iter().enumerate() {
        writeln!(
            users,
            "{id},patient{i:03}@load.example,\"{hash}\",Pt{i:03},Patient,patient,,,,now"
        )
        .expect("a row");
    }
    copy(
        db,
        "COPY users (id, email, password_hash, first_name, last_name, role, license_number, npi, \
         specialization, last_password_change_at) FROM STDIN (FORMAT csv)",
        users,
    )
    .await;

    let keyring = Keyring::new(&zeroize::Zeroizing::new(KEY), &[]);
    let (mut rows, mut versions) = (Vec::new(), Vec::new());
    for chart in 0..clients {
        let (doctor, patient) = (physicians[chart], patients[chart]);
        for visit in 0..RECORDS_EACH {
            let id = Uuid::new_v4();
            let kind = RecordType::ALL[visit % RecordType::ALL.len()].as_str();
            let date = visit_date(visit);
            let metadata = serde_json::json!({ "chart": chart, "visit": visit }).to_string();
            let fields = [
                ("title", title(chart, visit)),
                ("description", description(chart, visit)),
                ("metadata", metadata),
            ];
            write!(rows, "{id},{patient},{doctor},{doctor},{doctor},{kind},").expect("a row");
            seal(&keyring, "medical_records", id, &fields, &mut rows);
            writeln!(rows, ",{date}").expect("a row");
            write!(versions, "{id},1,{patient},{doctor},{kind},").expect("a row");
            seal(&keyring, "record_versions", id, &fields, &mut versions);
            writeln!(versions, ",active,{date},{doctor}").expect("a row");
        }
    }
    copy(
        db,
        "COPY medical_records (id, patient_id, provider_id, created_by, updated_by, record_type, \
         title, description, metadata, record_date) FROM STDIN (FORMAT csv)",
        rows,
    )
    .await;
    copy(
        db,
        "COPY record_versions (record_id, version, patient_id, provider_id, record_type, title, \
         description, metadata, status, record_date, changed_by) FROM STDIN (FORMAT csv)",
        versions,
    )
    .await;
}

/// Seals the three content columns for `table` as the services do, as three CSV fields.
fn seal(
    keyring: &Keyring,
    table: &'static str,
    id: Uuid,
    fields: &[(&str, String)],
    out: &mut Vec<u8>,
) {
    for (i, (column, text)) in fields.iter().enumerate() {
        let aad = Aad {
            table,
            column,
            row_id: id,
            version: 1,
        };
        if i > 0 {
            out.push(b',');
        }
        let sealed = keyring.seal(&aad, text.as_bytes()).expect("sealed");
        // A bytea in CSV: `\x` and hex (a backslash is not special in CSV).
        write!(out, "\\x{}", hex::encode(sealed)).expect("a field");
    }
}

/// One COPY as the owner, committed.
async fn copy(db: &Database, statement: &'static str, data: Vec<u8>) {
    let mut tx = db
        .begin_maintenance(Maintenance::Seed)
        .await
        .expect("a maintenance transaction");
    let mut copy = tx
        .conn()
        .copy_in_raw(statement)
        .await
        .expect("COPY FROM STDIN");
    copy.send(data).await.expect("COPY data");
    copy.finish().await.expect("COPY accepted");
    tx.commit().await.expect("commit");
}
