//! Break-glass: a physician or nurse without a grant opens a patient's records in an emergency. The
//! password is asked again, a reason is required, and the access is a one-hour emergency grant that
//! ends by itself (the policies compare its expiry with the clock). Audited EMERGENCY_ACCESS, CRITICAL.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{Access, Person, refuse};
use crate::db::{ActingTx, DbError};
use crate::services::audit::{self, Action, Client, Event, Outcome};
use crate::services::sessions::{self, Session};
use crate::services::{ServiceError, Services, auth, passwords};

/// How long emergency access lasts.
pub const EMERGENCY_ACCESS_HOURS: i64 = 1;
/// The shortest reason accepted, in characters.
pub const MIN_EMERGENCY_REASON: usize = 10;
const MAX_EMERGENCY_REASON: usize = 500;

/// The grant break-glass created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmergencyGrant {
    pub grant: Uuid,
    pub patient: Person,
    pub expires_at: DateTime<Utc>,
}

/// Opens `patient`'s records to the acting clinician for one hour (READ_WRITE, all records, so
/// emergency care can be written down). The password must be given again.
pub async fn break_glass(
    svc: &Services,
    client: &Client,
    session: &Session,
    patient: Uuid,
    reason: &str,
    password: &str,
) -> Result<EmergencyGrant, ServiceError> {
    let reason = reason.trim();
    if reason.chars().count() < MIN_EMERGENCY_REASON {
        return Err(ServiceError::Invalid(format!(
            "Give the emergency reason in at least {MIN_EMERGENCY_REASON} characters."
        )));
    }
    if reason.chars().count() > MAX_EMERGENCY_REASON {
        return Err(ServiceError::Invalid(format!(
            "The emergency reason is longer than {MAX_EMERGENCY_REASON} characters."
        )));
    }
    let mut tx = sessions::begin_live(svc, session).await?;
    let me = session.user.id;
    if !Access::of(session.user.role).break_glass {
        return Err(refuse(
            tx,
            client,
            session,
            "break-glass",
            None,
            "Only physicians and nurses may use emergency access.",
        )
        .await);
    }
    let hash: String = sqlx::query_scalar("SELECT hsc_password_hash() FROM users WHERE id = $1")
        .bind(me)
        .fetch_one(tx.conn())
        .await
        .map_err(DbError::from)?;
    if !passwords::verify_off_thread(password, hash).await {
        return Err(wrong_password(svc, tx, client, session, patient).await);
    }
    let found: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT id, first_name || ' ' || last_name FROM users \
         WHERE id = $1 AND role = 'patient' AND deleted_at IS NULL",
    )
    .bind(patient)
    .fetch_optional(tx.conn())
    .await
    .map_err(DbError::from)?;
    let Some((id, name)) = found else {
        tx.commit().await?;
        return Err(ServiceError::Invalid("No such patient.".into()));
    };
    let (grant, expires_at): (Uuid, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO access_grants (patient_id, grantee_id, scope, access_level, expires_at, granted_by, \
             is_emergency, emergency_reason) \
         VALUES ($1, $2, 'ALL_RECORDS', 'READ_WRITE', now() + make_interval(hours => $3), $2, true, $4) \
         RETURNING id, expires_at",
    )
    .bind(id)
    .bind(me)
    .bind(EMERGENCY_ACCESS_HOURS as i32)
    .bind(reason)
    .fetch_one(tx.conn())
    .await
    .map_err(DbError::from)?;
    let event = Event::new(Action::EmergencyAccess, Outcome::Success, Some(me))
        .session(session.id)
        .resource("access_grant", grant)
        .patient(id)
        .details(json!({"expires_at": expires_at.to_rfc3339(), "hours": EMERGENCY_ACCESS_HOURS}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    tracing::warn!(grant = %grant, "emergency access opened");
    Ok(EmergencyGrant {
        grant,
        patient: Person { id, name },
        expires_at,
    })
}

/// A wrong password counts toward the lockout, as at sign-in, so break-glass is no way to guess one:
/// the attempt that reaches the limit locks the account and ends this session.
async fn wrong_password(
    svc: &Services,
    mut tx: ActingTx,
    client: &Client,
    session: &Session,
    patient: Uuid,
) -> ServiceError {
    let me = session.user.id;
    let result: Result<ServiceError, ServiceError> = async {
        let event = Event::new(Action::EmergencyAccess, Outcome::Denied, Some(me))
            .session(session.id)
            .patient(patient)
            .details(json!({"reason": "wrong password"}));
        audit::write(tx.conn(), client, &event).await?;
        let locked = auth::count_failed_attempt(
            tx.conn(),
            &svc.policy,
            client,
            me,
            Some(session.id),
            "emergency access",
        )
        .await?;
        tx.commit().await?;
        if !locked {
            return Ok(ServiceError::Invalid(
                "That password is not correct; emergency access was not opened.".into(),
            ));
        }
        Ok(ServiceError::SessionEnded)
    }
    .await;
    result.unwrap_or_else(|e| e)
}
