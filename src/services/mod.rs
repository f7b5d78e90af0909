//! The service layer: the only code in hsc that holds SQL. Each call opens its own transaction
//! through the database door and writes its audit row in it, so no read or change of clinical or
//! security data happens without its row.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod grants;
pub mod keys;
pub mod mfa;
pub mod passwords;
pub mod records;
pub mod seed;
pub mod sessions;
pub mod users;

use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use crate::config::Config;
use crate::crypto::{CryptoError, Keyring};
use crate::db::{ActingTx, Database, DbError};
use audit::{Action, Client, Event, Outcome};
use sessions::Session;
use users::Role;

/// A request the service refused or could not carry out, worded for the person at the console.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Bad input or a rule: one sentence naming what was wrong; nothing was changed.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("stored secret data could not be read: {0}")]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Hash(#[from] passwords::HashError),
    /// The acting user may not do this: one sentence, and the attempt is on the audit trail.
    #[error("{0}")]
    Denied(String),
    /// Someone else changed the row first; nothing was written.
    #[error("{0}")]
    Conflict(String),
    /// The session was ended, expired, or its user deactivated: sign in again.
    #[error("Your session has ended; sign in again.")]
    SessionEnded,
}

impl ServiceError {
    /// Whether the database was out of reach: the same request may be tried again unchanged.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ServiceError::Database(e) if e.is_unavailable())
    }
}

/// The security policy the services enforce (SPEC "Configuration" timeouts).
#[derive(Debug, Clone)]
pub struct Policy {
    pub lockout_attempts: u32,
    pub lockout: Duration,
    pub idle_lock: Duration,
    pub absolute_session: Duration,
    /// Roles that must use a second factor.
    pub mfa_roles: Vec<Role>,
    /// Active sessions a user may hold; logging in again ends the oldest.
    pub max_sessions: u32,
    /// How many days ahead a grant's expiry may be set.
    pub grant_max_days: u32,
}

impl Policy {
    pub fn from_config(config: &Config) -> Policy {
        Policy {
            lockout_attempts: config.timeouts.lockout_attempts,
            lockout: config.timeouts.lockout,
            idle_lock: config.timeouts.idle_lock,
            absolute_session: config.timeouts.absolute_session,
            mfa_roles: config.mfa_roles.clone(),
            max_sessions: 5,
            grant_max_days: config.grant_max_days,
        }
    }

    pub fn requires_mfa(&self, role: Role) -> bool {
        self.mfa_roles.contains(&role)
    }
}

/// What every service call needs: the database door, the keyring and the policy.
pub struct Services {
    pub db: Database,
    pub keyring: Keyring,
    pub policy: Policy,
}

/// Plans each of the transaction's statements for its own values, so a list's absent filter parts
/// fold away and a present one can use its index.
pub(crate) async fn custom_plans(conn: &mut sqlx::PgConnection) -> Result<(), ServiceError> {
    sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
        .execute(conn)
        .await
        .map_err(DbError::from)?;
    Ok(())
}

/// Cuts a keyset page read with one row more than `limit` (`LIMIT limit + 1`): the extra row says
/// there is a next page, which starts after the last row kept.
pub(crate) fn keyset_page<T, C>(
    mut rows: Vec<T>,
    limit: usize,
    cursor: impl Fn(&T) -> C,
) -> (Vec<T>, Option<C>) {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more { rows.last().map(cursor) } else { None };
    (rows, next)
}

/// Writes UNAUTHORIZED_ACCESS_ATTEMPT for `session` (about `resource`, if any) and commits it, then
/// returns the refusal: every request a role may not make is on the audit trail.
pub(crate) async fn refuse(
    mut tx: ActingTx,
    client: &Client,
    session: &Session,
    attempt: &'static str,
    resource: Option<(&'static str, Uuid)>,
    message: &str,
) -> ServiceError {
    let mut event = Event::new(
        Action::UnauthorizedAccessAttempt,
        Outcome::Denied,
        Some(session.user.id),
    )
    .session(session.id)
    .details(json!({"attempt": attempt}));
    if let Some((kind, id)) = resource {
        event = event.resource(kind, id);
    }
    let written = async {
        audit::write(tx.conn(), client, &event).await?;
        tx.commit().await
    }
    .await;
    match written {
        Ok(()) => ServiceError::Denied(message.to_string()),
        Err(e) => e.into(),
    }
}
