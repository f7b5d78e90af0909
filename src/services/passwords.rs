//! Passwords: argon2id with OWASP's parameters (m = 19 456 KiB, t = 2, p = 1), and the rules a new
//! password must meet.

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

/// Shortest and longest password accepted for new passwords.
pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 128;

/// The parameters every new hash gets.
pub fn hasher() -> Argon2<'static> {
    // These constants are within argon2's limits, so `Params::new` cannot fail; fall back to the
    // crate's defaults (also argon2id) rather than panic if that ever changed.
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashing failed (the system's random generator, or an impossible parameter).
#[derive(Debug, thiserror::Error)]
#[error("the password could not be hashed")]
pub struct HashError;

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) for `password`, with a fresh random salt.
pub fn hash(password: &str) -> Result<String, HashError> {
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| HashError)
}

/// True when `password` matches `phc`, whatever argon2 parameters `phc` was made with (hashes
/// imported from the old Node system included).
pub fn verify(password: &str, phc: &str) -> bool {
    hasher().verify_password(password.as_bytes(), phc).is_ok()
}

/// `verify` on a blocking thread, so an async worker never stalls on argon2's memory-hard work.
pub async fn verify_off_thread(password: &str, phc: String) -> bool {
    let password = zeroize::Zeroizing::new(password.to_string());
    tokio::task::spawn_blocking(move || verify(&password, &phc))
        .await
        .unwrap_or(false)
}

/// `verify_dummy` on a blocking thread.
pub async fn verify_dummy_off_thread(password: &str) {
    let password = zeroize::Zeroizing::new(password.to_string());
    let _ = tokio::task::spawn_blocking(move || verify_dummy(&password)).await;
}

/// True when `phc` was made with other parameters than today's, so a successful login re-hashes it.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    let params = Params::try_from(&parsed).ok();
    parsed.algorithm.as_str() != "argon2id"
        || parsed.version != Some(0x13)
        || params
            .is_none_or(|p| (p.m_cost(), p.t_cost(), p.p_cost()) != (MEMORY_KIB, ITERATIONS, LANES))
}

/// Spends the same work as checking a real password, so an unknown email answers in the same time.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("hsc dummy password for timing").unwrap_or_default());
    let _ = verify(password, dummy);
}

/// Why a new password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("the password must be at least {MIN_LENGTH} characters long")]
    TooShort,
    #[error("the password must be at most {MAX_LENGTH} characters long")]
    TooLong,
    #[error("the password is on the list of commonly used passwords; choose another")]
    Common,
    #[error("the password may not contain control characters")]
    ControlCharacters,
}

/// The common-password list shipped in `assets/`, one per line, compared case-insensitively.
const COMMON: &str = include_str!("../../assets/common-passwords.txt");

/// Checks the rules for a new password (not for the seed's own, which `hsc seed` sets directly).
pub fn check_new(password: &str) -> Result<(), WeakPassword> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(WeakPassword::TooShort);
    }
    if length > MAX_LENGTH {
        return Err(WeakPassword::TooLong);
    }
    if password.chars().any(char::is_control) {
        return Err(WeakPassword::ControlCharacters);
    }
    let lower = password.to_lowercase();
    let listed = COMMON
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|l| l.eq_ignore_ascii_case(&lower));
    let one_character = lower.chars().all(|c| lower.starts_with(c));
    if listed || one_character {
        return Err(WeakPassword::Common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_owasp_argon2id_and_verify() {
        let phc = hash("Test123!@#").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("Test123!@#", &phc));
        assert!(!verify("Test123!@$", &phc));
        assert_ne!(phc, hash("Test123!@#").unwrap(), "salted");
        assert!(!verify("x", "not a hash"));
        assert!(!needs_rehash(&phc));
    }

    #[test]
    fn hashes_with_other_parameters_verify_and_want_a_rehash() {
        let old = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(65_536, 3, 4, None).unwrap(),
        )
        .hash_password(b"legacy password")
        .unwrap()
        .to_string();
        assert!(verify("legacy password", &old));
        assert!(needs_rehash(&old));
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(4096, 3, 1, None).unwrap(),
        )
        .hash_password(b"legacy password")
        .unwrap()
        .to_string();
        assert!(verify("legacy password", &argon2i));
        assert!(needs_rehash(&argon2i));
    }

    #[test]
    fn new_passwords_follow_the_rules() {
        assert_eq!(check_new("short"), Err(WeakPassword::TooShort));
        assert_eq!(check_new(&"x".repeat(129)), Err(WeakPassword::TooLong));
        assert_eq!(check_new("Password1234"), Err(WeakPassword::Common));
        assert_eq!(check_new("aaaaaaaaaaaaaaa"), Err(WeakPassword::Common));
        assert_eq!(
            check_new("line\nbreak-in-pw"),
            Err(WeakPassword::ControlCharacters)
        );
        assert_eq!(
            check_new("Test123!@#"),
            Err(WeakPassword::TooShort),
            "the seed password is not exempt here"
        );
        assert_eq!(check_new("plum tiger 42 on a kite"), Ok(()));
        assert_eq!(check_new("ünïcödé pässwörd"), Ok(()));
    }
}
