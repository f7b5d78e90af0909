//! The development seed (SPEC "Seed data"): destructive, idempotent, one transaction, never in production.
//! It replaces every row except the audit trail, which is append-only (SPEC "Audit": nothing in the
//! app deletes audit rows); seeded rows keep their ids, so old events still name them.

use chrono::{Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::config::Config;
use crate::crypto::{Aad, CryptoError, Keyring};
use crate::db::{Database, DbError, Maintenance, MaintenanceTx};

use super::passwords;

/// The password every seeded user has.
pub const SEED_PASSWORD: &str = "Test123!@#";

/// A seeded user: email, first name, last name, role, license, NPI, specialization.
pub struct SeedUser {
    pub email: &'static str,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub role: &'static str,
    pub license_number: Option<&'static str>,
    pub npi: Option<&'static str>,
    pub specialization: Option<&'static str>,
}

const fn user(
    email: &'static str,
    first_name: &'static str,
    last_name: &'static str,
    role: &'static str,
) -> SeedUser {
    SeedUser {
        email,
        first_name,
        last_name,
        role,
        license_number: None,
        npi: None,
        specialization: None,
    }
}

/// SPEC's ten users, in the order `hsc demo` lists them.
pub const USERS: [SeedUser; 10] = [
    user("admin@healthystellar.com", "Admin", "User", "admin"),
    SeedUser {
        license_number: Some("MD-12345"),
        npi: Some("1234567890"),
        specialization: Some("Cardiology"),
        ..user("dr.smith@healthystellar.com", "John", "Smith", "physician")
    },
    SeedUser {
        license_number: Some("MD-67890"),
        npi: Some("0987654321"),
        specialization: Some("Neurology"),
        ..user(
            "dr.johnson@healthystellar.com",
            "Sarah",
            "Johnson",
            "physician",
        )
    },
    SeedUser {
        license_number: Some("RN-11111"),
        ..user(
            "nurse.williams@healthystellar.com",
            "Emily",
            "Williams",
            "nurse",
        )
    },
    SeedUser {
        license_number: Some("RN-22222"),
        ..user(
            "nurse.brown@healthystellar.com",
            "Michael",
            "Brown",
            "nurse",
        )
    },
    user("patient1@example.com", "Alice", "Anderson", "patient"),
    user("patient2@example.com", "Bob", "Baker", "patient"),
    user("patient3@example.com", "Carol", "Carter", "patient"),
    user(
        "billing@healthystellar.com",
        "David",
        "Davis",
        "billing_staff",
    ),
    user(
        "records@healthystellar.com",
        "Emma",
        "Evans",
        "medical_records",
    ),
];

// Indexes into USERS.
const SMITH: usize = 1;
const JOHNSON: usize = 2;
const WILLIAMS: usize = 3;
const ALICE: usize = 5;
const BOB: usize = 6;
const CAROL: usize = 7;

struct SeedRecord {
    patient: usize,
    provider: usize,
    created_by: usize,
    record_type: &'static str,
    date: &'static str,
    title: &'static str,
    description: &'static str,
    metadata: fn() -> serde_json::Value,
}

const RECORDS: [SeedRecord; 6] = [
    SeedRecord {
        patient: ALICE,
        provider: SMITH,
        created_by: SMITH,
        record_type: "consultation",
        date: "2024-01-15",
        title: "Annual Physical Examination",
        description: "Routine annual physical examination. Patient reports no major health concerns. Vital signs normal.",
        metadata: || json!({"bloodPressure": "120/80", "heartRate": 72, "temperature": 98.6, "weight": 165, "height": 70}),
    },
    SeedRecord {
        patient: ALICE,
        provider: SMITH,
        created_by: SMITH,
        record_type: "lab_result",
        date: "2024-01-20",
        title: "Blood Work - Complete Metabolic Panel",
        description: "Complete metabolic panel results. All values within normal range.",
        metadata: || json!({"glucose": 95, "sodium": 140, "potassium": 4.2, "chloride": 102, "co2": 24}),
    },
    SeedRecord {
        patient: BOB,
        provider: JOHNSON,
        created_by: JOHNSON,
        record_type: "diagnosis",
        date: "2024-02-01",
        title: "Migraine Headache Diagnosis",
        description: "Patient presents with recurring headaches. Diagnosed with migraine headaches.",
        metadata: || json!({"icd10Code": "G43.909", "severity": "moderate", "frequency": "weekly"}),
    },
    SeedRecord {
        patient: BOB,
        provider: JOHNSON,
        created_by: JOHNSON,
        record_type: "prescription",
        date: "2024-02-01",
        title: "Migraine Medication Prescription",
        description: "Prescribed sumatriptan for migraine management.",
        metadata: || json!({"medication": "Sumatriptan", "dosage": "50mg", "frequency": "as needed", "quantity": 9, "refills": 2}),
    },
    SeedRecord {
        patient: CAROL,
        provider: SMITH,
        created_by: SMITH,
        record_type: "treatment",
        date: "2024-02-10",
        title: "Hypertension Treatment Plan",
        description: "Treatment plan for newly diagnosed hypertension. Lifestyle modifications and medication.",
        metadata: || {
            json!({
                "diagnosis": "Essential Hypertension",
                "icd10Code": "I10",
                "treatmentPlan": "Lifestyle modifications, low sodium diet, regular exercise, medication"
            })
        },
    },
    SeedRecord {
        patient: CAROL,
        provider: SMITH,
        created_by: WILLIAMS,
        record_type: "consultation",
        date: "2024-02-24",
        title: "Follow-up Visit - Blood Pressure Check",
        description: "Follow-up visit to monitor blood pressure. Patient responding well to treatment.",
        metadata: || json!({"bloodPressure": "128/82", "notes": "Improved from previous visit"}),
    },
];

/// Grants: patient, grantee, records (indexes into RECORDS), access level.
const GRANTS: [(usize, usize, [usize; 2], &str); 3] = [
    (ALICE, SMITH, [0, 1], "READ_WRITE"),
    (BOB, JOHNSON, [2, 3], "READ_WRITE"),
    (CAROL, WILLIAMS, [4, 5], "READ"),
];

/// The texts the seed encrypts, so tests can look for them where they must not be.
pub fn record_texts() -> Vec<&'static str> {
    RECORDS
        .iter()
        .flat_map(|r| [r.title, r.description])
        .collect()
}

/// Why seeding did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(
        "hsc seed deletes every row, so it refuses to run when APP_ENV or NODE_ENV is production"
    )]
    Production,
    #[error("{0}")]
    Database(#[from] DbError),
    #[error("a seed record could not be encrypted: {0}")]
    Crypto(#[from] CryptoError),
    #[error("{0}")]
    Hash(#[from] passwords::HashError),
}

/// What the seed wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedSummary {
    pub users: usize,
    pub records: usize,
    pub grants: usize,
}

/// Replaces every row but the audit trail with SPEC's seed data, in one transaction.
pub async fn run(
    config: &Config,
    db: &Database,
    keyring: &Keyring,
) -> Result<SeedSummary, SeedError> {
    if config.production_anywhere() {
        return Err(SeedError::Production);
    }
    // Ten argon2 hashes take a moment of CPU; keep them off the async workers.
    let hashes = tokio::task::spawn_blocking(|| {
        USERS
            .iter()
            .map(|_| passwords::hash(SEED_PASSWORD))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|_| passwords::HashError)??;

    let mut tx = db.begin_maintenance(Maintenance::Seed).await?;
    sqlx::query(
        "TRUNCATE record_access, access_grant_records, access_grants, record_versions, medical_records, \
         mfa_backup_codes, mfa_devices, sessions, users RESTART IDENTITY",
    )
    .execute(tx.conn())
    .await
    .map_err(DbError::from)?;

    let user_ids: Vec<Uuid> = (0..USERS.len()).map(|i| seed_id("user", i)).collect();
    for ((u, id), hash) in USERS.iter().zip(&user_ids).zip(&hashes) {
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, first_name, last_name, role, license_number, npi, \
             specialization, last_password_change_at) VALUES ($1, $2, $3, $4, $5, $6::user_role, $7, $8, $9, now())",
        )
        .bind(id)
        .bind(u.email)
        .bind(hash)
        .bind(u.first_name)
        .bind(u.last_name)
        .bind(u.role)
        .bind(u.license_number)
        .bind(u.npi)
        .bind(u.specialization)
        .execute(tx.conn())
        .await
        .map_err(DbError::from)?;
    }

    let mut record_ids = Vec::new();
    for r in &RECORDS {
        let id = seed_id("record", record_ids.len());
        insert_record(&mut tx, keyring, id, r, &user_ids).await?;
        record_ids.push(id);
    }

    let expires = Utc::now() + Duration::days(365);
    for (i, (patient, grantee, records, level)) in GRANTS.into_iter().enumerate() {
        let grant_id = seed_id("grant", i);
        sqlx::query(
            "INSERT INTO access_grants (id, patient_id, grantee_id, scope, access_level, expires_at, granted_by) \
             VALUES ($1, $2, $3, 'SELECTED_RECORDS', $4::access_level, $5, $2)",
        )
        .bind(grant_id)
        .bind(user_ids[patient])
        .bind(user_ids[grantee])
        .bind(level)
        .bind(expires)
        .execute(tx.conn())
        .await
        .map_err(DbError::from)?;
        for r in records {
            sqlx::query("INSERT INTO access_grant_records (grant_id, record_id) VALUES ($1, $2)")
                .bind(grant_id)
                .bind(record_ids[r])
                .execute(tx.conn())
                .await
                .map_err(DbError::from)?;
        }
    }
    tx.commit().await?;
    tracing::info!(
        users = USERS.len(),
        records = RECORDS.len(),
        grants = GRANTS.len(),
        "database seeded"
    );
    Ok(SeedSummary {
        users: USERS.len(),
        records: RECORDS.len(),
        grants: GRANTS.len(),
    })
}

/// The same id for the same seeded row every time: the audit trail, which the seed never clears,
/// goes on naming the same users and records after a re-seed.
fn seed_id(kind: &str, index: usize) -> Uuid {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("hsc-seed/{kind}/{index}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// Writes a record and its first version, each sealed for its own table.
async fn insert_record(
    tx: &mut MaintenanceTx,
    keyring: &Keyring,
    id: Uuid,
    r: &SeedRecord,
    user_ids: &[Uuid],
) -> Result<(), SeedError> {
    let metadata = (r.metadata)().to_string();
    let seal = |table: &'static str, column: &'static str, text: &str| {
        keyring.seal(
            &Aad {
                table,
                column,
                row_id: id,
                version: 1,
            },
            text.as_bytes(),
        )
    };
    sqlx::query(
        "INSERT INTO medical_records (id, patient_id, provider_id, created_by, updated_by, record_type, title, \
         description, metadata, record_date) VALUES ($1, $2, $3, $4, $4, $5::record_type, $6, $7, $8, $9::date)",
    )
    .bind(id)
    .bind(user_ids[r.patient])
    .bind(user_ids[r.provider])
    .bind(user_ids[r.created_by])
    .bind(r.record_type)
    .bind(seal("medical_records", "title", r.title)?)
    .bind(seal("medical_records", "description", r.description)?)
    .bind(seal("medical_records", "metadata", &metadata)?)
    .bind(r.date)
    .execute(tx.conn())
    .await
    .map_err(DbError::from)?;
    sqlx::query(
        "INSERT INTO record_versions (record_id, version, patient_id, provider_id, record_type, title, description, \
         metadata, status, record_date, changed_by) VALUES ($1, 1, $2, $3, $4::record_type, $5, $6, $7, 'active', $8::date, $9)",
    )
    .bind(id)
    .bind(user_ids[r.patient])
    .bind(user_ids[r.provider])
    .bind(r.record_type)
    .bind(seal("record_versions", "title", r.title)?)
    .bind(seal("record_versions", "description", r.description)?)
    .bind(seal("record_versions", "metadata", &metadata)?)
    .bind(r.date)
    .bind(user_ids[r.created_by])
    .execute(tx.conn())
    .await
    .map_err(DbError::from)?;
    Ok(())
}
