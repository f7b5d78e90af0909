//! Administration (tab 4), for admins only: users (create, deactivate and reactivate, change role,
//! reset password, unlock, reset MFA) and live sessions (list, end one or all of a user's).
//!
//! Every call acts as the admin through row-level security (migration 0015 lets an acting admin do
//! exactly this, and its guard trigger holds the rules: nobody changes their own role or activation,
//! the last active admin stays, a password an admin sets must be changed). The acting role is read
//! from the database, not from the session, so an admin demoted meanwhile is refused and audited.

use chrono::{DateTime, Utc};
use rand::TryRng;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::audit::Client;
use super::sessions::{self, Session};
use super::users::Role;
use super::{ServiceError, passwords, refuse};
use crate::db::{ActingTx, DbError};

mod accounts;
mod live;

pub use accounts::{
    change_role, create_user, reset_mfa, reset_password, set_active, unlock, users,
};
pub use live::{end_session, end_sessions_of, sessions};

pub const PAGE_SIZE: usize = 50;
/// Keyset cursor of both lists: (created_at, id) of the last row, lists ordered newest first.
pub type Cursor = (DateTime<Utc>, Uuid);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    /// Active and not locked.
    Active,
    /// Deactivated.
    Inactive,
    /// Locked out after failed attempts (until `locked_until`).
    Locked,
}

impl AccountState {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::Active => "active",
            AccountState::Inactive => "inactive",
            AccountState::Locked => "locked",
        }
    }
}

/// `/` filter of the user list: plain words match name or email (case-insensitive substring, all
/// words); `role:physician`, `state:active|inactive|locked`. An unknown word → one sentence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserFilter {
    pub words: Vec<String>,
    pub role: Option<Role>,
    pub state: Option<AccountState>,
}

impl UserFilter {
    pub fn parse(text: &str) -> Result<UserFilter, ServiceError> {
        let mut filter = UserFilter::default();
        for word in text.split_whitespace() {
            let lower = word.to_lowercase();
            match lower.split_once(':') {
                Some(("role", name)) => {
                    let role = parse_role(name).ok_or_else(|| {
                        invalid(format!(
                            "{:?} is not a role; use role:admin, role:physician, role:nurse, role:patient, \
                             role:billing_staff or role:medical_records.",
                            clean(word)
                        ))
                    })?;
                    if filter.role.is_some_and(|r| r != role) {
                        return Err(invalid("The filter names two roles; keep one.".into()));
                    }
                    filter.role = Some(role);
                }
                Some(("state", name)) => {
                    let state = match name {
                        "active" => AccountState::Active,
                        "inactive" => AccountState::Inactive,
                        "locked" => AccountState::Locked,
                        _ => {
                            return Err(invalid(format!(
                                "{:?} is not a state; use state:active, state:inactive or state:locked.",
                                clean(word)
                            )));
                        }
                    };
                    if filter.state.is_some_and(|s| s != state) {
                        return Err(invalid("The filter names two states; keep one.".into()));
                    }
                    filter.state = Some(state);
                }
                Some(_) => {
                    return Err(invalid(format!(
                        "{:?} is not a filter; use words of a name or email, role:ROLE or \
                         state:active|inactive|locked.",
                        clean(word)
                    )));
                }
                None => filter.words.push(lower),
            }
        }
        Ok(filter)
    }

    /// The filter as text [`UserFilter::parse`] reads back; empty when it matches everyone.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(role) = self.role {
            parts.push(format!("role:{}", role.as_str()));
        }
        if let Some(state) = self.state {
            parts.push(format!("state:{}", state.as_str()));
        }
        parts.extend(self.words.iter().map(|w| clean(w)));
        parts.join(" ")
    }
}

/// A role by its database name, or the short names `billing` and `records`.
fn parse_role(name: &str) -> Option<Role> {
    match name {
        "billing" => Some(Role::BillingStaff),
        "records" => Some(Role::MedicalRecords),
        _ => name.parse::<Role>().ok(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminUser {
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub is_active: bool,
    pub locked_until: Option<DateTime<Utc>>,
    pub mfa_enabled: bool,
    pub requires_password_change: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Active, unexpired sessions.
    pub active_sessions: i64,
}

impl AdminUser {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    pub fn locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }
}

/// `/` filter of the session list: `user:<email or id>` or plain words matching the user's
/// name, email or the session's source. (`user:` with an email matches that email's text, so it is
/// kept among the words.)
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionFilter {
    pub user: Option<Uuid>,
    pub words: Vec<String>,
}

impl SessionFilter {
    pub fn parse(text: &str) -> Result<SessionFilter, ServiceError> {
        let mut filter = SessionFilter::default();
        for word in text.split_whitespace() {
            let lower = word.to_lowercase();
            match lower.split_once(':') {
                Some(("user", who)) if !who.is_empty() => {
                    if let Ok(id) = Uuid::parse_str(who) {
                        if filter.user.is_some_and(|u| u != id) {
                            return Err(invalid("The filter names two users; keep one.".into()));
                        }
                        filter.user = Some(id);
                    } else if who.contains('@') {
                        filter.words.push(who.to_string());
                    } else {
                        return Err(invalid(format!(
                            "{:?} needs an email or a user id after the colon, such as user:name@clinic.example.",
                            clean(word)
                        )));
                    }
                }
                // An IPv6 source has colons of its own (`2001:db8::1`, `fe80::1`): only a key of
                // letters that cannot be hex digits is taken for a filter word it does not know.
                Some((key, _))
                    if !key.is_empty()
                        && key.chars().all(|c| c.is_ascii_alphabetic())
                        && !key.chars().all(|c| c.is_ascii_hexdigit()) =>
                {
                    return Err(invalid(format!(
                        "{:?} is not a filter; use user:EMAIL, user:ID or words of a name, email or source.",
                        clean(word)
                    )));
                }
                _ => filter.words.push(lower),
            }
        }
        Ok(filter)
    }

    /// The filter as text [`SessionFilter::parse`] reads back; empty when it matches every session.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(user) = self.user {
            parts.push(format!("user:{user}"));
        }
        parts.extend(self.words.iter().map(|w| clean(w)));
        parts.join(" ")
    }

    pub fn of_user(id: Uuid) -> SessionFilter {
        SessionFilter {
            user: Some(id),
            words: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    pub id: Uuid,
    pub user_id: Uuid,
    pub user_name: String,
    pub email: String,
    pub role: Role,
    /// `sessions.ip_address`: the SSH peer, e.g. "203.0.113.9", or "local".
    pub source: String,
    pub user_agent: String,
    pub started_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub struct NewAccount {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
}

/// A generated temporary password, shown once to the admin to hand over; the user must change it
/// at the next sign-in. Zeroed when dropped; `Debug` never shows it.
pub struct TemporaryPassword(pub Zeroizing<String>);

impl std::fmt::Debug for TemporaryPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TemporaryPassword(..)")
    }
}

/// Letters and digits that cannot be mistaken for one another when read out or copied by hand
/// (no 0/O/o, 1/I/l).
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

impl TemporaryPassword {
    /// Sixteen characters (about 93 bits) in four groups, `xxxx-xxxx-xxxx-xxxx`.
    fn generate() -> Result<TemporaryPassword, ServiceError> {
        // The largest multiple of the alphabet's size below 256: bytes above it are drawn again,
        // so every character is equally likely.
        let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
        for _ in 0..8 {
            let mut text = Zeroizing::new(String::with_capacity(19));
            let mut bytes = Zeroizing::new([0u8; 64]);
            let mut taken = 0;
            while taken < 16 {
                rand::rngs::SysRng
                    .try_fill_bytes(bytes.as_mut())
                    .map_err(|_| {
                        ServiceError::Invalid("the system's random number generator failed".into())
                    })?;
                for &b in bytes.iter().filter(|&&b| b < limit) {
                    if taken == 16 {
                        break;
                    }
                    if taken > 0 && taken % 4 == 0 {
                        text.push('-');
                    }
                    text.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
                    taken += 1;
                }
            }
            if passwords::check_new(&text).is_ok() {
                return Ok(TemporaryPassword(text));
            }
        }
        Err(ServiceError::Invalid(
            "a temporary password could not be made; try again".into(),
        ))
    }

    /// The password's argon2id hash, made off the async threads.
    async fn hash(&self) -> Result<String, ServiceError> {
        Ok(passwords::hash_off_thread(&self.0).await?)
    }
}

/// Opens the admin's transaction: the session live, and the acting role — as the database has it
/// now — admin. Anyone else is refused with UNAUTHORIZED_ACCESS_ATTEMPT (`attempt` names what).
async fn begin_admin(
    svc: &super::Services,
    client: &Client,
    session: &Session,
    attempt: &'static str,
    resource: Option<(&'static str, Uuid)>,
) -> Result<ActingTx, ServiceError> {
    let mut tx = sessions::begin_live(svc, session).await?;
    let role: String = sqlx::query_scalar("SELECT hsc_acting_role()")
        .fetch_one(tx.conn())
        .await
        .map_err(DbError::from)?;
    if role != Role::Admin.as_str() {
        let message = "Only an admin may manage users and sessions.";
        return Err(refuse(tx, client, session, attempt, resource, message).await);
    }
    Ok(tx)
}

fn invalid(sentence: String) -> ServiceError {
    ServiceError::Invalid(sentence)
}

/// Typed text as it may appear in a sentence or a heading: no control characters.
fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(e: Result<impl std::fmt::Debug, ServiceError>) -> String {
        e.unwrap_err().to_string()
    }

    #[test]
    fn the_user_filter_reads_words_roles_and_states() {
        assert_eq!(UserFilter::parse("  ").unwrap(), UserFilter::default());
        let f = UserFilter::parse("Smith role:Physician state:locked J").unwrap();
        assert_eq!(f.words, ["smith", "j"]);
        assert_eq!(f.role, Some(Role::Physician));
        assert_eq!(f.state, Some(AccountState::Locked));
        assert_eq!(f.describe(), "role:physician state:locked smith j");
        assert_eq!(UserFilter::parse(&f.describe()).unwrap(), f);
        assert_eq!(
            UserFilter::parse("role:billing").unwrap().role,
            Some(Role::BillingStaff)
        );
        assert_eq!(UserFilter::default().describe(), "");
    }

    #[test]
    fn a_user_filter_word_it_does_not_understand_is_named() {
        assert!(error(UserFilter::parse("role:doctor")).contains("\"role:doctor\" is not a role"));
        assert!(error(UserFilter::parse("state:asleep")).contains("is not a state"));
        assert!(error(UserFilter::parse("colour:red")).contains("\"colour:red\" is not a filter"));
        assert!(error(UserFilter::parse("role:nurse role:admin")).contains("two roles"));
        let e = error(UserFilter::parse("x:\u{1b}[2J"));
        assert!(!e.contains('\u{1b}'), "{e:?}");
    }

    #[test]
    fn the_session_filter_reads_users_words_and_sources() {
        let id = Uuid::new_v4();
        let f = SessionFilter::parse(&format!("user:{id} 203.0.113")).unwrap();
        assert_eq!(
            f,
            SessionFilter {
                user: Some(id),
                words: vec!["203.0.113".into()]
            }
        );
        assert_eq!(SessionFilter::parse(&f.describe()).unwrap(), f);
        assert_eq!(SessionFilter::of_user(id).describe(), format!("user:{id}"));
        let f = SessionFilter::parse("user:Dr.Who@Clinic.example 2001:db8::1").unwrap();
        assert_eq!(f.words, ["dr.who@clinic.example", "2001:db8::1"]);
        assert!(error(SessionFilter::parse("user:smith")).contains("needs an email or a user id"));
        assert!(error(SessionFilter::parse("since:today")).contains("is not a filter"));
    }

    #[test]
    fn temporary_passwords_are_strong_unambiguous_and_not_shown_by_debug() {
        let a = TemporaryPassword::generate().unwrap();
        let b = TemporaryPassword::generate().unwrap();
        assert_ne!(*a.0, *b.0);
        assert_eq!(a.0.len(), 19);
        assert!(passwords::check_new(&a.0).is_ok());
        let groups: Vec<&str> = a.0.split('-').collect();
        assert_eq!(groups.len(), 4);
        assert!(
            groups
                .iter()
                .all(|g| g.len() == 4 && g.bytes().all(|c| ALPHABET.contains(&c)))
        );
        assert_eq!(format!("{a:?}"), "TemporaryPassword(..)");
    }
}
