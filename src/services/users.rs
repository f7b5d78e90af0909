//! Users: roles, the summary the console carries, and the administrative paths of the command line.

use std::fmt;
use std::str::FromStr;

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::audit::{self, Action, Client, Event, Outcome};
use super::passwords::{self, WeakPassword};
use super::{ServiceError, Services};
use crate::db::{DbError, Maintenance};

/// A user's role (SPEC "Who may do what").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Physician,
    Nurse,
    Patient,
    BillingStaff,
    MedicalRecords,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Physician,
        Role::Nurse,
        Role::Patient,
        Role::BillingStaff,
        Role::MedicalRecords,
    ];

    /// The database enum's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Physician => "physician",
            Role::Nurse => "nurse",
            Role::Patient => "patient",
            Role::BillingStaff => "billing_staff",
            Role::MedicalRecords => "medical_records",
        }
    }

    /// How the console names the role.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::Physician => "Physician",
            Role::Nurse => "Nurse",
            Role::Patient => "Patient",
            Role::BillingStaff => "Billing",
            Role::MedicalRecords => "Medical records",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of the six.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a role; use one of admin, physician, nurse, patient, billing_staff, medical_records"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// Who is logged in, as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
}

impl UserSummary {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// What `hsc user create` asks for.
pub struct NewUser {
    pub email: String,
    pub role: Role,
    pub first_name: String,
    pub last_name: String,
    pub password: zeroize::Zeroizing<String>,
}

/// Checks an email address's shape (the server checks uniqueness).
pub fn check_email(email: &str) -> Result<(), ServiceError> {
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(())
    } else {
        Err(ServiceError::Invalid(
            format!("{email:?} is not an email address like name@clinic.example")
                .replace(['\x1b', '\r', '\n'], ""),
        ))
    }
}

pub(crate) fn check_name(which: &str, name: &str) -> Result<(), ServiceError> {
    let length = name.trim().chars().count();
    if length == 0 || length > 100 || name.chars().any(char::is_control) {
        return Err(ServiceError::Invalid(format!(
            "the {which} name must be 1 to 100 characters with no control characters"
        )));
    }
    Ok(())
}

/// A new users row, as the command line or an admin's console writes it.
pub(crate) struct Account<'a> {
    /// Trimmed and checked with [`check_email`].
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
    /// Set when someone other than the user chose the password.
    pub requires_password_change: bool,
}

/// Inserts the account; a taken email (in any case) is one sentence. Returns the new id.
pub(crate) async fn insert(
    conn: &mut PgConnection,
    account: &Account<'_>,
) -> Result<Uuid, ServiceError> {
    let id = Uuid::new_v4();
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, password_hash, first_name, last_name, role, requires_password_change, \
                            last_password_change_at) \
         VALUES ($1, $2, $3, $4, $5, $6::user_role, $7, now())",
    )
    .bind(id)
    .bind(account.email)
    .bind(account.password_hash)
    .bind(account.first_name)
    .bind(account.last_name)
    .bind(account.role.as_str())
    .bind(account.requires_password_change)
    .execute(conn)
    .await;
    match inserted {
        Ok(_) => Ok(id),
        Err(e) if DbError::sqlstate(&e).as_deref() == Some("23505") => Err(ServiceError::Invalid(
            format!("a user with email {} already exists", account.email)
                .replace(['\x1b', '\r', '\n'], ""),
        )),
        Err(e) => Err(DbError::from(e).into()),
    }
}

/// Clears `user`'s failed attempts and lockout.
pub(crate) async fn clear_lockout(conn: &mut PgConnection, user: Uuid) -> Result<(), ServiceError> {
    sqlx::query("UPDATE users SET failed_login_attempts = 0, locked_until = NULL WHERE id = $1")
        .bind(user)
        .execute(conn)
        .await
        .map_err(DbError::from)?;
    Ok(())
}

/// Creates a user from the command line (USER_CREATED).
pub async fn create(svc: &Services, client: &Client, new: &NewUser) -> Result<Uuid, ServiceError> {
    let email = new.email.trim().to_string();
    check_email(&email)?;
    check_name("first", &new.first_name)?;
    check_name("last", &new.last_name)?;
    passwords::check_new(&new.password)
        .map_err(|e: WeakPassword| ServiceError::Invalid(e.to_string()))?;
    let hash = passwords::hash_off_thread(&new.password).await?;
    let mut tx = svc
        .db
        .begin_maintenance(Maintenance::UserAdministration)
        .await?;
    let account = Account {
        email: &email,
        first_name: new.first_name.trim(),
        last_name: new.last_name.trim(),
        role: new.role,
        password_hash: &hash,
        requires_password_change: false,
    };
    let id = insert(tx.conn(), &account).await?;
    let event = Event::new(Action::UserCreated, Outcome::Success, None)
        .resource("user", id)
        .details(json!({"role": new.role.as_str(), "by": "command line"}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(id)
}

async fn find_by_email(
    tx: &mut crate::db::MaintenanceTx,
    email: &str,
) -> Result<Uuid, ServiceError> {
    sqlx::query_scalar(
        "SELECT id FROM users WHERE lower(email) = lower($1) AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(email.trim())
    .fetch_optional(tx.conn())
    .await
    .map_err(DbError::from)?
    .ok_or_else(|| {
        ServiceError::Invalid(
            format!("no user has the email {}", email.trim()).replace(['\x1b', '\r', '\n'], ""),
        )
    })
}

/// Clears a lockout (ACCOUNT_UNLOCKED).
pub async fn unlock(svc: &Services, client: &Client, email: &str) -> Result<(), ServiceError> {
    let mut tx = svc
        .db
        .begin_maintenance(Maintenance::UserAdministration)
        .await?;
    let id = find_by_email(&mut tx, email).await?;
    clear_lockout(tx.conn(), id).await?;
    let event = Event::new(Action::AccountUnlocked, Outcome::Success, None)
        .resource("user", id)
        .details(json!({"by": "command line"}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes every MFA device and backup code, so the next login enrolls anew (MFA_DISABLED).
pub async fn reset_mfa(svc: &Services, client: &Client, email: &str) -> Result<u64, ServiceError> {
    let mut tx = svc
        .db
        .begin_maintenance(Maintenance::UserAdministration)
        .await?;
    let id = find_by_email(&mut tx, email).await?;
    // The same removal an admin's console reaches through hsc_reset_mfa (migration 0015).
    let removed: i32 = sqlx::query_scalar("SELECT hsc_remove_mfa($1)")
        .bind(id)
        .fetch_one(tx.conn())
        .await
        .map_err(DbError::from)?;
    let removed = u64::try_from(removed).unwrap_or(0);
    let event = Event::new(Action::MfaDisabled, Outcome::Success, Some(id))
        .resource("user", id)
        .details(json!({"by": "command line", "devices_removed": removed}));
    audit::write(tx.conn(), client, &event).await?;
    tx.commit().await?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_refuse_unknown_names() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert_eq!("Billing_Staff".parse::<Role>(), Ok(Role::BillingStaff));
        assert!(
            "doctor"
                .parse::<Role>()
                .unwrap_err()
                .to_string()
                .contains("not a role")
        );
    }

    #[test]
    fn emails_are_checked_for_shape() {
        assert!(check_email("dr.who@clinic.example").is_ok());
        for bad in [
            "",
            "no-at",
            "@clinic.example",
            "a@b",
            "a b@c.de",
            "a@.example",
            "x@y.z\x1b[2J",
        ] {
            let e = check_email(bad).unwrap_err().to_string();
            assert!(!e.contains('\x1b'), "{e:?}");
        }
    }
}
