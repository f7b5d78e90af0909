//! Creating, re-timing and revoking grants. Each is one short transaction, run only after the person
//! confirmed: the checks, the change and its audit row (GRANT_CREATE, GRANT_UPDATE, GRANT_REVOKE) all
//! commit together or not at all. Bad input changes nothing and is answered in one sentence.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::expiry::expiry_problem;
use super::{AccessLevel, Grant, GrantRow, GrantStatus, GrantView, load, short_id, when};
use crate::db::{ActingTx, DbError};
use crate::services::audit::{self, Action, Client, Event, Outcome};
use crate::services::sessions::{self, Session};
use crate::services::users::Role;
use crate::services::{ServiceError, Services, refuse};

/// The shortest revocation reason accepted, in characters.
pub const MIN_REVOCATION_REASON: usize = 5;
/// The longest revocation reason accepted, in characters (the database holds the same limit).
pub const MAX_REVOCATION_REASON: usize = 500;
/// The most records one grant lists.
const MAX_LISTED_RECORDS: usize = 500;

/// A grant to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrant {
    pub patient: Uuid,
    pub grantee: Uuid,
    /// `None`: all of the patient's records, present and future; else these records.
    pub records: Option<Vec<Uuid>>,
    pub level: AccessLevel,
    pub expires_at: DateTime<Utc>,
}

/// Whether the acting user may manage grants on `patient`'s records.
pub(super) fn may_manage(session: &Session, patient: Uuid) -> bool {
    match GrantView::of(session.user.role) {
        Some(GrantView::All) => true,
        Some(GrantView::OwnRecords) => patient == session.user.id,
        _ => false,
    }
}

fn refusal_for(session: &Session) -> &'static str {
    if session.user.role == Role::Patient {
        "You may manage grants on your own records only."
    } else {
        "Your role does not manage access grants."
    }
}

/// Why an expiry cannot be set now (`now` from the caller's clock; the database checks its own).
fn check_expiry(svc: &Services, expires_at: DateTime<Utc>) -> Result<(), ServiceError> {
    let now = Utc::now();
    if expires_at <= now {
        return Err(ServiceError::Invalid(format!(
            "The expiry {} is in the past; choose a later time.",
            when(expires_at)
        )));
    }
    match expiry_problem(
        expires_at.date_naive(),
        now.date_naive(),
        svc.policy.grant_max_days,
    ) {
        Some(problem) => Err(ServiceError::Invalid(problem)),
        None => Ok(()),
    }
}

/// Creates a grant: `patient`'s records (all, or those listed) to `grantee`, a physician or nurse,
/// until `expires_at`. Refused without change if the grantee cannot hold a grant, a record is not the
/// patient's, or an active grant of the same patient to the same grantee already covers one of them
/// (the sentence names that grant).
pub async fn create(
    svc: &Services,
    client: &Client,
    session: &Session,
    new: &NewGrant,
) -> Result<Grant, ServiceError> {
    let mut tx = sessions::begin_live(svc, session).await?;
    // The role first: an attempt the role may not make is audited whatever its input.
    if !may_manage(session, new.patient) {
        return Err(refuse(
            tx,
            client,
            session,
            "create grant",
            None,
            refusal_for(session),
        )
        .await);
    }
    check_expiry(svc, new.expires_at)?;
    // A record named twice is listed once (the list's key would refuse the second).
    let records: Option<Vec<Uuid>> = new.records.as_ref().map(|listed| {
        let mut seen = HashSet::with_capacity(listed.len());
        listed
            .iter()
            .copied()
            .filter(|id| seen.insert(*id))
            .collect()
    });
    if let Some(records) = &records {
        if records.is_empty() {
            return Err(ServiceError::Invalid(
                "Choose at least one record, or grant all of the patient's records.".into(),
            ));
        }
        if records.len() > MAX_LISTED_RECORDS {
            return Err(ServiceError::Invalid(format!(
                "A grant lists at most {MAX_LISTED_RECORDS} records; grant all of the patient's records instead."
            )));
        }
    }
    let patient = person_of(&mut tx, new.patient).await?;
    let Some((patient_name, patient_role, _)) = patient else {
        return Err(ServiceError::Invalid(
            "No such patient: the chosen person is not one of the clinic's users.".into(),
        ));
    };
    if patient_role != "patient" {
        return Err(ServiceError::Invalid(format!(
            "{patient_name} is not a patient; grants are given on a patient's records."
        )));
    }
    let Some((grantee_name, grantee_role, active)) = person_of(&mut tx, new.grantee).await? else {
        return Err(ServiceError::Invalid(
            "No such user: the chosen grantee is not one of the clinic's users.".into(),
        ));
    };
    if new.grantee == new.patient || !matches!(grantee_role.as_str(), "physician" | "nurse") {
        let role = grantee_role
            .parse::<Role>()
            .map(Role::label)
            .unwrap_or("user");
        return Err(ServiceError::Invalid(format!(
            "{grantee_name} is not a physician or nurse ({role}); grants go to physicians and nurses only."
        )));
    }
    if !active {
        return Err(ServiceError::Invalid(format!(
            "{grantee_name}'s account is not active; a grant to it would never be used."
        )));
    }
    if let Some(records) = &records {
        let theirs: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM medical_records WHERE patient_id = $1 AND id = ANY($2)",
        )
        .bind(new.patient)
        .bind(records)
        .fetch_all(tx.conn())
        .await
        .map_err(DbError::from)?;
        if let Some(stray) = records.iter().find(|r| !theirs.contains(r)) {
            return Err(ServiceError::Invalid(format!(
                "Record {} is not one of {patient_name}'s records.",
                short_id(*stray)
            )));
        }
    }
    // One creation at a time per patient and grantee, so the overlap check below sees the others.
    sqlx::query("SELECT hsc_lock_grant_pair($1, $2)")
        .bind(new.patient)
        .bind(new.grantee)
        .execute(tx.conn())
        .await
        .map_err(DbError::from)?;
    let grant: Uuid = sqlx::query_scalar(
        "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by) \
         VALUES ($1, $2, $3::grant_scope, $4::access_level, $5, $6) RETURNING id",
    )
    .bind(new.patient)
    .bind(new.grantee)
    .bind(if records.is_some() {
        "SELECTED_RECORDS"
    } else {
        "ALL_RECORDS"
    })
    .bind(new.level.as_str())
    .bind(new.expires_at)
    .bind(session.user.id)
    .fetch_one(tx.conn())
    .await
    .map_err(denied_or_db)?;
    if let Some(records) = &records {
        sqlx::query(
            "INSERT INTO access_grant_records (grant_id, record_id) SELECT $1, unnest($2::uuid[])",
        )
        .bind(grant)
        .bind(records)
        .execute(tx.conn())
        .await
        .map_err(denied_or_db)?;
    }
    let overlapping: Option<Uuid> = sqlx::query_scalar("SELECT hsc_overlapping_grant($1)")
        .bind(grant)
        .fetch_one(tx.conn())
        .await
        .map_err(DbError::from)?;
    if let Some(existing) = overlapping {
        let existing = load(tx.conn(), existing).await?.map(GrantRow::into_grant);
        // Dropping the transaction rolls the new grant back.
        return Err(ServiceError::Invalid(match existing {
            Some(g) => format!(
                "{grantee_name} already holds an active grant on these records of {patient_name}, {}; \
                 change its expiry or revoke it instead.",
                g.describe()
            ),
            None => format!(
                "{grantee_name} already holds an active grant on these records of {patient_name}."
            ),
        }));
    }
    let event = Event::new(Action::GrantCreate, Outcome::Success, Some(session.user.id))
        .session(session.id)
        .resource("access_grant", grant)
        .patient(new.patient)
        .details(json!({
            "grantee": new.grantee,
            "scope": if records.is_some() { "SELECTED_RECORDS" } else { "ALL_RECORDS" },
            "records": records,
            "access_level": new.level.as_str(),
            "expires_at": new.expires_at.to_rfc3339(),
        }));
    audit::write(tx.conn(), client, &event).await?;
    let created = load(tx.conn(), grant).await?.map(GrantRow::into_grant);
    commit_change(tx).await?;
    created.ok_or_else(|| ServiceError::Invalid("The new grant could not be read back.".into()))
}

/// Moves an active grant's expiry from `expected` (what the person saw) to `expires_at`. Refused if
/// the grant has been revoked, has expired, is emergency access being extended, or was changed by
/// someone else meanwhile.
pub async fn change_expiry(
    svc: &Services,
    client: &Client,
    session: &Session,
    grant: Uuid,
    expected: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Grant, ServiceError> {
    // The role and the grant first: an attempt the role may not make is audited whatever its input.
    let (mut tx, current) =
        open_for_change(svc, client, session, grant, "change grant expiry").await?;
    check_expiry(svc, expires_at)?;
    if expires_at == expected {
        return Err(ServiceError::Invalid(format!(
            "The grant already expires at {}; nothing to change.",
            when(expires_at)
        )));
    }
    if current.expires_at != expected {
        return Err(ServiceError::Conflict(format!(
            "This grant's expiry was changed to {} meanwhile, so nothing was changed; check it and try again.",
            when(current.expires_at)
        )));
    }
    if current.is_emergency {
        return Err(ServiceError::Invalid(
            "Emergency access keeps its hour and is never re-timed; revoke it to end it sooner."
                .into(),
        ));
    }
    let updated = sqlx::query("UPDATE access_grants SET expires_at = $2 WHERE id = $1")
        .bind(grant)
        .bind(expires_at)
        .execute(tx.conn())
        .await
        .map_err(denied_or_db)?;
    changed_one(updated.rows_affected())?;
    let event = Event::new(Action::GrantUpdate, Outcome::Success, Some(session.user.id))
        .session(session.id)
        .resource("access_grant", grant)
        .patient(current.patient.id)
        .details(json!({
            "expires_at": {"from": current.expires_at.to_rfc3339(), "to": expires_at.to_rfc3339()},
        }));
    audit::write(tx.conn(), client, &event).await?;
    let changed = load(tx.conn(), grant).await?.map(GrantRow::into_grant);
    commit_change(tx).await?;
    changed.ok_or_else(|| ServiceError::Invalid("The grant could not be read back.".into()))
}

/// Revokes an active grant now, with a reason: it stops working at once, for every session (each
/// request gathers the grants anew), and can never be made active again.
pub async fn revoke(
    svc: &Services,
    client: &Client,
    session: &Session,
    grant: Uuid,
    reason: &str,
) -> Result<Grant, ServiceError> {
    // The role and the grant first: an attempt the role may not make is audited whatever its input.
    let (mut tx, current) = open_for_change(svc, client, session, grant, "revoke grant").await?;
    let reason = reason.trim();
    if reason.chars().count() < MIN_REVOCATION_REASON {
        return Err(ServiceError::Invalid(format!(
            "Give the reason for revoking in at least {MIN_REVOCATION_REASON} characters."
        )));
    }
    if reason.chars().count() > MAX_REVOCATION_REASON {
        return Err(ServiceError::Invalid(format!(
            "The reason is longer than {MAX_REVOCATION_REASON} characters."
        )));
    }
    let updated = sqlx::query(
        "UPDATE access_grants SET status = 'REVOKED', revoked_at = now(), revoked_by = $2, \
         revocation_reason = $3 WHERE id = $1",
    )
    .bind(grant)
    .bind(session.user.id)
    .bind(reason)
    .execute(tx.conn())
    .await
    .map_err(denied_or_db)?;
    changed_one(updated.rows_affected())?;
    // The reason stays on the grant; the audit row says only that there was one.
    let event = Event::new(Action::GrantRevoke, Outcome::Success, Some(session.user.id))
        .session(session.id)
        .resource("access_grant", grant)
        .patient(current.patient.id)
        .details(json!({
            "grantee": current.grantee.id,
            "was_emergency": current.is_emergency,
            "reason_chars": reason.chars().count(),
        }));
    audit::write(tx.conn(), client, &event).await?;
    let revoked = load(tx.conn(), grant).await?.map(GrantRow::into_grant);
    commit_change(tx).await?;
    revoked.ok_or_else(|| ServiceError::Invalid("The grant could not be read back.".into()))
}

/// Opens the transaction of a change to `grant`, locks the grant's row, and checks it is the acting
/// user's to change and still active.
async fn open_for_change(
    svc: &Services,
    client: &Client,
    session: &Session,
    grant: Uuid,
    attempt: &'static str,
) -> Result<(ActingTx, Grant), ServiceError> {
    let mut tx = sessions::begin_live(svc, session).await?;
    let manages = GrantView::of(session.user.role).is_some_and(GrantView::manages);
    let row = if manages {
        // Row-locked (the update policy decides which rows may be), so two changes take turns; a
        // grant the update policy does not offer is not this user's to change.
        let locked =
            sqlx::query_scalar::<_, Uuid>("SELECT id FROM access_grants WHERE id = $1 FOR UPDATE")
                .bind(grant)
                .fetch_optional(tx.conn())
                .await
                .map_err(DbError::from)?;
        match locked {
            Some(_) => load(tx.conn(), grant).await?,
            None => None,
        }
    } else {
        None
    };
    let Some(row) = row else {
        let resource = Some(("access_grant", grant));
        let message = if manages {
            "No such grant among those you may change."
        } else {
            refusal_for(session)
        };
        return Err(refuse(tx, client, session, attempt, resource, message).await);
    };
    let current = row.into_grant();
    if !may_manage(session, current.patient.id) {
        let resource = Some(("access_grant", grant));
        return Err(refuse(tx, client, session, attempt, resource, refusal_for(session)).await);
    }
    match current.status {
        GrantStatus::Active => Ok((tx, current)),
        GrantStatus::Revoked => Err(ServiceError::Invalid(format!(
            "This grant was revoked{}; it cannot change any more.",
            current
                .revoked_at
                .map(|at| format!(" at {}", when(at)))
                .unwrap_or_default()
        ))),
        GrantStatus::Expired => Err(ServiceError::Invalid(format!(
            "This grant expired at {}; create a new grant instead.",
            when(current.expires_at)
        ))),
    }
}

/// Commits a grant change; the database's own rules (policies, guard, overlap check at commit) answer
/// with a refusal rather than an internal error.
async fn commit_change(tx: ActingTx) -> Result<(), ServiceError> {
    tx.commit().await.map_err(|e| match &e {
        DbError::Query(text) if text.contains("SQLSTATE 23P01") => ServiceError::Conflict(
            "An overlapping grant was created at the same moment, so nothing was changed; reload and check.".into(),
        ),
        // The overlap check cannot see a concurrent grant under REPEATABLE READ, so it refuses.
        DbError::Query(text) if text.contains("SQLSTATE 25000") => ServiceError::Invalid(
            "The database runs transactions under REPEATABLE READ, where grants cannot be checked \
             for overlap, so nothing was changed; ask an administrator to use READ COMMITTED."
                .into(),
        ),
        _ => e.into(),
    })
}

/// An update of the one locked grant changed exactly it; anything else means the policies no longer
/// offer it, and nothing (its audit row included) may be written as if it had changed.
fn changed_one(rows: u64) -> Result<(), ServiceError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(ServiceError::Conflict(
            "The grant could not be changed as it stands now, so nothing was changed; reload and check it."
                .into(),
        ))
    }
}

/// A change the policies or the guard refused: a rule broken, said as such.
fn denied_or_db(e: sqlx::Error) -> ServiceError {
    match DbError::sqlstate(&e).as_deref() {
        Some("42501") => {
            ServiceError::Denied("The database refused this change to the grant.".into())
        }
        Some("23514") => ServiceError::Invalid(
            "The database refused this change to the grant: it breaks a grant rule.".into(),
        ),
        _ => DbError::from(e).into(),
    }
}

/// A user's name, role and whether their account is usable, as far as the acting user may see.
async fn person_of(
    tx: &mut ActingTx,
    id: Uuid,
) -> Result<Option<(String, String, bool)>, ServiceError> {
    Ok(sqlx::query_as(
        "SELECT first_name || ' ' || last_name, role::text, is_active AND deleted_at IS NULL \
         FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(tx.conn())
    .await
    .map_err(DbError::from)?)
}
