//! Choosing what a new grant is about: the patient and the grantee, searched by name as they are
//! typed, and the patient's records when the grant lists some of them.

use chrono::NaiveDate;
use serde_json::json;
use uuid::Uuid;

use super::GrantView;
use crate::db::DbError;
use crate::services::audit::{self, Action, Client, Event, Outcome};
use crate::services::records::{Person, RecordType};
use crate::services::sessions::{self, Session};
use crate::services::users::Role;
use crate::services::{ServiceError, Services, refuse};

/// Whom a search is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    Patient,
    Grantee,
}

/// A person a search found. Grantee searches also return people who cannot hold a grant (marked
/// not eligible), so the console can say why rather than show nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct Candidate {
    pub person: Person,
    pub role: Role,
    /// Specialization or licence, to tell two people of one name apart.
    pub detail: Option<String>,
    pub eligible: bool,
}

impl std::fmt::Debug for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Candidate")
            .field("id", &self.person.id)
            .field("role", &self.role)
            .field("eligible", &self.eligible)
            .finish_non_exhaustive()
    }
}

/// The most a search returns.
const SEARCH_LIMIT: i64 = 20;

/// People whose name (or email's start) matches `query`, for a new grant's patient or grantee. Only
/// roles that manage grants search; the policies decide whom they may see (a patient sees staff,
/// never other patients).
pub async fn find_people(
    svc: &Services,
    session: &Session,
    wanted: Wanted,
    query: &str,
) -> Result<Vec<Candidate>, ServiceError> {
    let query = query.trim().to_lowercase();
    let mut tx = sessions::begin_live(svc, session).await?;
    let manages = GrantView::of(session.user.role).is_some_and(GrantView::manages);
    if query.chars().count() < 2 || !manages {
        tx.commit().await?;
        return Ok(Vec::new());
    }
    let rows: Vec<(Uuid, String, String, Option<String>, bool)> = sqlx::query_as(
        "SELECT u.id, u.first_name || ' ' || u.last_name, u.role::text, \
                coalesce(u.specialization, u.license_number), \
                CASE $2::text WHEN 'patient' THEN u.role = 'patient' AND u.deleted_at IS NULL \
                     ELSE u.role IN ('physician', 'nurse') AND u.is_active AND u.deleted_at IS NULL END \
                    AS eligible \
         FROM users u \
         WHERE u.id <> $3 \
           AND (strpos(lower(u.first_name || ' ' || u.last_name), $1) > 0 OR starts_with(lower(u.email), $1)) \
           AND CASE $2::text WHEN 'patient' THEN u.role = 'patient' AND u.deleted_at IS NULL ELSE true END \
         ORDER BY 5 DESC, u.last_name, u.first_name, u.id \
         LIMIT $4",
    )
    .bind(&query)
    .bind(match wanted {
        Wanted::Patient => "patient",
        Wanted::Grantee => "grantee",
    })
    .bind(session.user.id)
    .bind(SEARCH_LIMIT)
    .fetch_all(tx.conn())
    .await
    .map_err(DbError::from)?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name, role, detail, eligible)| {
            let role: Role = role.parse().ok()?;
            Some(Candidate {
                person: Person { id, name },
                role,
                detail,
                eligible,
            })
        })
        .collect())
}

/// One of the patient's records, as a grant's scope offers it: type, date and provider only — never
/// the content, which records staff may not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordChoice {
    pub id: Uuid,
    pub record_type: RecordType,
    pub record_date: NaiveDate,
    pub provider: String,
}

/// The patient's records, newest first, to choose a grant's scope from (RECORD_LIST, with their ids).
pub async fn patient_records(
    svc: &Services,
    client: &Client,
    session: &Session,
    patient: Uuid,
) -> Result<Vec<RecordChoice>, ServiceError> {
    let mut tx = sessions::begin_live(svc, session).await?;
    let allowed = super::change::may_manage(session, patient);
    if !allowed {
        let message = "You may choose records only for grants you may create.";
        return Err(refuse(tx, client, session, "grant scope", None, message).await);
    }
    let rows: Vec<(Uuid, String, NaiveDate, Option<String>)> = sqlx::query_as(
        "SELECT m.id, m.record_type::text, m.record_date, pr.first_name || ' ' || pr.last_name \
         FROM medical_records m LEFT JOIN users pr ON pr.id = m.provider_id \
         WHERE m.patient_id = $1 \
         ORDER BY m.record_date DESC, m.id DESC LIMIT 500",
    )
    .bind(patient)
    .fetch_all(tx.conn())
    .await
    .map_err(DbError::from)?;
    let mut choices = Vec::with_capacity(rows.len());
    for (id, record_type, record_date, provider) in rows {
        choices.push(RecordChoice {
            id,
            record_type: record_type.parse()?,
            record_date,
            provider: provider.unwrap_or_else(|| "(not visible)".into()),
        });
    }
    let ids: Vec<Uuid> = choices.iter().map(|c| c.id).collect();
    let event = Event::new(Action::RecordList, Outcome::Success, Some(session.user.id))
        .session(session.id)
        .patient(patient)
        .details(json!({"records": ids, "patients": [patient], "purpose": "grant scope"}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(choices)
}
