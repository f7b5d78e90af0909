//! Creating and updating records. Every save writes a new version (who, when, why) beside the record,
//! refuses to overwrite a version someone else saved meanwhile, and carries a change id so a save
//! retried after a lost connection finds its first attempt instead of writing a second version.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::content::{Sealed, seal_reason};
use super::{Access, Content, NOT_YOURS, RecordType, refuse};
use crate::db::DbError;
use crate::services::audit::{self, Action, Client, Event, Outcome};
use crate::services::sessions::{self, Session};
use crate::services::{ServiceError, Services};

/// The longest reason for a change, in characters.
pub const MAX_REASON: usize = 500;

/// What the editor submits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub record_type: RecordType,
    pub record_date: NaiveDate,
    pub content: Content,
}

/// A save that landed (or had already landed, when retried).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saved {
    pub record: Uuid,
    pub version: i32,
}

fn check_draft(draft: &Draft) -> Result<(), ServiceError> {
    draft.content.validate()?;
    let today = Utc::now().date_naive();
    if draft.record_date > today + chrono::Days::new(1) {
        return Err(ServiceError::Invalid(format!(
            "The record date {} is in the future.",
            draft.record_date
        )));
    }
    Ok(())
}

/// The version an earlier attempt of this very change already wrote, if any. A change id names one
/// draft: if what it saved is not this draft (another record, another base version, other content),
/// the save is refused rather than reported as done — later edits are never dropped silently.
async fn landed(
    conn: &mut PgConnection,
    svc: &Services,
    change: Uuid,
    user: Uuid,
    target: Option<(Uuid, i32)>,
    draft: &Draft,
) -> Result<Option<Saved>, ServiceError> {
    // record, version, type, date, and the sealed title, description and metadata.
    type Landed = (Uuid, i32, String, NaiveDate, Vec<u8>, Vec<u8>, Vec<u8>);
    let row: Option<Landed> = sqlx::query_as(
        "SELECT record_id, version, record_type::text, record_date, title, description, metadata \
         FROM record_versions WHERE change_id = $1 AND changed_by = $2",
    )
    .bind(change)
    .bind(user)
    .fetch_optional(conn)
    .await
    .map_err(DbError::from)?;
    let Some((record, version, record_type, record_date, title, description, metadata)) = row
    else {
        return Ok(None);
    };
    let stored = Content::open(
        &svc.keyring,
        "record_versions",
        record,
        version,
        &title,
        &description,
        &metadata,
    )?;
    let same_place = match target {
        Some((wanted, base)) => record == wanted && version == base + 1,
        None => version == 1,
    };
    let same_draft = record_type == draft.record_type.as_str()
        && record_date == draft.record_date
        && stored == draft.content.normalized();
    if same_place && same_draft {
        Ok(Some(Saved { record, version }))
    } else {
        Err(ServiceError::Conflict(format!(
            "An earlier save of this draft already landed as version {version}, with other content — reload the record; nothing more was saved."
        )))
    }
}

#[allow(clippy::too_many_arguments)]
async fn insert_version(
    conn: &mut PgConnection,
    record: Uuid,
    version: i32,
    draft: &Draft,
    sealed: &Sealed,
    reason: Option<Vec<u8>>,
    user: Uuid,
    change: Uuid,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO record_versions (record_id, version, patient_id, provider_id, record_type, title, description, \
             metadata, status, record_date, changed_by, change_reason, change_id) \
         SELECT m.id, $2, m.patient_id, m.provider_id, $3::record_type, $4, $5, $6, m.status, $7, $8, $9, $10 \
         FROM medical_records m WHERE m.id = $1",
    )
    .bind(record)
    .bind(version)
    .bind(draft.record_type.as_str())
    .bind(&sealed.title)
    .bind(&sealed.description)
    .bind(&sealed.metadata)
    .bind(draft.record_date)
    .bind(user)
    .bind(reason)
    .bind(change)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds a record to `patient`'s chart, with the acting clinician as its provider (RECORD_CREATE).
/// Refused unless the patient granted them READ_WRITE or they already care for the patient.
pub async fn create(
    svc: &Services,
    client: &Client,
    session: &Session,
    patient: Uuid,
    change: Uuid,
    draft: &Draft,
) -> Result<Saved, ServiceError> {
    check_draft(draft)?;
    let mut tx = sessions::begin_live(svc, session).await?;
    if let Some(saved) = landed(tx.conn(), svc, change, session.user.id, None, draft).await? {
        tx.commit().await?;
        return Ok(saved);
    }
    let allowed = Access::of(session.user.role).write
        && sqlx::query_scalar::<_, bool>("SELECT hsc_may_add_record($1)")
            .bind(patient)
            .fetch_one(tx.conn())
            .await
            .map_err(DbError::from)?;
    if !allowed {
        return Err(refuse(
            tx,
            client,
            session,
            "create",
            None,
            "You may not add records for this patient (no READ_WRITE grant and no record of yours in their chart).",
        )
        .await);
    }
    let id = Uuid::new_v4();
    let me = session.user.id;
    let record_sealed = draft.content.seal(&svc.keyring, "medical_records", id, 1)?;
    sqlx::query(
        "INSERT INTO medical_records (id, patient_id, provider_id, created_by, updated_by, record_type, title, \
             description, metadata, record_date) \
         VALUES ($1, $2, $3, $3, $3, $4::record_type, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(patient)
    .bind(me)
    .bind(draft.record_type.as_str())
    .bind(&record_sealed.title)
    .bind(&record_sealed.description)
    .bind(&record_sealed.metadata)
    .bind(draft.record_date)
    .execute(tx.conn())
    .await
    .map_err(DbError::from)?;
    let version_sealed = draft.content.seal(&svc.keyring, "record_versions", id, 1)?;
    insert_version(tx.conn(), id, 1, draft, &version_sealed, None, me, change).await?;
    let event = Event::new(Action::RecordCreate, Outcome::Success, Some(me))
        .session(session.id)
        .resource("medical_record", id)
        .patient(patient)
        .details(json!({"version": 1, "record_type": draft.record_type.as_str()}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(Saved {
        record: id,
        version: 1,
    })
}

#[derive(sqlx::FromRow)]
struct Current {
    version: i32,
    patient_id: Uuid,
    record_type: String,
    record_date: NaiveDate,
    updated_at: DateTime<Utc>,
    updated_by_name: Option<String>,
    title: Option<Vec<u8>>,
    description: Option<Vec<u8>>,
    metadata: Option<Vec<u8>>,
}

/// Saves `draft` as the next version of `record`, which the editor opened at `base_version`
/// (RECORD_UPDATE). A reason is required. If someone saved a newer version meanwhile nothing is
/// written and the refusal names who and when; a retried save of the same `change` answers with
/// the version it already wrote.
#[allow(clippy::too_many_arguments)]
pub async fn update(
    svc: &Services,
    client: &Client,
    session: &Session,
    record: Uuid,
    change: Uuid,
    base_version: i32,
    draft: &Draft,
    reason: &str,
) -> Result<Saved, ServiceError> {
    check_draft(draft)?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ServiceError::Invalid(
            "Give a reason for the change; it is kept with the version.".into(),
        ));
    }
    if reason.chars().count() > MAX_REASON {
        return Err(ServiceError::Invalid(format!(
            "The reason for the change is longer than {MAX_REASON} characters."
        )));
    }
    let mut tx = sessions::begin_live(svc, session).await?;
    let me = session.user.id;
    if let Some(saved) = landed(
        tx.conn(),
        svc,
        change,
        me,
        Some((record, base_version)),
        draft,
    )
    .await?
    {
        tx.commit().await?;
        return Ok(saved);
    }
    // FOR UPDATE passes only rows the update policy allows, and holds them until commit, so two
    // editors saving at once are serialised and the second sees the first one's version.
    let locked = Access::of(session.user.role).write
        && sqlx::query("SELECT 1 FROM medical_records WHERE id = $1 FOR UPDATE")
            .bind(record)
            .fetch_optional(tx.conn())
            .await
            .map_err(DbError::from)?
            .is_some();
    // Read after the lock, in a statement of its own: it then sees what a save that held the lock
    // before us committed (a join in the locking statement would keep the old author's row).
    let current: Option<Current> = if locked {
        sqlx::query_as(
            "SELECT m.version, m.patient_id, m.record_type::text AS record_type, m.record_date, m.updated_at, \
                    ub.first_name || ' ' || ub.last_name AS updated_by_name, v.title, v.description, v.metadata \
             FROM medical_records m \
             LEFT JOIN users ub ON ub.id = m.updated_by \
             LEFT JOIN record_versions v ON v.record_id = m.id AND v.version = m.version \
             WHERE m.id = $1",
        )
        .bind(record)
        .fetch_optional(tx.conn())
        .await
        .map_err(DbError::from)?
    } else {
        None
    };
    let Some(current) = current else {
        return Err(refuse(tx, client, session, "update", Some(record), NOT_YOURS).await);
    };
    if current.version != base_version {
        let who = current.updated_by_name.unwrap_or_else(|| "someone".into());
        let when = current.updated_at.format("%Y-%m-%d %H:%M UTC");
        tx.commit().await?;
        return Err(ServiceError::Conflict(format!(
            "This record was changed by {who} at {when} — reload it to see their version; nothing was saved."
        )));
    }
    let previous = match (current.title, current.description, current.metadata) {
        (Some(t), Some(d), Some(m)) => Some(Content::open(
            &svc.keyring,
            "record_versions",
            record,
            current.version,
            &t,
            &d,
            &m,
        )?),
        _ => None,
    };
    let changed = changed_fields(
        &current.record_type,
        current.record_date,
        previous.as_ref(),
        draft,
    );
    if changed.is_empty() {
        tx.commit().await?;
        return Err(ServiceError::Invalid(
            "Nothing was changed, so no new version was saved.".into(),
        ));
    }
    let version = current.version + 1;
    let record_sealed = draft
        .content
        .seal(&svc.keyring, "medical_records", record, version)?;
    sqlx::query(
        "UPDATE medical_records SET record_type = $2::record_type, record_date = $3, title = $4, description = $5, \
             metadata = $6, version = $7, updated_by = $8 \
         WHERE id = $1 AND version = $9",
    )
    .bind(record)
    .bind(draft.record_type.as_str())
    .bind(draft.record_date)
    .bind(&record_sealed.title)
    .bind(&record_sealed.description)
    .bind(&record_sealed.metadata)
    .bind(version)
    .bind(me)
    .bind(current.version)
    .execute(tx.conn())
    .await
    .map_err(DbError::from)?;
    let version_sealed = draft
        .content
        .seal(&svc.keyring, "record_versions", record, version)?;
    let reason = seal_reason(&svc.keyring, record, version, reason)?;
    insert_version(
        tx.conn(),
        record,
        version,
        draft,
        &version_sealed,
        Some(reason),
        me,
        change,
    )
    .await?;
    let event = Event::new(Action::RecordUpdate, Outcome::Success, Some(me))
        .session(session.id)
        .resource("medical_record", record)
        .patient(current.patient_id)
        .details(json!({"version": version, "changed": changed}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(Saved { record, version })
}

/// The names (never the values) of the fields a draft changes.
fn changed_fields(
    record_type: &str,
    record_date: NaiveDate,
    previous: Option<&Content>,
    draft: &Draft,
) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if record_type != draft.record_type.as_str() {
        changed.push("record_type");
    }
    if record_date != draft.record_date {
        changed.push("record_date");
    }
    let before = previous.cloned().unwrap_or_default();
    let after = draft.content.normalized();
    if before.title != after.title {
        changed.push("title");
    }
    if before.description != after.description {
        changed.push("description");
    }
    if before.metadata != after.metadata {
        changed.push("metadata");
    }
    changed
}
