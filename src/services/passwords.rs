//! Password hashing: argon2id with OWASP's parameters (m = 19 456 KiB, t = 2, p = 1).

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// The parameters every new hash gets.
pub fn hasher() -> Argon2<'static> {
    // These constants are within argon2's limits, so `Params::new` cannot fail; fall back to the
    // crate's defaults (also argon2id) rather than panic if that ever changed.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
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

/// True when `password` matches `phc`, whatever argon2 parameters `phc` was made with.
pub fn verify(password: &str, phc: &str) -> bool {
    hasher().verify_password(password.as_bytes(), phc).is_ok()
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
    }
}
