//! Logging in: the lockout first, then the password (argon2id), then the second factor.
//! Unknown emails, wrong passwords, locked and inactive accounts get the same answer in about the
//! same time, and every attempt leaves an audit row.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::audit::{self, Action, Client, Event, Outcome};
use super::mfa::{self, BackupCodes, Enrollment, FactorCheck};
use super::sessions::{self, Session};
use super::users::{Role, UserSummary};
use super::{Policy, ServiceError, Services, passwords};
use crate::db::{Actor, DbError};

/// The one answer to every refused login. It never says whether the password was right.
pub const REFUSED: &str =
    "Login failed: the email or password is not right, or the account is locked or inactive.";

/// How long a person may take between the password and the code.
pub const SECOND_FACTOR_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Longest input the login accepts; anything longer is refused before any work.
const MAX_INPUT: usize = 1024;

/// Why a login step did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Start over at the email and password ([`REFUSED`]).
    #[error("{REFUSED}")]
    Refused,
    /// The code was wrong or already used; another code may be tried.
    #[error("{}", mfa::WRONG_CODE)]
    WrongCode,
    /// Another console enrolled a device for this account meanwhile; start over and use its code.
    #[error(
        "An authenticator was set up for this account meanwhile; sign in again and use its code."
    )]
    AlreadyEnrolled,
    /// The password was checked too long ago.
    #[error("The sign-in took too long; enter your email and password again.")]
    TimedOut,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<DbError> for AuthError {
    fn from(e: DbError) -> Self {
        AuthError::Service(e.into())
    }
}

/// A password that was right, waiting for its second factor. Lives only in the console's memory.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub user: UserSummary,
    verified_at: Instant,
}

impl PendingLogin {
    /// A pending login for the console's own tests, which drive screens without a database.
    #[cfg(test)]
    pub(crate) fn for_tests(user: UserSummary) -> PendingLogin {
        PendingLogin {
            user,
            verified_at: Instant::now(),
        }
    }

    fn check_fresh(&self) -> Result<(), AuthError> {
        if self.verified_at.elapsed() > SECOND_FACTOR_WINDOW {
            Err(AuthError::TimedOut)
        } else {
            Ok(())
        }
    }
}

/// Where a correct password leads.
#[derive(Debug)]
pub enum LoginStep {
    LoggedIn(Session),
    /// The user has a device: ask for its code (or a backup code).
    NeedsCode(PendingLogin),
    /// The role must use MFA and the user has no device: enroll before anything else.
    NeedsEnrollment(PendingLogin),
}

struct Account {
    user: UserSummary,
    password_hash: String,
    usable: bool,
    locked_until: Option<DateTime<Utc>>,
    devices: i64,
    password_change_required: bool,
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: Uuid,
    email: String,
    first_name: String,
    last_name: String,
    role: String,
    password_hash: String,
    usable: bool,
    locked_until: Option<DateTime<Utc>>,
    devices: i64,
    requires_password_change: bool,
}

async fn load_account(
    conn: &mut PgConnection,
    email: Option<&str>,
    id: Option<Uuid>,
) -> Result<Option<Account>, DbError> {
    let row: Option<AccountRow> = sqlx::query_as(
        "SELECT u.id, u.email, u.first_name, u.last_name, u.role::text AS role, coalesce(hsc_password_hash(), '') AS password_hash, \
                (u.is_active AND u.deleted_at IS NULL) AS usable, u.locked_until, u.requires_password_change, \
                (SELECT count(*) FROM mfa_devices d WHERE d.user_id = u.id AND d.is_active AND d.is_verified) AS devices \
         FROM users u WHERE ($1::text IS NOT NULL AND lower(u.email) = lower($1)) OR u.id = $2 \
         FOR UPDATE OF u",
    )
    .bind(email)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.and_then(|r| {
        Some(Account {
            user: UserSummary {
                id: r.id,
                email: r.email,
                first_name: r.first_name,
                last_name: r.last_name,
                role: r.role.parse::<Role>().ok()?,
            },
            password_hash: r.password_hash,
            usable: r.usable,
            locked_until: r.locked_until,
            devices: r.devices,
            password_change_required: r.requires_password_change,
        })
    }))
}

impl Account {
    fn locked(&self) -> bool {
        self.locked_until.is_some_and(|t| t > Utc::now())
    }
}

async fn refuse(
    conn: &mut PgConnection,
    client: &Client,
    user: Option<Uuid>,
    reason: &str,
) -> Result<(), DbError> {
    let event =
        Event::new(Action::LoginFailed, Outcome::Failed, user).details(json!({"reason": reason}));
    audit::write(conn, client, &event).await
}

/// Counts a failed password or code; the attempt that reaches the limit locks the account.
async fn count_failure(
    conn: &mut PgConnection,
    policy: &Policy,
    client: &Client,
    account: &Account,
    reason: &str,
) -> Result<(), DbError> {
    refuse(conn, client, Some(account.user.id), reason).await?;
    count_failed_attempt(conn, policy, client, account.user.id, None, "sign-in").await?;
    Ok(())
}

/// Counts one wrong password or code against `user` — at sign-in, or when a signed-in user is asked
/// for their password again (`session`) — and locks the account (ACCOUNT_LOCKED) on the attempt that
/// reaches the policy's limit, ending that session too. True when this attempt locked it. The caller
/// holds the transaction.
pub(crate) async fn count_failed_attempt(
    conn: &mut PgConnection,
    policy: &Policy,
    client: &Client,
    user: Uuid,
    session: Option<Uuid>,
    during: &'static str,
) -> Result<bool, DbError> {
    let attempts: i32 = sqlx::query_scalar(
        "UPDATE users SET failed_login_attempts = failed_login_attempts + 1 WHERE id = $1 \
         RETURNING failed_login_attempts",
    )
    .bind(user)
    .fetch_one(&mut *conn)
    .await?;
    if u32::try_from(attempts).unwrap_or(u32::MAX) < policy.lockout_attempts {
        return Ok(false);
    }
    let lockout =
        chrono::Duration::from_std(policy.lockout).unwrap_or(chrono::Duration::minutes(30));
    sqlx::query(
        "UPDATE users SET failed_login_attempts = 0, locked_until = now() + $2 WHERE id = $1",
    )
    .bind(user)
    .bind(lockout)
    .execute(&mut *conn)
    .await?;
    let mut event =
        Event::new(Action::AccountLocked, Outcome::Success, Some(user)).details(json!({
            "failed_attempts": attempts,
            "minutes": policy.lockout.as_secs() / 60,
            "during": during,
        }));
    if let Some(session) = session {
        event = event.session(session);
    }
    audit::write(conn, client, &event).await?;
    if let Some(session) = session {
        sqlx::query(
            "UPDATE sessions SET is_active = false, revoked_at = now(), revoked_reason = $2 WHERE id = $1",
        )
        .bind(session)
        .bind(format!("account locked: wrong passwords for {during}"))
        .execute(&mut *conn)
        .await?;
    }
    Ok(true)
}

/// A successful login: attempts cleared, the session started, LOGIN written.
async fn finish(
    conn: &mut PgConnection,
    policy: &Policy,
    client: &Client,
    account: &Account,
    second_factor: &str,
) -> Result<Session, ServiceError> {
    let user = &account.user;
    sqlx::query("UPDATE users SET failed_login_attempts = 0, locked_until = NULL, last_login_at = now() WHERE id = $1")
        .bind(user.id)
        .execute(&mut *conn)
        .await
        .map_err(DbError::from)?;
    let session =
        sessions::create(conn, policy, client, user, account.password_change_required).await?;
    let event = Event::new(Action::Login, Outcome::Success, Some(user.id))
        .session(session.id)
        .details(json!({"second_factor": second_factor}));
    audit::write(conn, client, &event).await?;
    Ok(session)
}

/// Checks an email and password. The lockout is checked first; the password is checked (or a dummy
/// hash, for unknown and unusable accounts) either way, so the answer takes the same time.
pub async fn login(
    svc: &Services,
    client: &Client,
    email: &str,
    password: &str,
) -> Result<LoginStep, AuthError> {
    let email = email.trim();
    let mut tx = svc.db.begin_sign_in(email).await?;
    if email.is_empty() || email.len() > MAX_INPUT || password.len() > MAX_INPUT {
        passwords::verify_dummy_off_thread("").await;
        refuse(tx.conn(), client, None, "malformed input").await?;
        tx.commit().await?;
        return Err(AuthError::Refused);
    }
    let Some(account) = load_account(tx.conn(), Some(email), None).await? else {
        passwords::verify_dummy_off_thread(password).await;
        refuse(tx.conn(), client, None, "unknown account").await?;
        tx.commit().await?;
        return Err(AuthError::Refused);
    };
    if account.locked() || !account.usable {
        passwords::verify_dummy_off_thread(password).await;
        let reason = if account.locked() {
            "locked"
        } else {
            "inactive"
        };
        refuse(tx.conn(), client, Some(account.user.id), reason).await?;
        tx.commit().await?;
        return Err(AuthError::Refused);
    }
    if !passwords::verify_off_thread(password, account.password_hash.clone()).await {
        count_failure(tx.conn(), &svc.policy, client, &account, "wrong password").await?;
        tx.commit().await?;
        return Err(AuthError::Refused);
    }
    // The password is right: from here the transaction acts as the account (its sessions, its audit).
    sqlx::query("SELECT hsc_set_actor($1)")
        .bind(account.user.id)
        .execute(tx.conn())
        .await
        .map_err(DbError::from)?;
    if passwords::needs_rehash(&account.password_hash) {
        let fresh = passwords::hash_off_thread(password)
            .await
            .map_err(ServiceError::Hash)?;
        sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(account.user.id)
            .bind(fresh)
            .execute(tx.conn())
            .await
            .map_err(DbError::from)?;
    }
    let pending = PendingLogin {
        user: account.user.clone(),
        verified_at: Instant::now(),
    };
    let step = if account.devices > 0 {
        LoginStep::NeedsCode(pending)
    } else if svc.policy.requires_mfa(account.user.role) {
        LoginStep::NeedsEnrollment(pending)
    } else {
        LoginStep::LoggedIn(finish(tx.conn(), &svc.policy, client, &account, "none").await?)
    };
    tx.commit().await?;
    Ok(step)
}

/// Re-reads the pending user and refuses if they were locked or deactivated meanwhile.
async fn reload(
    conn: &mut PgConnection,
    client: &Client,
    pending: &PendingLogin,
) -> Result<Account, AuthError> {
    let account = load_account(conn, None, Some(pending.user.id)).await?;
    match account {
        Some(a) if a.usable && !a.locked() => Ok(a),
        other => {
            refuse(conn, client, other.map(|a| a.user.id), "locked or inactive").await?;
            Err(AuthError::Refused)
        }
    }
}

/// Opens the transaction of a second-factor step: the password must be fresh and the account still
/// usable (an admin may have locked or deactivated it meanwhile; that refusal is audited and kept).
async fn second_factor_step(
    svc: &Services,
    client: &Client,
    pending: &PendingLogin,
) -> Result<(crate::db::ActingTx, Account), AuthError> {
    pending.check_fresh()?;
    let mut tx = svc.db.begin(Actor::User(pending.user.id)).await?;
    match reload(tx.conn(), client, pending).await {
        Ok(account) => Ok((tx, account)),
        Err(e) => {
            tx.commit().await?;
            Err(e)
        }
    }
}

/// Checks the second factor (a TOTP code or a backup code) and starts the session.
pub async fn submit_code(
    svc: &Services,
    client: &Client,
    pending: &PendingLogin,
    code: &str,
) -> Result<Session, AuthError> {
    let (mut tx, account) = second_factor_step(svc, client, pending).await?;
    let check = mfa::check_factor(tx.conn(), &svc.keyring, &account.user, code).await?;
    let used = match check {
        FactorCheck::Totp => "totp",
        FactorCheck::Backup => "backup code",
        FactorCheck::Replayed | FactorCheck::Wrong => {
            let reason = if check == FactorCheck::Replayed {
                "replayed code"
            } else {
                "wrong code"
            };
            count_failure(tx.conn(), &svc.policy, client, &account, reason).await?;
            tx.commit().await?;
            return Err(AuthError::WrongCode);
        }
    };
    if check == FactorCheck::Backup {
        let left: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM mfa_backup_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(account.user.id)
        .fetch_one(tx.conn())
        .await
        .map_err(DbError::from)?;
        let event = Event::new(
            Action::BackupCodeUsed,
            Outcome::Success,
            Some(account.user.id),
        )
        .details(json!({"backup_codes_left": left}));
        audit::write(tx.conn(), client, &event).await?;
    }
    let session = finish(tx.conn(), &svc.policy, client, &account, used).await?;
    tx.commit().await?;
    Ok(session)
}

/// Completes a required first enrollment during login: the code proves the app has the secret;
/// the device, its backup codes and the session are stored together.
pub async fn complete_enrollment(
    svc: &Services,
    client: &Client,
    pending: &PendingLogin,
    enrollment: &Enrollment,
    code: &str,
) -> Result<(Session, BackupCodes), AuthError> {
    let (mut tx, account) = second_factor_step(svc, client, pending).await?;
    let stored = mfa::store_enrollment(
        tx.conn(),
        &svc.keyring,
        client,
        &account.user,
        None,
        enrollment,
        code,
    )
    .await?;
    let codes = match stored {
        Some(Some(codes)) => codes,
        // The code was right but another console enrolled first: keep nothing of this attempt.
        Some(None) => {
            drop(tx);
            return Err(AuthError::AlreadyEnrolled);
        }
        None => {
            count_failure(
                tx.conn(),
                &svc.policy,
                client,
                &account,
                "wrong enrollment code",
            )
            .await?;
            tx.commit().await?;
            return Err(AuthError::WrongCode);
        }
    };
    let session = finish(tx.conn(), &svc.policy, client, &account, "totp (enrolled)").await?;
    tx.commit().await?;
    Ok((session, codes))
}

/// Changes the signed-in user's own password: the forced change after an admin's reset, or by
/// choice. The current password is checked first; a wrong one counts toward the lockout as at
/// sign-in (the attempt that locks the account ends this session). On success the new hash is
/// stored, a required change is cleared, and the user's other sessions end. PASSWORD_CHANGE.
pub async fn change_password(
    svc: &Services,
    client: &Client,
    session: &Session,
    current: &str,
    new: &str,
) -> Result<(), ServiceError> {
    let mut tx = sessions::begin_live(svc, session).await?;
    let me = session.user.id;
    let (hash, forced): (String, bool) = sqlx::query_as(
        "SELECT coalesce(hsc_password_hash(), ''), requires_password_change FROM users WHERE id = $1 FOR UPDATE",
    )
    .bind(me)
    .fetch_one(tx.conn())
    .await
    .map_err(DbError::from)?;
    let right = current.len() <= MAX_INPUT && passwords::verify_off_thread(current, hash).await;
    if !right {
        let event = Event::new(Action::PasswordChange, Outcome::Failed, Some(me))
            .session(session.id)
            .details(json!({"reason": "wrong current password"}));
        audit::write(tx.conn(), client, &event).await?;
        let locked = count_failed_attempt(
            tx.conn(),
            &svc.policy,
            client,
            me,
            Some(session.id),
            "a password change",
        )
        .await?;
        tx.commit().await?;
        if locked {
            return Err(ServiceError::SessionEnded);
        }
        return Err(ServiceError::Invalid(
            "The current password is not right.".into(),
        ));
    }
    if let Err(weak) = passwords::check_new(new) {
        return Err(ServiceError::Invalid(sentence(&weak.to_string())));
    }
    if new == current {
        return Err(ServiceError::Invalid(
            "The new password must differ from the current one.".into(),
        ));
    }
    let fresh = passwords::hash_off_thread(new).await?;
    sqlx::query(
        "UPDATE users SET password_hash = $2, last_password_change_at = now(), requires_password_change = false \
         WHERE id = $1",
    )
    .bind(me)
    .bind(&fresh)
    .execute(tx.conn())
    .await
    .map_err(DbError::from)?;
    // Whoever knew the old password (or held a session with it) is signed out elsewhere.
    let which = sessions::Revoke::AllOf {
        user: me,
        except: Some(session.id),
    };
    let ended = sessions::revoke(tx.conn(), client, session, which, "password changed").await?;
    let event = Event::new(Action::PasswordChange, Outcome::Success, Some(me))
        .session(session.id)
        .resource("user", me)
        .details(json!({"by": "self", "required": forced, "sessions_ended": ended.len()}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// A lower-case rule ("the password must …") as a sentence.
fn sentence(rule: &str) -> String {
    let mut chars = rule.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}
