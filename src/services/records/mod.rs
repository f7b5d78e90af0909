//! Medical records: the browser's pages, the detail view, saving, versions and break-glass.
//!
//! Every call opens one transaction as the acting user, so PostgreSQL's row-level security decides
//! what exists for them; the checks here only choose the words of a refusal and the query that
//! follows the user's access paths (SPEC "Who may do what"). Every read and write writes its audit
//! row in the same transaction, and every refusal writes UNAUTHORIZED_ACCESS_ATTEMPT.

mod content;
pub mod diff;
mod emergency;
mod filter;
mod history;
mod list;
mod write;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::audit::{self, Action, Client, Event, Outcome};
use super::users::Role;
use super::{ServiceError, Services, sessions};
use crate::db::{ActingTx, DbError};
use crate::services::sessions::Session;

pub use content::{Content, MAX_DESCRIPTION, MAX_METADATA_ENTRIES, MAX_TITLE};
pub use emergency::{EMERGENCY_ACCESS_HOURS, EmergencyGrant, MIN_EMERGENCY_REASON, break_glass};
pub use filter::Filter;
pub use history::{Version, VersionSummary, compare, history, version};
pub use list::{Cursor, PAGE_PLAN, PAGE_SIZE, Page, RecordSummary, UNREADABLE, list, page_sql};
pub use write::{Draft, MAX_REASON, Saved, create, update};

/// The kinds of record the clinic keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    Consultation,
    Diagnosis,
    Treatment,
    LabResult,
    Imaging,
    Prescription,
    Surgery,
    Emergency,
    Other,
}

impl RecordType {
    pub const ALL: [RecordType; 9] = [
        RecordType::Consultation,
        RecordType::Diagnosis,
        RecordType::Treatment,
        RecordType::LabResult,
        RecordType::Imaging,
        RecordType::Prescription,
        RecordType::Surgery,
        RecordType::Emergency,
        RecordType::Other,
    ];

    /// The database enum's value.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Consultation => "consultation",
            RecordType::Diagnosis => "diagnosis",
            RecordType::Treatment => "treatment",
            RecordType::LabResult => "lab_result",
            RecordType::Imaging => "imaging",
            RecordType::Prescription => "prescription",
            RecordType::Surgery => "surgery",
            RecordType::Emergency => "emergency",
            RecordType::Other => "other",
        }
    }

    /// How the console names it.
    pub fn label(self) -> &'static str {
        match self {
            RecordType::Consultation => "Consultation",
            RecordType::Diagnosis => "Diagnosis",
            RecordType::Treatment => "Treatment",
            RecordType::LabResult => "Lab result",
            RecordType::Imaging => "Imaging",
            RecordType::Prescription => "Prescription",
            RecordType::Surgery => "Surgery",
            RecordType::Emergency => "Emergency",
            RecordType::Other => "Other",
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for RecordType {
    type Err = ServiceError;

    /// Accepts the database value or the label, in any case ("lab result", "lab_result").
    fn from_str(s: &str) -> Result<RecordType, ServiceError> {
        let wanted = s.trim().to_lowercase().replace(' ', "_");
        RecordType::ALL
            .into_iter()
            .find(|t| t.as_str() == wanted)
            .ok_or_else(|| {
                ServiceError::Invalid(format!(
                    "{:?} is not a record type; use one of consultation, diagnosis, treatment, lab result, \
                     imaging, prescription, surgery, emergency, other",
                    s.trim()
                ))
            })
    }
}

/// A person named on a record: patient, provider or author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: Uuid,
    pub name: String,
}

/// What a role may do with records (SPEC "Who may do what"). The policies in PostgreSQL say the
/// same; this only decides what the console offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// May see records at all (the records tab).
    pub browse: bool,
    /// Reads titles, descriptions and metadata of the records they may see, not only the index
    /// card. (Records staff never read content: grants go to physicians and nurses only.)
    pub content: bool,
    /// May create and edit records (where a grant or care relationship allows).
    pub write: bool,
    /// May open a patient's records in an emergency without a grant.
    pub break_glass: bool,
}

impl Access {
    pub fn of(role: Role) -> Access {
        let clinician = matches!(role, Role::Physician | Role::Nurse);
        Access {
            browse: role != Role::Admin,
            content: clinician || role == Role::Patient,
            write: clinician,
            break_glass: clinician,
        }
    }
}

/// One record as the detail view shows it. `content` is `None` for roles that see metadata only.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordDetail {
    pub id: Uuid,
    pub patient: Person,
    pub provider: Person,
    pub created_by: Person,
    pub updated_by: Person,
    pub record_type: RecordType,
    pub status: String,
    pub record_date: NaiveDate,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub content: Option<Content>,
}

/// The wording of every refusal to open or change a record: it does not say whether the record exists.
pub const NOT_YOURS: &str =
    "You may not open this record (it is not yours, or no grant covers it).";

/// Writes UNAUTHORIZED_ACCESS_ATTEMPT for `session` (about `record`, if any) and commits it, then
/// returns the refusal.
async fn refuse(
    tx: ActingTx,
    client: &Client,
    session: &Session,
    attempt: &'static str,
    record: Option<Uuid>,
    message: &str,
) -> ServiceError {
    let resource = record.map(|id| ("medical_record", id));
    super::refuse(tx, client, session, attempt, resource, message).await
}

#[derive(sqlx::FromRow)]
struct DetailRow {
    id: Uuid,
    patient_id: Uuid,
    patient_name: Option<String>,
    provider_id: Uuid,
    provider_name: Option<String>,
    created_by: Uuid,
    created_by_name: Option<String>,
    updated_by: Uuid,
    updated_by_name: Option<String>,
    record_type: String,
    status: String,
    record_date: NaiveDate,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    title: Option<Vec<u8>>,
    description: Option<Vec<u8>>,
    metadata: Option<Vec<u8>>,
}

fn person(id: Uuid, name: Option<String>) -> Person {
    Person {
        id,
        name: name.unwrap_or_else(|| "(not visible)".into()),
    }
}

/// The record and, where the acting user may read content, its current version — as far as the
/// policies let this transaction see it.
async fn load_detail(
    conn: &mut PgConnection,
    svc: &Services,
    record: Uuid,
) -> Result<Option<RecordDetail>, ServiceError> {
    let row: Option<DetailRow> = sqlx::query_as(
        "SELECT m.id, m.patient_id, pt.first_name || ' ' || pt.last_name AS patient_name, \
                m.provider_id, pr.first_name || ' ' || pr.last_name AS provider_name, \
                m.created_by, cb.first_name || ' ' || cb.last_name AS created_by_name, \
                m.updated_by, ub.first_name || ' ' || ub.last_name AS updated_by_name, \
                m.record_type::text AS record_type, m.status::text AS status, m.record_date, m.version, \
                m.created_at, m.updated_at, v.title, v.description, v.metadata \
         FROM medical_records m \
         LEFT JOIN users pt ON pt.id = m.patient_id \
         LEFT JOIN users pr ON pr.id = m.provider_id \
         LEFT JOIN users cb ON cb.id = m.created_by \
         LEFT JOIN users ub ON ub.id = m.updated_by \
         LEFT JOIN record_versions v ON v.record_id = m.id AND v.version = m.version \
         WHERE m.id = $1",
    )
    .bind(record)
    .fetch_optional(conn)
    .await
    .map_err(DbError::from)?;
    let Some(r) = row else { return Ok(None) };
    let content = match (r.title, r.description, r.metadata) {
        (Some(t), Some(d), Some(m)) => Some(Content::open(
            &svc.keyring,
            "record_versions",
            r.id,
            r.version,
            &t,
            &d,
            &m,
        )?),
        _ => None,
    };
    Ok(Some(RecordDetail {
        id: r.id,
        patient: person(r.patient_id, r.patient_name),
        provider: person(r.provider_id, r.provider_name),
        created_by: person(r.created_by, r.created_by_name),
        updated_by: person(r.updated_by, r.updated_by_name),
        record_type: r.record_type.parse()?,
        status: r.status,
        record_date: r.record_date,
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
        content,
    }))
}

/// Opens one record (RECORD_VIEW). Staff who see metadata only get it without content; a record the
/// user may not see is refused (UNAUTHORIZED_ACCESS_ATTEMPT) without saying whether it exists.
pub async fn view(
    svc: &Services,
    client: &Client,
    session: &Session,
    record: Uuid,
) -> Result<RecordDetail, ServiceError> {
    let mut tx = sessions::begin_live(svc, session).await?;
    let access = Access::of(session.user.role);
    let detail = if access.browse {
        load_detail(tx.conn(), svc, record).await?
    } else {
        None
    };
    let Some(detail) = detail else {
        return Err(refuse(tx, client, session, "view", Some(record), NOT_YOURS).await);
    };
    if access.content && detail.content.is_none() {
        // The record is visible but its current version is not: the database is inconsistent.
        return Err(ServiceError::Invalid(format!(
            "Record {record} has no readable current version; ask an administrator to check it."
        )));
    }
    let event = Event::new(Action::RecordView, Outcome::Success, Some(session.user.id))
        .session(session.id)
        .resource("medical_record", detail.id)
        .patient(detail.patient.id)
        .details(json!({"version": detail.version, "content": detail.content.is_some()}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(detail)
}

/// Patients the acting clinician may add a record for: those who granted them READ_WRITE, and those
/// whose records they provided or wrote.
pub async fn writable_patients(
    svc: &Services,
    session: &Session,
) -> Result<Vec<Person>, ServiceError> {
    let mut tx = sessions::begin_live(svc, session).await?;
    if !Access::of(session.user.role).write {
        tx.commit().await?;
        return Ok(Vec::new());
    }
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT u.id, u.first_name || ' ' || u.last_name FROM users u \
         WHERE u.role = 'patient' AND u.deleted_at IS NULL AND u.id IN ( \
             SELECT g.patient_id FROM access_grants g \
              WHERE g.grantee_id = $1 AND g.status = 'ACTIVE' AND g.expires_at > now() \
                AND g.access_level = 'READ_WRITE' \
             UNION SELECT m.patient_id FROM medical_records m WHERE m.provider_id = $1 \
             UNION SELECT m.patient_id FROM medical_records m WHERE m.created_by = $1) \
         ORDER BY u.last_name, u.first_name, u.id LIMIT 500",
    )
    .bind(session.user.id)
    .fetch_all(tx.conn())
    .await
    .map_err(DbError::from)?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| Person { id, name })
        .collect())
}

/// Patients whose name or email matches `query`, for the break-glass picker (clinicians only; the
/// policies show patients' identities to staff, never their records).
pub async fn find_patients(
    svc: &Services,
    session: &Session,
    query: &str,
) -> Result<Vec<Person>, ServiceError> {
    let query = query.trim().to_lowercase();
    let mut tx = sessions::begin_live(svc, session).await?;
    if query.chars().count() < 2 || !Access::of(session.user.role).break_glass {
        tx.commit().await?;
        return Ok(Vec::new());
    }
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT u.id, u.first_name || ' ' || u.last_name FROM users u \
         WHERE u.role = 'patient' AND u.deleted_at IS NULL \
           AND (strpos(lower(u.first_name || ' ' || u.last_name), $1) > 0 OR lower(u.email) = $1) \
         ORDER BY u.last_name, u.first_name, u.id LIMIT 20",
    )
    .bind(&query)
    .fetch_all(tx.conn())
    .await
    .map_err(DbError::from)?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| Person { id, name })
        .collect())
}
