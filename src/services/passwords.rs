//! Passwords: argon2id with OWASP's parameters (m = 19 456 KiB, t = 2, p = 1), and the rules a new
//! password must meet.

use std::sync::{Mutex, OnceLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use zeroize::{Zeroize, Zeroizing};

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
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    match ours(&parsed) {
        Some((salt, expected)) => with_memory(|blocks| {
            let mut out = Zeroizing::new(vec![0u8; expected.len()]);
            hasher()
                .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
                .is_ok()
                && bool::from(out.as_slice().ct_eq(expected))
        }),
        // Other parameters (imported hashes, re-hashed at the next sign-in): argon2's own way.
        None => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
    }
}

/// The salt and hash of a PHC string made with today's parameters and nothing else.
fn ours(parsed: &PasswordHash) -> Option<(&[u8], &[u8])> {
    let params = Params::try_from(parsed).ok()?;
    let same = parsed.algorithm.as_str() == "argon2id"
        && parsed.version == Some(0x13)
        && (params.m_cost(), params.t_cost(), params.p_cost()) == (MEMORY_KIB, ITERATIONS, LANES)
        && params.keyid().is_empty()
        && params.data().is_empty();
    match (same, &parsed.salt, &parsed.hash) {
        (true, Some(salt), Some(hash)) => Some((&salt[..], hash.as_bytes())),
        _ => None,
    }
}

/// Password checks at once. Each holds 19 MiB of argon2 memory: a burst of sign-ins (a hundred
/// SSH consoles at nine o'clock) would otherwise hold a hundred of them at the same moment, and
/// the allocator keeps such memory long after. More checks than cores gain nothing; the rest wait.
const AT_ONCE: usize = 2;
static TURNS: Semaphore = Semaphore::const_new(AT_ONCE);

/// The argon2 memory of the checks, kept and reused rather than allocated per check.
static MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

fn with_memory<T>(check: impl FnOnce(&mut [Block]) -> T) -> T {
    let kept = MEMORY.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let mut blocks = kept.unwrap_or_else(|| vec![Block::new(); hasher().params().block_count()]);
    let result = check(&mut blocks);
    // What argon2 left there is derived from the password.
    blocks.iter_mut().for_each(Zeroize::zeroize);
    let mut pool = MEMORY.lock().unwrap_or_else(|e| e.into_inner());
    if pool.len() < AT_ONCE {
        pool.push(blocks);
    }
    result
}

/// `verify` on a blocking thread, so an async worker never stalls on argon2's memory-hard work,
/// and at most `AT_ONCE` at a time.
pub async fn verify_off_thread(password: &str, phc: String) -> bool {
    let password = Zeroizing::new(password.to_string());
    let _turn = TURNS.acquire().await.ok();
    tokio::task::spawn_blocking(move || verify(&password, &phc))
        .await
        .unwrap_or(false)
}

/// `hash` on a blocking thread, in turn like `verify_off_thread` (a hash needs the same memory).
pub async fn hash_off_thread(password: &str) -> Result<String, HashError> {
    let password = Zeroizing::new(password.to_string());
    let _turn = TURNS.acquire().await.ok();
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|_| HashError)?
}

/// `verify_dummy` on a blocking thread, in turn like `verify_off_thread`.
pub async fn verify_dummy_off_thread(password: &str) {
    let password = Zeroizing::new(password.to_string());
    let _turn = TURNS.acquire().await.ok();
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
    fn checks_reuse_at_most_two_memories_and_agree_with_argon2() {
        let phc = hash("Test123!@#").unwrap();
        let threads: Vec<_> = (0..6)
            .map(|n| {
                let phc = phc.clone();
                std::thread::spawn(move || {
                    let right = verify("Test123!@#", &phc);
                    let wrong = verify(&format!("Test123!@#{n}"), &phc);
                    let by_argon2 = hasher()
                        .verify_password(b"Test123!@#", phc.as_str())
                        .is_ok();
                    (right, wrong, by_argon2)
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), (true, false, true));
        }
        let kept = MEMORY.lock().unwrap();
        assert!(kept.len() <= AT_ONCE, "{} memories kept", kept.len());
        assert!(
            kept.iter()
                .flatten()
                .all(|b| b.as_ref().iter().all(|w| *w == 0)),
            "what the password left in memory is wiped"
        );
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
