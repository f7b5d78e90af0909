//! A record's versions: the history list, any one version, and two versions side by side.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::content::open_reason;
use super::{Access, Content, NOT_YOURS, Person, RecordType, refuse};
use crate::db::DbError;
use crate::services::audit::{self, Action, Client, Event, Outcome};
use crate::services::sessions::{self, Session};
use crate::services::{ServiceError, Services};

/// One line of a record's history. Its `Debug` leaves the reason out.
#[derive(Clone, PartialEq, Eq)]
pub struct VersionSummary {
    pub version: i32,
    pub changed_by: Person,
    pub changed_at: DateTime<Utc>,
    /// Why it changed; `None` for the first version.
    pub reason: Option<String>,
}

impl std::fmt::Debug for VersionSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionSummary")
            .field("version", &self.version)
            .field("changed_by", &self.changed_by.id)
            .field("changed_at", &self.changed_at)
            .finish_non_exhaustive()
    }
}

/// One version, whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub summary: VersionSummary,
    pub record_type: RecordType,
    pub record_date: NaiveDate,
    pub content: Content,
}

#[derive(sqlx::FromRow)]
struct Row {
    patient_id: Uuid,
    version: i32,
    changed_by: Uuid,
    changed_by_name: Option<String>,
    changed_at: DateTime<Utc>,
    change_reason: Option<Vec<u8>>,
    record_type: String,
    record_date: NaiveDate,
    /// The sealed content; not fetched for the history list.
    title: Option<Vec<u8>>,
    description: Option<Vec<u8>>,
    metadata: Option<Vec<u8>>,
}

const VERSIONS: &str = "SELECT v.patient_id, v.version, v.changed_by, \
        cb.first_name || ' ' || cb.last_name AS changed_by_name, v.changed_at, v.change_reason, \
        v.record_type::text AS record_type, v.record_date, v.title, v.description, v.metadata \
    FROM record_versions v LEFT JOIN users cb ON cb.id = v.changed_by \
    WHERE v.record_id = $1 AND (v.version = $2 OR v.version = $3) \
    ORDER BY v.version DESC";

/// The history list: who, when and why of every version, without their content (a record with many
/// long versions would otherwise be read whole to show one line each).
const HISTORY: &str = "SELECT v.patient_id, v.version, v.changed_by, \
        cb.first_name || ' ' || cb.last_name AS changed_by_name, v.changed_at, v.change_reason, \
        v.record_type::text AS record_type, v.record_date, \
        NULL::bytea AS title, NULL::bytea AS description, NULL::bytea AS metadata \
    FROM record_versions v LEFT JOIN users cb ON cb.id = v.changed_by \
    WHERE v.record_id = $1 \
    ORDER BY v.version DESC";

async fn rows(
    conn: &mut PgConnection,
    record: Uuid,
    versions: Option<(i32, i32)>,
) -> Result<Vec<Row>, DbError> {
    Ok(match versions {
        None => sqlx::query_as(HISTORY).bind(record).fetch_all(conn).await?,
        Some((a, b)) => {
            sqlx::query_as(VERSIONS)
                .bind(record)
                .bind(a)
                .bind(b)
                .fetch_all(conn)
                .await?
        }
    })
}

/// Whether any version of `record` is readable in this transaction.
async fn readable(conn: &mut PgConnection, record: Uuid) -> Result<bool, DbError> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM record_versions WHERE record_id = $1)")
            .bind(record)
            .fetch_one(conn)
            .await?,
    )
}

fn summary(svc: &Services, record: Uuid, r: &Row) -> Result<VersionSummary, ServiceError> {
    let reason = match &r.change_reason {
        Some(sealed) => Some(open_reason(&svc.keyring, record, r.version, sealed)?),
        None => None,
    };
    Ok(VersionSummary {
        version: r.version,
        changed_by: super::person(r.changed_by, r.changed_by_name.clone()),
        changed_at: r.changed_at,
        reason,
    })
}

fn whole(svc: &Services, record: Uuid, r: &Row) -> Result<Version, ServiceError> {
    Ok(Version {
        summary: summary(svc, record, r)?,
        record_type: r.record_type.parse()?,
        record_date: r.record_date,
        content: match (&r.title, &r.description, &r.metadata) {
            (Some(t), Some(d), Some(m)) => {
                Content::open(&svc.keyring, "record_versions", record, r.version, t, d, m)?
            }
            _ => {
                return Err(ServiceError::Invalid(format!(
                    "Version {} of record {record} has no content to show.",
                    r.version
                )));
            }
        },
    })
}

fn audit_event(
    session: &Session,
    record: Uuid,
    patient: Uuid,
    details: serde_json::Value,
) -> Event {
    Event::new(
        Action::RecordVersionView,
        Outcome::Success,
        Some(session.user.id),
    )
    .session(session.id)
    .resource("medical_record", record)
    .patient(patient)
    .details(details)
}

/// Every version of `record`, newest first, with who changed it, when and why (RECORD_VERSION_VIEW).
pub async fn history(
    svc: &Services,
    client: &Client,
    session: &Session,
    record: Uuid,
) -> Result<Vec<VersionSummary>, ServiceError> {
    let mut tx = sessions::begin_live(svc, session).await?;
    let found = if Access::of(session.user.role).browse {
        rows(tx.conn(), record, None).await?
    } else {
        Vec::new()
    };
    let Some(patient) = found.first().map(|r| r.patient_id) else {
        return Err(refuse(tx, client, session, "history", Some(record), NOT_YOURS).await);
    };
    let list = found
        .iter()
        .map(|r| summary(svc, record, r))
        .collect::<Result<Vec<_>, _>>()?;
    let event = audit_event(session, record, patient, json!({"history": list.len()}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(list)
}

/// One version of `record`, whole (RECORD_VERSION_VIEW).
pub async fn version(
    svc: &Services,
    client: &Client,
    session: &Session,
    record: Uuid,
    number: i32,
) -> Result<Version, ServiceError> {
    let mut pair = versions(svc, client, session, record, number, number).await?;
    pair.pop()
        .ok_or_else(|| ServiceError::Denied(NOT_YOURS.into()))
}

/// Two versions of `record`, older first, for a comparison (one RECORD_VERSION_VIEW naming both).
pub async fn compare(
    svc: &Services,
    client: &Client,
    session: &Session,
    record: Uuid,
    a: i32,
    b: i32,
) -> Result<(Version, Version), ServiceError> {
    let (older, newer) = (a.min(b), a.max(b));
    let mut pair = versions(svc, client, session, record, older, newer).await?;
    match (pair.pop(), pair.pop()) {
        (Some(old), Some(new)) => Ok((old, new)),
        (Some(only), None) => Ok((only.clone(), only)),
        _ => Err(ServiceError::Denied(NOT_YOURS.into())),
    }
}

/// Versions `a` and `b` (the same number for one), newest first.
async fn versions(
    svc: &Services,
    client: &Client,
    session: &Session,
    record: Uuid,
    a: i32,
    b: i32,
) -> Result<Vec<Version>, ServiceError> {
    let mut tx = sessions::begin_live(svc, session).await?;
    let found = if Access::of(session.user.role).browse {
        rows(tx.conn(), record, Some((a, b))).await?
    } else {
        Vec::new()
    };
    let wanted = if a == b { 1 } else { 2 };
    if found.is_empty() && !readable(tx.conn(), record).await? {
        return Err(refuse(tx, client, session, "version", Some(record), NOT_YOURS).await);
    }
    if found.len() != wanted {
        // The record is readable; one of the numbers is not a version it has.
        let missing = if found.iter().any(|r| r.version == a) {
            b
        } else {
            a
        };
        tx.commit().await?;
        return Err(ServiceError::Invalid(format!(
            "This record has no version {missing}."
        )));
    }
    let list = found
        .iter()
        .map(|r| whole(svc, record, r))
        .collect::<Result<Vec<_>, _>>()?;
    let patient = found[0].patient_id;
    let shown: Vec<i32> = list.iter().map(|v| v.summary.version).collect();
    let event = audit_event(session, record, patient, json!({"versions": shown}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(list)
}
