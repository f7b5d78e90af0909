//! A user's authenticator devices: list, add, rename, remove.

use serde_json::json;
use uuid::Uuid;

use super::{BackupCodes, Enrollment, FactorCheck, check_factor, store_enrollment};
use crate::db::{Actor, DbError};
use crate::services::audit::{self, Action, Client, Event, Outcome};
use crate::services::sessions::Session;
use crate::services::sessions::begin_live;
use crate::services::{ServiceError, Services, passwords};

/// One of the user's authenticator devices, as the account screen lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Device {
    pub id: Uuid,
    pub name: String,
    pub is_primary: bool,
    pub verified_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The session user's active devices and how many backup codes remain.
pub async fn devices(
    svc: &Services,
    session: &Session,
) -> Result<(Vec<Device>, i64), ServiceError> {
    let mut tx = begin_live(svc, session).await?;
    let devices: Vec<Device> = sqlx::query_as(
        "SELECT id, device_name AS name, is_primary, verified_at, last_used_at FROM mfa_devices \
             WHERE user_id = $1 AND is_active AND is_verified ORDER BY is_primary DESC, created_at",
    )
    .bind(session.user.id)
    .fetch_all(tx.conn())
    .await
    .map_err(DbError::from)?;
    let remaining: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mfa_backup_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(session.user.id)
    .fetch_one(tx.conn())
    .await
    .map_err(DbError::from)?;
    tx.commit().await?;
    Ok((devices, remaining))
}

/// Checks the password, and a current code when `code` is given, inside `tx`; writes
/// BACKUP_CODE_USED when a backup code served. False when either is not right.
async fn confirm_identity(
    conn: &mut sqlx::PgConnection,
    svc: &Services,
    client: &Client,
    session: &Session,
    password: &str,
    code: Option<&str>,
) -> Result<bool, ServiceError> {
    let hash: String =
        sqlx::query_scalar("SELECT hsc_password_hash() FROM users WHERE id = $1 FOR UPDATE")
            .bind(session.user.id)
            .fetch_one(&mut *conn)
            .await
            .map_err(DbError::from)?;
    if !passwords::verify_off_thread(password, hash).await {
        return Ok(false);
    }
    let Some(code) = code else { return Ok(true) };
    match check_factor(&mut *conn, &svc.keyring, &session.user, code).await? {
        FactorCheck::Totp => Ok(true),
        FactorCheck::Backup => {
            let event = Event::new(
                Action::BackupCodeUsed,
                Outcome::Success,
                Some(session.user.id),
            )
            .session(session.id)
            .details(json!({"purpose": "confirm a device change"}));
            audit::write(conn, client, &event).await?;
            Ok(true)
        }
        FactorCheck::Replayed | FactorCheck::Wrong => Ok(false),
    }
}

/// Writes the denial of a device change in a transaction of its own (the attempt's was rolled back).
async fn deny(
    svc: &Services,
    client: &Client,
    session: &Session,
    action: Action,
    device: Option<Uuid>,
) -> Result<(), ServiceError> {
    let mut tx = svc.db.begin(Actor::User(session.user.id)).await?;
    let mut event = Event::new(action, Outcome::Denied, Some(session.user.id))
        .session(session.id)
        .details(json!({"reason": "password or code not right"}));
    if let Some(d) = device {
        event = event.resource("mfa_device", d);
    }
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds a device for a logged-in user, after the password and — when they already have a device —
/// a current code, so a console left unlocked cannot be given someone else's phone.
/// Returns the backup codes when it was their first device.
pub async fn add_device(
    svc: &Services,
    client: &Client,
    session: &Session,
    enrollment: &Enrollment,
    new_code: &str,
    password: &str,
    current_code: Option<&str>,
) -> Result<Option<BackupCodes>, ServiceError> {
    let mut tx = begin_live(svc, session).await?;
    let existing: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mfa_devices WHERE user_id = $1 AND is_active AND is_verified",
    )
    .bind(session.user.id)
    .fetch_one(tx.conn())
    .await
    .map_err(DbError::from)?;
    let code = if existing > 0 {
        Some(current_code.ok_or_else(|| {
            ServiceError::Invalid(
                "Enter a current code from one of your devices to add another.".into(),
            )
        })?)
    } else {
        None
    };
    if !confirm_identity(tx.conn(), svc, client, session, password, code).await? {
        drop(tx);
        deny(svc, client, session, Action::MfaEnabled, None).await?;
        return Err(ServiceError::Invalid(
            "The password or the current code is not right; no device was added.".into(),
        ));
    }
    match store_enrollment(
        tx.conn(),
        &svc.keyring,
        client,
        &session.user,
        Some(session.id),
        enrollment,
        new_code,
    )
    .await?
    {
        Some(codes) => {
            tx.commit().await?;
            Ok(codes)
        }
        None => Err(ServiceError::Invalid(WRONG_CODE.into())),
    }
}

/// What a wrong or reused code is told.
pub const WRONG_CODE: &str = "That code is not right: enter the 6-digit code your authenticator app shows now, or a backup code.";

/// Renames a device (MFA_DEVICE_UPDATED).
pub async fn rename(
    svc: &Services,
    client: &Client,
    session: &Session,
    device: Uuid,
    name: &str,
) -> Result<(), ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ServiceError::Invalid(
            "a device name must be 1 to 64 characters with no control characters".into(),
        ));
    }
    let mut tx = begin_live(svc, session).await?;
    let changed = sqlx::query(
        "UPDATE mfa_devices SET device_name = $3 WHERE id = $1 AND user_id = $2 AND is_active",
    )
    .bind(device)
    .bind(session.user.id)
    .bind(name)
    .execute(tx.conn())
    .await
    .map_err(DbError::from)?
    .rows_affected();
    if changed == 0 {
        return Err(ServiceError::Invalid("that device no longer exists".into()));
    }
    let event = Event::new(
        Action::MfaDeviceUpdated,
        Outcome::Success,
        Some(session.user.id),
    )
    .session(session.id)
    .resource("mfa_device", device)
    .details(json!({"change": "renamed"}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a device after the password and a current code (MFA_DISABLED). Removing the last device
/// also voids the backup codes and turns MFA off; a role that requires MFA enrolls again at next login.
pub async fn remove(
    svc: &Services,
    client: &Client,
    session: &Session,
    device: Uuid,
    password: &str,
    code: &str,
) -> Result<(), ServiceError> {
    let mut tx = begin_live(svc, session).await?;
    if !confirm_identity(tx.conn(), svc, client, session, password, Some(code)).await? {
        // Whatever was consumed stays unconsumed: nothing of this attempt is kept but its audit row.
        drop(tx);
        deny(svc, client, session, Action::MfaDisabled, Some(device)).await?;
        return Err(ServiceError::Invalid(
            "The password or the code is not right; the device was not removed.".into(),
        ));
    }
    let removed = sqlx::query("DELETE FROM mfa_devices WHERE id = $1 AND user_id = $2")
        .bind(device)
        .bind(session.user.id)
        .execute(tx.conn())
        .await
        .map_err(DbError::from)?
        .rows_affected();
    if removed == 0 {
        return Err(ServiceError::Invalid("that device no longer exists".into()));
    }
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mfa_devices WHERE user_id = $1 AND is_active AND is_verified",
    )
    .bind(session.user.id)
    .fetch_one(tx.conn())
    .await
    .map_err(DbError::from)?;
    if left == 0 {
        sqlx::query("DELETE FROM mfa_backup_codes WHERE user_id = $1")
            .bind(session.user.id)
            .execute(tx.conn())
            .await
            .map_err(DbError::from)?;
        sqlx::query("UPDATE users SET mfa_enabled = false WHERE id = $1")
            .bind(session.user.id)
            .execute(tx.conn())
            .await
            .map_err(DbError::from)?;
    } else {
        // Someone must stay primary.
        sqlx::query(
            "UPDATE mfa_devices SET is_primary = true WHERE id = (SELECT id FROM mfa_devices WHERE user_id = $1 \
             AND is_active AND is_verified ORDER BY is_primary DESC, created_at LIMIT 1) AND NOT is_primary",
        )
        .bind(session.user.id)
        .execute(tx.conn())
        .await
        .map_err(DbError::from)?;
    }
    let event = Event::new(Action::MfaDisabled, Outcome::Success, Some(session.user.id))
        .session(session.id)
        .resource("mfa_device", device)
        .details(json!({"devices_left": left}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(())
}
