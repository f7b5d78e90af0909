//! The admin's user list and the changes to one account, each with its audit row in its transaction.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{
    AccountState, AdminUser, Cursor, NewAccount, PAGE_SIZE, TemporaryPassword, UserFilter,
    begin_admin, invalid,
};
use crate::db::{ActingTx, DbError};
use crate::services::audit::{self, Action, Client, Event, Outcome};
use crate::services::sessions::{self, Revoke, Session};
use crate::services::users::{self, Role};
use crate::services::{ServiceError, Services, custom_plans, keyset_page};

const LAST_ADMIN: &str =
    "This is the last active admin; make another user an admin before removing this one.";

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    first_name: String,
    last_name: String,
    role: String,
    is_active: bool,
    locked_until: Option<DateTime<Utc>>,
    mfa_enabled: bool,
    requires_password_change: bool,
    last_login_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    active_sessions: i64,
}

pub(super) fn role_of(text: &str) -> Result<Role, ServiceError> {
    text.parse::<Role>()
        .map_err(|_| invalid("A user has a role this hsc does not know.".into()))
}

/// One page of accounts (not deleted ones), newest first, after `after`. USER_LIST.
pub async fn users(
    svc: &Services,
    client: &Client,
    session: &Session,
    filter: &UserFilter,
    after: Option<Cursor>,
) -> Result<(Vec<AdminUser>, Option<Cursor>), ServiceError> {
    let mut tx = begin_admin(svc, client, session, "list users", None).await?;
    custom_plans(tx.conn()).await?;
    let rows: Vec<UserRow> = sqlx::query_as(
        "SELECT u.id, u.email, u.first_name, u.last_name, u.role::text AS role, u.is_active, u.locked_until, \
                u.mfa_enabled, u.requires_password_change, u.last_login_at, u.created_at, \
                (SELECT count(*) FROM sessions s \
                 WHERE s.user_id = u.id AND s.is_active AND s.expires_at > now()) AS active_sessions \
         FROM users u \
         WHERE u.deleted_at IS NULL \
           AND ($1::user_role IS NULL OR u.role = $1::user_role) \
           AND CASE $2::text \
                 WHEN 'active' THEN u.is_active AND NOT coalesce(u.locked_until > now(), false) \
                 WHEN 'inactive' THEN NOT u.is_active \
                 WHEN 'locked' THEN coalesce(u.locked_until > now(), false) \
                 ELSE true END \
           AND NOT EXISTS (SELECT 1 FROM unnest($3::text[]) w \
                           WHERE strpos(lower(u.first_name || ' ' || u.last_name || ' ' || u.email), w) = 0) \
           AND ($4::timestamptz IS NULL OR (u.created_at, u.id) < ($4, $5)) \
         ORDER BY u.created_at DESC, u.id DESC \
         LIMIT $6",
    )
    .bind(filter.role.map(Role::as_str))
    .bind(filter.state.map(AccountState::as_str))
    .bind(&filter.words)
    .bind(after.map(|c| c.0))
    .bind(after.map(|c| c.1))
    .bind(PAGE_SIZE as i64 + 1)
    .fetch_all(tx.conn())
    .await
    .map_err(DbError::from)?;
    let (rows, next) = keyset_page(rows, PAGE_SIZE, |r| (r.created_at, r.id));
    let mut users = Vec::with_capacity(rows.len());
    for r in rows {
        users.push(AdminUser {
            id: r.id,
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            role: role_of(&r.role)?,
            is_active: r.is_active,
            locked_until: r.locked_until,
            mfa_enabled: r.mfa_enabled,
            requires_password_change: r.requires_password_change,
            last_login_at: r.last_login_at,
            created_at: r.created_at,
            active_sessions: r.active_sessions,
        });
    }
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    // Typed words may be names: the row says only that there were some.
    let event = Event::new(Action::UserList, Outcome::Success, Some(session.user.id))
        .session(session.id)
        .details(json!({
            "users": ids,
            "role": filter.role.map(Role::as_str),
            "state": filter.state.map(AccountState::as_str),
            "name_filter": !filter.words.is_empty(),
            "page_after": after.map(|c| c.1),
        }));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok((users, next))
}

/// Creates an account with a generated password to hand over, to be changed at the first sign-in.
/// USER_CREATED.
pub async fn create_user(
    svc: &Services,
    client: &Client,
    session: &Session,
    new: &NewAccount,
) -> Result<(Uuid, TemporaryPassword), ServiceError> {
    let mut tx = begin_admin(svc, client, session, "create a user", None).await?;
    let email = new.email.trim();
    users::check_email(email)?;
    users::check_name("first", &new.first_name)?;
    users::check_name("last", &new.last_name)?;
    let password = TemporaryPassword::generate()?;
    let hash = password.hash().await?;
    let account = users::Account {
        email,
        first_name: new.first_name.trim(),
        last_name: new.last_name.trim(),
        role: new.role,
        password_hash: &hash,
        requires_password_change: true,
    };
    let id = users::insert(tx.conn(), &account).await?;
    let event = Event::new(Action::UserCreated, Outcome::Success, Some(session.user.id))
        .session(session.id)
        .resource("user", id)
        .details(json!({"role": new.role.as_str(), "by": "admin"}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok((id, password))
}

/// The account an admin is changing, locked for the rest of the transaction.
#[derive(sqlx::FromRow)]
struct Target {
    role: String,
    is_active: bool,
    locked: bool,
}

async fn lock_target(tx: &mut ActingTx, user: Uuid) -> Result<(Role, Target), ServiceError> {
    let target: Option<Target> = sqlx::query_as(
        "SELECT role::text AS role, is_active, coalesce(locked_until > now(), false) AS locked \
         FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(user)
    .fetch_optional(tx.conn())
    .await
    .map_err(DbError::from)?;
    let target =
        target.ok_or_else(|| ServiceError::Conflict("That user no longer exists.".into()))?;
    Ok((role_of(&target.role)?, target))
}

/// Refuses to remove an active admin when no other active admin is left. The guard trigger holds
/// the same rule under a lock against two admins removing each other at once; this names it first.
async fn keep_an_admin(tx: &mut ActingTx, user: Uuid) -> Result<(), ServiceError> {
    let others: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users \
         WHERE role = 'admin' AND is_active AND deleted_at IS NULL AND id <> $1",
    )
    .bind(user)
    .fetch_one(tx.conn())
    .await
    .map_err(DbError::from)?;
    if others == 0 {
        return Err(invalid(LAST_ADMIN.into()));
    }
    Ok(())
}

/// Runs a change of role or activation; the guard's last-admin refusal becomes its sentence.
async fn change_user(
    tx: &mut ActingTx,
    query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> Result<(), ServiceError> {
    match query.execute(tx.conn()).await {
        Ok(_) => Ok(()),
        Err(e) if DbError::sqlstate(&e).as_deref() == Some("23514") => {
            Err(ServiceError::Conflict(LAST_ADMIN.into()))
        }
        Err(e) => Err(DbError::from(e).into()),
    }
}

/// Deactivates (ending every session of the account at once) or reactivates an account; returns how
/// many sessions ended. USER_UPDATED, and SESSION_REVOKED for each session.
pub async fn set_active(
    svc: &Services,
    client: &Client,
    session: &Session,
    user: Uuid,
    active: bool,
) -> Result<u64, ServiceError> {
    let attempt = if active {
        "reactivate a user"
    } else {
        "deactivate a user"
    };
    let mut tx = begin_admin(svc, client, session, attempt, Some(("user", user))).await?;
    if user == session.user.id && !active {
        return Err(invalid("You cannot deactivate your own account.".into()));
    }
    let (role, target) = lock_target(&mut tx, user).await?;
    if target.is_active == active {
        let state = if active { "active" } else { "inactive" };
        return Err(invalid(format!("The account is already {state}.")));
    }
    if !active && role == Role::Admin {
        keep_an_admin(&mut tx, user).await?;
    }
    change_user(
        &mut tx,
        sqlx::query("UPDATE users SET is_active = $2 WHERE id = $1")
            .bind(user)
            .bind(active),
    )
    .await?;
    // A deactivated user's console notices its ended session at its next check (30 s at most), and
    // every service call refuses it at once (sessions::require_live).
    let ended = if active {
        Vec::new()
    } else {
        let which = Revoke::AllOf { user, except: None };
        sessions::revoke(tx.conn(), client, session, which, "user deactivated").await?
    };
    let change = if active { "reactivated" } else { "deactivated" };
    let event = Event::new(Action::UserUpdated, Outcome::Success, Some(session.user.id))
        .session(session.id)
        .resource("user", user)
        .details(json!({"change": change, "sessions_ended": ended.len()}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(ended.len() as u64)
}

/// Changes an account's role. The account's sessions end, so its console starts again with the
/// screens of the new role. USER_UPDATED.
pub async fn change_role(
    svc: &Services,
    client: &Client,
    session: &Session,
    user: Uuid,
    role: Role,
) -> Result<(), ServiceError> {
    let attempt = "change a user's role";
    let mut tx = begin_admin(svc, client, session, attempt, Some(("user", user))).await?;
    if user == session.user.id {
        return Err(invalid("You cannot change your own role.".into()));
    }
    let (old, target) = lock_target(&mut tx, user).await?;
    if old == role {
        return Err(invalid(format!(
            "The account already has the role {}.",
            role.label()
        )));
    }
    // A patient's chart and grants name them as the patient: the account stays a patient's.
    if (old == Role::Patient) != (role == Role::Patient) {
        return Err(invalid(
            "A patient's account cannot become a staff account, nor the other way round; create a new account instead."
                .into(),
        ));
    }
    if old == Role::Admin && target.is_active {
        keep_an_admin(&mut tx, user).await?;
    }
    change_user(
        &mut tx,
        sqlx::query("UPDATE users SET role = $2::user_role WHERE id = $1")
            .bind(user)
            .bind(role.as_str()),
    )
    .await?;
    let which = Revoke::AllOf { user, except: None };
    let ended = sessions::revoke(tx.conn(), client, session, which, "role changed").await?;
    let event = Event::new(Action::UserUpdated, Outcome::Success, Some(session.user.id))
        .session(session.id)
        .resource("user", user)
        .details(json!({
            "change": "role",
            "from": old.as_str(),
            "to": role.as_str(),
            "sessions_ended": ended.len(),
        }));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Gives the account a generated password that must be changed at the next sign-in, lifts a lockout
/// and ends its sessions. PASSWORD_CHANGE (reset by admin).
pub async fn reset_password(
    svc: &Services,
    client: &Client,
    session: &Session,
    user: Uuid,
) -> Result<TemporaryPassword, ServiceError> {
    let attempt = "reset a user's password";
    let mut tx = begin_admin(svc, client, session, attempt, Some(("user", user))).await?;
    if user == session.user.id {
        return Err(invalid(
            "You cannot reset your own password; change it from your account instead.".into(),
        ));
    }
    let password = TemporaryPassword::generate()?;
    let hash = password.hash().await?;
    let (_, target) = lock_target(&mut tx, user).await?;
    sqlx::query(
        "UPDATE users SET password_hash = $2, requires_password_change = true, \
                last_password_change_at = now(), failed_login_attempts = 0, locked_until = NULL \
         WHERE id = $1",
    )
    .bind(user)
    .bind(&hash)
    .execute(tx.conn())
    .await
    .map_err(DbError::from)?;
    let which = Revoke::AllOf { user, except: None };
    let ended = sessions::revoke(tx.conn(), client, session, which, "password reset").await?;
    let event = Event::new(
        Action::PasswordChange,
        Outcome::Success,
        Some(session.user.id),
    )
    .session(session.id)
    .resource("user", user)
    .details(json!({
        "by": "admin",
        "reset": true,
        "was_locked": target.locked,
        "sessions_ended": ended.len(),
    }));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(password)
}

/// Lifts a lockout and clears the failed attempts. ACCOUNT_UNLOCKED.
pub async fn unlock(
    svc: &Services,
    client: &Client,
    session: &Session,
    user: Uuid,
) -> Result<(), ServiceError> {
    let attempt = "unlock a user";
    let mut tx = begin_admin(svc, client, session, attempt, Some(("user", user))).await?;
    let (_, target) = lock_target(&mut tx, user).await?;
    users::clear_lockout(tx.conn(), user).await?;
    let event = Event::new(
        Action::AccountUnlocked,
        Outcome::Success,
        Some(session.user.id),
    )
    .session(session.id)
    .resource("user", user)
    .details(json!({"by": "admin", "was_locked": target.locked}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes every authenticator device and backup code of the account (its next sign-in enrolls
/// anew when its role requires MFA); returns how many devices went. MFA_DISABLED.
pub async fn reset_mfa(
    svc: &Services,
    client: &Client,
    session: &Session,
    user: Uuid,
) -> Result<u64, ServiceError> {
    let attempt = "reset a user's MFA";
    let mut tx = begin_admin(svc, client, session, attempt, Some(("user", user))).await?;
    if user == session.user.id {
        return Err(invalid(
            "You cannot reset your own MFA; remove your devices from your device list instead."
                .into(),
        ));
    }
    let removed: Result<i32, sqlx::Error> = sqlx::query_scalar("SELECT hsc_reset_mfa($1)")
        .bind(user)
        .fetch_one(tx.conn())
        .await;
    let removed = match removed {
        Ok(n) => u64::try_from(n).unwrap_or(0),
        Err(e) if DbError::sqlstate(&e).as_deref() == Some("P0002") => {
            return Err(ServiceError::Conflict("That user no longer exists.".into()));
        }
        Err(e) => return Err(DbError::from(e).into()),
    };
    let event = Event::new(Action::MfaDisabled, Outcome::Success, Some(session.user.id))
        .session(session.id)
        .resource("user", user)
        .details(json!({"by": "admin", "devices_removed": removed}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(removed)
}
