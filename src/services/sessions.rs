//! Console sessions: one `sessions` row per login, its token stored only as a SHA-256 hash.

use chrono::{DateTime, Utc};
use rand::TryRng;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use subtle::ConstantTimeEq;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::audit::{self, Action, Client, Event, Outcome};
use super::users::UserSummary;
use super::{Policy, ServiceError, Services, passwords};
use crate::db::{ActingTx, Actor, DbError, Maintenance};

/// A live session as the console holds it. The token never leaves memory.
#[derive(Clone)]
pub struct Session {
    pub id: Uuid,
    pub user: UserSummary,
    pub expires_at: DateTime<Utc>,
    /// The account was given a temporary password (or was flagged by an admin): the console asks
    /// for a new password before anything else.
    pub password_change_required: bool,
    token: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("user", &self.user.id)
            .field("expires_at", &self.expires_at)
            .field("password_change_required", &self.password_change_required)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session for the console's own tests, which drive screens without a database.
    #[cfg(test)]
    pub(crate) fn for_tests(user: UserSummary, expires_at: DateTime<Utc>) -> Session {
        Session {
            id: Uuid::nil(),
            user,
            expires_at,
            password_change_required: false,
            token: Zeroizing::new([0; 32]),
        }
    }
}

/// What the database says about a session now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    Active,
    /// Ended in the database: by an admin, by the session limit, or because the user was deactivated.
    Revoked {
        reason: String,
    },
    /// Past the absolute limit.
    Expired,
}

fn token_hash(token: &[u8; 32]) -> [u8; 32] {
    Sha256::digest(token).into()
}

/// Starts a session inside the login transaction; ends the oldest ones beyond the limit.
pub(super) async fn create(
    conn: &mut PgConnection,
    policy: &Policy,
    client: &Client,
    user: &UserSummary,
    password_change_required: bool,
) -> Result<Session, ServiceError> {
    let mut token = Zeroizing::new([0u8; 32]);
    rand::rngs::SysRng
        .try_fill_bytes(token.as_mut())
        .map_err(|_| ServiceError::Invalid("the system's random number generator failed".into()))?;
    let id = Uuid::new_v4();
    let lifetime =
        chrono::Duration::from_std(policy.absolute_session).unwrap_or(chrono::Duration::hours(12));
    let expires_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO sessions (id, user_id, token_hash, expires_at, ip_address, user_agent) \
         VALUES ($1, $2, $3, now() + $4, $5, $6) RETURNING expires_at",
    )
    .bind(id)
    .bind(user.id)
    .bind(token_hash(&token).as_slice())
    .bind(lifetime)
    .bind(&client.address)
    .bind(&client.user_agent)
    .fetch_one(&mut *conn)
    .await
    .map_err(DbError::from)?;
    // The newest `max_sessions` stay; older ones end now. OFFSET is fine over a handful of rows.
    let over: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE sessions SET is_active = false, revoked_at = now(), revoked_reason = 'session limit' \
         WHERE id IN (SELECT id FROM sessions WHERE user_id = $1 AND is_active \
                      ORDER BY created_at DESC, id DESC OFFSET $2) RETURNING id",
    )
    .bind(user.id)
    .bind(i64::from(policy.max_sessions))
    .fetch_all(&mut *conn)
    .await
    .map_err(DbError::from)?;
    for ended in over {
        let event = Event::new(Action::SessionRevoked, Outcome::Success, Some(user.id))
            .session(ended)
            .details(json!({"reason": "session limit", "by_session": id}));
        audit::write(conn, client, &event).await?;
    }
    Ok(Session {
        id,
        user: user.clone(),
        expires_at,
        password_change_required,
        token,
    })
}

#[derive(sqlx::FromRow)]
struct StateRow {
    token_hash: Vec<u8>,
    active: bool,
    expired: bool,
    reason: Option<String>,
    user_ok: bool,
}

/// Checks the session against the database: still active, not expired, the user still allowed in.
/// An expired session is ended here (SESSION_EXPIRED).
pub async fn state(
    svc: &Services,
    client: &Client,
    session: &Session,
) -> Result<SessionState, ServiceError> {
    let mut tx = svc.db.begin(Actor::User(session.user.id)).await?;
    let row: Option<StateRow> = sqlx::query_as(
        "SELECT s.token_hash, s.is_active AS active, s.expires_at <= now() AS expired, \
                s.revoked_reason AS reason, (u.is_active AND u.deleted_at IS NULL) AS user_ok \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1",
    )
    .bind(session.id)
    .fetch_optional(tx.conn())
    .await
    .map_err(DbError::from)?;
    let Some(StateRow {
        token_hash: stored,
        active,
        expired,
        reason,
        user_ok,
    }) = row
    else {
        return Ok(SessionState::Revoked {
            reason: "the session no longer exists".into(),
        });
    };
    if !bool::from(stored.as_slice().ct_eq(&token_hash(&session.token))) {
        return Ok(SessionState::Revoked {
            reason: "the session token does not match".into(),
        });
    }
    if !active {
        return Ok(SessionState::Revoked {
            reason: reason.unwrap_or_else(|| "ended".into()),
        });
    }
    if !user_ok {
        end_in(
            tx.conn(),
            client,
            session,
            "user deactivated",
            Action::SessionRevoked,
        )
        .await?;
        tx.commit().await?;
        return Ok(SessionState::Revoked {
            reason: "user deactivated".into(),
        });
    }
    if expired {
        end_in(
            tx.conn(),
            client,
            session,
            "expired",
            Action::SessionExpired,
        )
        .await?;
        tx.commit().await?;
        return Ok(SessionState::Expired);
    }
    tx.commit().await?;
    Ok(SessionState::Active)
}

/// Refuses work for a session that has ended, expired, lost its user or does not match its token.
/// Every session-bound service call starts with this, inside its own transaction, so a revoked
/// session cannot act in the 30 seconds before its console notices.
pub(crate) async fn require_live(
    conn: &mut PgConnection,
    session: &Session,
) -> Result<(), ServiceError> {
    let stored: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT s.token_hash FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id = $1 AND s.is_active AND s.expires_at > now() AND u.is_active AND u.deleted_at IS NULL \
         FOR SHARE OF s",
    )
    .bind(session.id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(DbError::from)?;
    match stored {
        Some(hash) if bool::from(hash.as_slice().ct_eq(&token_hash(&session.token))) => Ok(()),
        _ => Err(ServiceError::SessionEnded),
    }
}

/// Opens a transaction acting for `session`'s user, after checking the session is still live: how
/// every session-bound service call starts.
pub(crate) async fn begin_live(
    svc: &Services,
    session: &Session,
) -> Result<ActingTx, ServiceError> {
    let mut tx = svc.db.begin(Actor::User(session.user.id)).await?;
    require_live(tx.conn(), session).await?;
    Ok(tx)
}

/// Records activity (the console calls this at most once a minute).
pub async fn touch(svc: &Services, session: &Session) -> Result<(), ServiceError> {
    let mut tx = begin_live(svc, session).await?;
    sqlx::query("UPDATE sessions SET last_activity_at = now() WHERE id = $1 AND is_active")
        .bind(session.id)
        .execute(tx.conn())
        .await
        .map_err(DbError::from)?;
    tx.commit().await?;
    Ok(())
}

/// The console hid its data after the idle limit (SESSION_LOCKED).
pub async fn lock(svc: &Services, client: &Client, session: &Session) -> Result<(), ServiceError> {
    let mut tx = begin_live(svc, session).await?;
    let event = Event::new(
        Action::SessionLocked,
        Outcome::Success,
        Some(session.user.id),
    )
    .session(session.id)
    .details(json!({"reason": "idle"}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Resumes a locked session with the user's password. False when the password is wrong (audited).
pub async fn unlock(
    svc: &Services,
    client: &Client,
    session: &Session,
    password: &str,
) -> Result<bool, ServiceError> {
    let mut tx = begin_live(svc, session).await?;
    let hash: String = sqlx::query_scalar("SELECT hsc_password_hash() FROM users WHERE id = $1")
        .bind(session.user.id)
        .fetch_one(tx.conn())
        .await
        .map_err(DbError::from)?;
    let ok = passwords::verify_off_thread(password, hash).await;
    let event = if ok {
        Event::new(
            Action::SessionUnlocked,
            Outcome::Success,
            Some(session.user.id),
        )
    } else {
        Event::new(Action::LoginFailed, Outcome::Failed, Some(session.user.id))
            .details(json!({"reason": "unlock"}))
    };
    audit::write(tx.conn(), client, &event.session(session.id)).await?;
    tx.commit().await?;
    Ok(ok)
}

/// Ends the session (LOGOUT with `reason`).
pub async fn end(
    svc: &Services,
    client: &Client,
    session: &Session,
    reason: &str,
) -> Result<(), ServiceError> {
    let mut tx = svc.db.begin(Actor::User(session.user.id)).await?;
    end_in(tx.conn(), client, session, reason, Action::Logout).await?;
    tx.commit().await?;
    Ok(())
}

async fn end_in(
    conn: &mut PgConnection,
    client: &Client,
    session: &Session,
    reason: &str,
    action: Action,
) -> Result<(), ServiceError> {
    let ended = sqlx::query(
        "UPDATE sessions SET is_active = false, revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND is_active",
    )
    .bind(session.id)
    .bind(reason)
    .execute(&mut *conn)
    .await
    .map_err(DbError::from)?
    .rows_affected();
    if ended == 0 {
        // Already ended elsewhere (an admin, the session limit): no row without its change.
        return Ok(());
    }
    let event = Event::new(action, Outcome::Success, Some(session.user.id))
        .session(session.id)
        .details(json!({"reason": reason}));
    audit::write(conn, client, &event).await?;
    Ok(())
}

/// Which sessions [`revoke`] ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Revoke {
    /// This one session, whoever holds it.
    One(Uuid),
    /// Every active session of this user, except (when given) the one the caller is using.
    AllOf { user: Uuid, except: Option<Uuid> },
}

/// Ends sessions for the acting session `by` (an admin, or a user changing their password), one
/// SESSION_REVOKED row each, in the caller's transaction. Returns the ended sessions' ids.
pub(crate) async fn revoke(
    conn: &mut PgConnection,
    client: &Client,
    by: &Session,
    which: Revoke,
    reason: &str,
) -> Result<Vec<Uuid>, ServiceError> {
    let (one, user, except) = match which {
        Revoke::One(id) => (Some(id), None, None),
        Revoke::AllOf { user, except } => (None, Some(user), except),
    };
    let ended: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "UPDATE sessions SET is_active = false, revoked_at = now(), revoked_reason = $4 \
         WHERE is_active AND ($1::uuid IS NULL OR id = $1) AND ($2::uuid IS NULL OR user_id = $2) \
           AND ($3::uuid IS NULL OR id <> $3) AND ($1::uuid IS NOT NULL OR $2::uuid IS NOT NULL) \
         RETURNING id, user_id",
    )
    .bind(one)
    .bind(user)
    .bind(except)
    .bind(reason)
    .fetch_all(&mut *conn)
    .await
    .map_err(DbError::from)?;
    for (session, owner) in &ended {
        let event = Event::new(Action::SessionRevoked, Outcome::Success, Some(by.user.id))
            .session(by.id)
            .resource("session", *session)
            .details(json!({"reason": reason, "user": owner}));
        audit::write(conn, client, &event).await?;
    }
    Ok(ended.into_iter().map(|(id, _)| id).collect())
}

/// Ends every session past its absolute limit (`hsc sessions cleanup`); returns how many.
pub async fn cleanup(svc: &Services, client: &Client) -> Result<u64, ServiceError> {
    let mut tx = svc
        .db
        .begin_maintenance(Maintenance::UserAdministration)
        .await?;
    let ended: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "UPDATE sessions SET is_active = false, revoked_at = now(), revoked_reason = 'expired' \
         WHERE is_active AND expires_at <= now() RETURNING id, user_id",
    )
    .fetch_all(tx.conn())
    .await
    .map_err(DbError::from)?;
    for (session, user) in &ended {
        let event = Event::new(Action::SessionExpired, Outcome::Success, Some(*user))
            .session(*session)
            .details(json!({"reason": "expired", "by": "sessions cleanup"}));
        audit::write(tx.conn(), client, &event).await?;
    }
    tx.commit().await?;
    Ok(ended.len() as u64)
}
