//! TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step) and single-use backup codes.
//! Secrets are keyring ciphertext; a time step is accepted at most once per device.

use rand::TryRng;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use totp_rs::{Algorithm, Builder, Totp};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::audit::{self, Action, Client, Event, Outcome};

use super::ServiceError;
use super::users::UserSummary;
use crate::crypto::{Aad, Keyring};
use crate::db::DbError;

/// The issuer authenticator apps show.
pub const ISSUER: &str = "Healthy Stellar";
mod devices;
pub use devices::{Device, WRONG_CODE, add_device, devices, remove, rename};

/// Backup codes made at enrollment.
pub const BACKUP_CODES: usize = 10;

const SECRET_BYTES: usize = 20; // 160 bits, as RFC 4226 recommends

fn random(bytes: &mut [u8]) -> Result<(), ServiceError> {
    rand::rngs::SysRng
        .try_fill_bytes(bytes)
        .map_err(|_| ServiceError::Invalid("the system's random number generator failed".into()))
}

fn totp(secret: &[u8], account: &str) -> Result<Totp, ServiceError> {
    // The otpauth label is `issuer:account`; a colon in the account would split it.
    let account: String = account
        .chars()
        .filter(|c| *c != ':' && !c.is_control())
        .collect();
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret.to_vec())
        .with_account_name(account)
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|_| ServiceError::Invalid("the authenticator secret is not usable".into()))
}

fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// A device being enrolled: it exists only in memory until a correct code proves the app has it.
pub struct Enrollment {
    secret: Zeroizing<Vec<u8>>,
    pub account: String,
    pub device_name: String,
}

impl std::fmt::Debug for Enrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrollment")
            .field("device_name", &self.device_name)
            .finish_non_exhaustive()
    }
}

impl Enrollment {
    /// A fresh 160-bit secret for `account` (the user's email).
    pub fn new(account: &str, device_name: &str) -> Result<Enrollment, ServiceError> {
        let mut secret = Zeroizing::new(vec![0u8; SECRET_BYTES]);
        random(&mut secret)?;
        Ok(Enrollment {
            secret,
            account: account.to_string(),
            device_name: device_name.to_string(),
        })
    }

    /// An enrollment with a known secret, so screen snapshots stay the same from run to run.
    #[cfg(test)]
    pub(crate) fn from_secret(secret: &[u8], account: &str, device_name: &str) -> Enrollment {
        Enrollment {
            secret: Zeroizing::new(secret.to_vec()),
            account: account.to_string(),
            device_name: device_name.to_string(),
        }
    }

    /// The secret in base32, grouped by four for typing into an app by hand.
    pub fn secret_text(&self) -> Zeroizing<String> {
        let plain = base32(&self.secret);
        Zeroizing::new(
            plain
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    /// The `otpauth://totp/...` URI the QR code carries.
    pub fn uri(&self) -> Result<Zeroizing<String>, ServiceError> {
        totp(&self.secret, &self.account)?
            .to_url()
            .map(Zeroizing::new)
            .map_err(|_| ServiceError::Invalid("the authenticator link could not be made".into()))
    }

    /// The code an app shows at `unix_time` (for tests and the end-to-end harness).
    pub fn code_at(&self, unix_time: u64) -> Result<String, ServiceError> {
        Ok(totp(&self.secret, &self.account)?
            .generate(unix_time)
            .to_string())
    }

    fn check(&self, code: &str) -> Result<Option<u64>, ServiceError> {
        Ok(totp(&self.secret, &self.account)?.check(code, unix_now()))
    }
}

/// RFC 4648 base32 without padding (what authenticator apps expect).
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// What a person typed as a second factor, once spaces and dashes are gone.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Factor {
    Totp(String),
    Backup(String),
    Malformed,
}

fn classify(input: &str) -> Factor {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Factor::Totp(code)
    } else if code.len() == 16
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    {
        Factor::Backup(code)
    } else {
        Factor::Malformed
    }
}

fn backup_hash(code: &str) -> String {
    hex::encode(
        Sha256::new_with_prefix(b"hsc backup code v1\0")
            .chain_update(code.as_bytes())
            .finalize(),
    )
}

/// Ten fresh backup codes, shown once; only their hashes are stored.
pub struct BackupCodes(pub Vec<Zeroizing<String>>);

impl std::fmt::Debug for BackupCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackupCodes({} codes)", self.0.len())
    }
}

fn new_backup_codes() -> Result<BackupCodes, ServiceError> {
    let mut codes = Vec::with_capacity(BACKUP_CODES);
    for _ in 0..BACKUP_CODES {
        let mut raw = Zeroizing::new([0u8; 10]); // 80 bits
        random(raw.as_mut())?;
        let plain = Zeroizing::new(base32(raw.as_ref()));
        codes.push(Zeroizing::new(
            plain
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-"),
        ));
    }
    Ok(BackupCodes(codes))
}

fn secret_aad(device_id: Uuid) -> Aad<'static> {
    Aad {
        table: "mfa_devices",
        column: "secret_ciphertext",
        row_id: device_id,
        version: 1,
    }
}

/// How a second factor checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FactorCheck {
    Totp,
    Backup,
    Replayed,
    Wrong,
}

/// Checks `input` against the user's devices and unused backup codes, consuming what it uses.
pub(super) async fn check_factor(
    conn: &mut PgConnection,
    keyring: &Keyring,
    user: &UserSummary,
    input: &str,
) -> Result<FactorCheck, ServiceError> {
    match classify(input) {
        Factor::Malformed => Ok(FactorCheck::Wrong),
        Factor::Backup(code) => {
            let used: Option<Uuid> = sqlx::query_scalar(
                "UPDATE mfa_backup_codes SET used_at = now() \
                 WHERE id = (SELECT id FROM mfa_backup_codes WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL LIMIT 1) \
                 RETURNING id",
            )
            .bind(user.id)
            .bind(backup_hash(&code))
            .fetch_optional(&mut *conn)
            .await
            .map_err(DbError::from)?;
            Ok(if used.is_some() {
                FactorCheck::Backup
            } else {
                FactorCheck::Wrong
            })
        }
        Factor::Totp(code) => {
            let devices: Vec<(Uuid, Vec<u8>)> = sqlx::query_as(
                "SELECT id, secret_ciphertext FROM mfa_devices WHERE user_id = $1 AND is_active AND is_verified ORDER BY is_primary DESC",
            )
            .bind(user.id)
            .fetch_all(&mut *conn)
            .await
            .map_err(DbError::from)?;
            let now = unix_now();
            for (id, sealed) in devices {
                let secret = keyring.open(&secret_aad(id), &sealed)?;
                let Some(step) = totp(&secret, &user.email)?.check(&code, now) else {
                    continue;
                };
                let step = i64::try_from(step).unwrap_or(i64::MAX);
                let fresh = sqlx::query(
                    "UPDATE mfa_devices SET last_used_step = $2, last_used_at = now() \
                     WHERE id = $1 AND (last_used_step IS NULL OR last_used_step < $2)",
                )
                .bind(id)
                .bind(step)
                .execute(&mut *conn)
                .await
                .map_err(DbError::from)?
                .rows_affected();
                return Ok(if fresh == 1 {
                    FactorCheck::Totp
                } else {
                    FactorCheck::Replayed
                });
            }
            Ok(FactorCheck::Wrong)
        }
    }
}

/// Stores a proven enrollment as an active device; the first device also gets fresh backup codes
/// and turns MFA on (MFA_ENABLED). Returns None when `code` does not match.
pub(super) async fn store_enrollment(
    conn: &mut PgConnection,
    keyring: &Keyring,
    client: &Client,
    user: &UserSummary,
    session_id: Option<Uuid>,
    enrollment: &Enrollment,
    code: &str,
) -> Result<Option<Option<BackupCodes>>, ServiceError> {
    let Factor::Totp(code) = classify(code) else {
        return Ok(None);
    };
    let Some(step) = enrollment.check(&code)? else {
        return Ok(None);
    };
    let existing: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mfa_devices WHERE user_id = $1 AND is_active AND is_verified",
    )
    .bind(user.id)
    .fetch_one(&mut *conn)
    .await
    .map_err(DbError::from)?;
    let id = Uuid::new_v4();
    let sealed = keyring.seal(&secret_aad(id), &enrollment.secret)?;
    let name: String = enrollment
        .device_name
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    sqlx::query(
        "INSERT INTO mfa_devices (id, user_id, device_name, secret_ciphertext, is_verified, verified_at, is_active, \
         is_primary, last_used_at, last_used_step) VALUES ($1, $2, $3, $4, true, now(), true, $5, now(), $6)",
    )
    .bind(id)
    .bind(user.id)
    .bind(if name.trim().is_empty() { "Authenticator".to_string() } else { name })
    .bind(sealed)
    .bind(existing == 0)
    .bind(i64::try_from(step).unwrap_or(i64::MAX))
    .execute(&mut *conn)
    .await
    .map_err(DbError::from)?;
    let codes = if existing == 0 {
        let codes = new_backup_codes()?;
        sqlx::query("DELETE FROM mfa_backup_codes WHERE user_id = $1")
            .bind(user.id)
            .execute(&mut *conn)
            .await
            .map_err(DbError::from)?;
        for code in &codes.0 {
            sqlx::query("INSERT INTO mfa_backup_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user.id)
                .bind(backup_hash(&code.replace('-', "")))
                .execute(&mut *conn)
                .await
                .map_err(DbError::from)?;
        }
        sqlx::query("UPDATE users SET mfa_enabled = true WHERE id = $1")
            .bind(user.id)
            .execute(&mut *conn)
            .await
            .map_err(DbError::from)?;
        Some(codes)
    } else {
        None
    };
    let mut event = Event::new(Action::MfaEnabled, Outcome::Success, Some(user.id))
        .resource("mfa_device", id)
        .details(json!({"first_device": existing == 0}));
    if let Some(s) = session_id {
        event = event.session(s);
    }
    audit::write(conn, client, &event).await?;
    Ok(Some(codes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc_4648() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(&[0u8; 20]).len(), 32);
    }

    #[test]
    fn codes_are_classified_after_removing_spaces_and_dashes() {
        assert_eq!(classify(" 123 456 "), Factor::Totp("123456".into()));
        assert_eq!(
            classify("abcd-efgh-2345-6723"),
            Factor::Backup("ABCDEFGH23456723".into())
        );
        assert_eq!(classify("12345"), Factor::Malformed);
        assert_eq!(
            classify("ABCD-EFGH-0000-1111"),
            Factor::Malformed,
            "0 and 1 are not base32"
        );
        assert_eq!(classify(&"9".repeat(10_000)), Factor::Malformed);
    }

    #[test]
    fn enrollment_gives_a_scannable_uri_and_matching_codes() {
        let e = Enrollment::new("dr.smith@healthystellar.com", "Phone").unwrap();
        let uri = e.uri().unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Healthy%20Stellar:dr.smith%40healthystellar.com?"),
            "{}",
            *uri
        );
        assert!(uri.contains("issuer=Healthy%20Stellar"), "{}", *uri);
        let text = e.secret_text();
        assert_eq!(text.replace(' ', "").len(), 32, "160 bits in base32");
        let now = unix_now();
        let code = e.code_at(now).unwrap();
        assert_eq!(code.len(), 6);
        assert!(e.check(&code).unwrap().is_some());
        assert!(
            e.check(&e.code_at(now - 30).unwrap()).unwrap().is_some(),
            "one step of skew"
        );
        assert!(e.check(&e.code_at(now - 120).unwrap()).unwrap().is_none());
        let codes = new_backup_codes().unwrap();
        assert_eq!(codes.0.len(), 10);
        assert!(
            codes
                .0
                .iter()
                .all(|c| matches!(classify(c), Factor::Backup(_)))
        );
    }
}
