//! The keyring: AES-256-GCM for PHI at rest.
//!
//! A sealed value is `0x01 | key id (4) | nonce (12) | ciphertext+tag`. The associated data binds the
//! table, column, row id and version, so a ciphertext copied to another row, column or version fails
//! to open instead of showing the wrong patient's text.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::TryRng;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::config::{AppEnv, Config, SecretKey};

const FORMAT_V1: u8 = 0x01;
const HEADER: usize = 1 + 4 + 12;

/// A key's id: the first four bytes of a domain-separated SHA-256 of the key. It names the key in
/// errors and ciphertexts without revealing anything usable about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 4]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl KeyId {
    fn of(key: &[u8; 32]) -> KeyId {
        let digest = Sha256::new_with_prefix(b"hsc key id v1\0")
            .chain_update(key)
            .finalize();
        KeyId([digest[0], digest[1], digest[2], digest[3]])
    }
}

/// Why a value could not be sealed or opened. Never carries plaintext or key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error(
        "the data was encrypted with key {0}, which is neither ENCRYPTION_KEY nor one of ENCRYPTION_OLD_KEYS"
    )]
    UnknownKey(KeyId),
    #[error("the stored ciphertext is malformed (too short or of an unknown format)")]
    Malformed,
    #[error(
        "the stored ciphertext did not authenticate: it was altered, or it belongs to another row, column or version"
    )]
    Authentication,
    #[error("the system's random number generator failed")]
    Random,
}

/// What a ciphertext is bound to.
#[derive(Debug, Clone, Copy)]
pub struct Aad<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row_id: Uuid,
    pub version: i32,
}

impl Aad<'_> {
    fn encode(&self, key_id: KeyId) -> Vec<u8> {
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(b"hsc/v1\0");
        out.push(FORMAT_V1);
        out.extend_from_slice(&key_id.0);
        for part in [self.table, self.column] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out.extend_from_slice(self.row_id.as_bytes());
        out.extend_from_slice(&self.version.to_be_bytes());
        out
    }
}

struct Key {
    id: KeyId,
    bytes: Zeroizing<[u8; 32]>,
}

impl Key {
    fn new(bytes: &Zeroizing<[u8; 32]>) -> Key {
        Key {
            id: KeyId::of(bytes),
            bytes: bytes.clone(),
        }
    }

    fn cipher(&self) -> Aes256Gcm {
        // Built per call: key expansion is cheap, and the expanded schedule is zeroized on drop.
        let bytes: &[u8; 32] = &self.bytes;
        Aes256Gcm::new(bytes.into())
    }
}

/// The current key (writes) and the old keys (reads only).
pub struct Keyring {
    current: Key,
    old: Vec<Key>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.id)
            .field("old", &self.old.iter().map(|k| k.id).collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// A keyring from raw keys: the first writes, all read.
    pub fn new(current: &Zeroizing<[u8; 32]>, old: &[Zeroizing<[u8; 32]>]) -> Keyring {
        Keyring {
            current: Key::new(current),
            old: old.iter().map(Key::new).collect(),
        }
    }

    /// The keyring the configuration describes. Development and test without `ENCRYPTION_KEY` use a
    /// key generated once into the data dir (mode 0600); production without one refuses.
    pub fn from_config(config: &Config) -> Result<Keyring, KeyFileError> {
        let current = match &config.encryption_key {
            Some(SecretKey(k)) => k.clone(),
            None => dev_secret(config, "ENCRYPTION_KEY", "encryption.key")?,
        };
        let old: Vec<_> = config
            .encryption_old_keys
            .iter()
            .map(|SecretKey(k)| k.clone())
            .collect();
        Ok(Keyring::new(&current, &old))
    }

    pub fn current_key_id(&self) -> KeyId {
        self.current.id
    }

    /// Encrypts `plaintext` under the current key, bound to `aad`.
    pub fn seal(&self, aad: &Aad<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; 12];
        rand::rngs::SysRng
            .try_fill_bytes(&mut nonce)
            .map_err(|_| CryptoError::Random)?;
        let aad_bytes = aad.encode(self.current.id);
        let sealed = self
            .current
            .cipher()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad_bytes,
                },
            )
            .map_err(|_| CryptoError::Authentication)?;
        let mut out = Vec::with_capacity(HEADER + sealed.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&self.current.id.0);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts a value sealed by any key on the ring, checking it belongs where `aad` says.
    pub fn open(&self, aad: &Aad<'_>, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let id = key_id_of(sealed).ok_or(CryptoError::Malformed)?;
        if sealed.len() < HEADER + 16 {
            return Err(CryptoError::Malformed);
        }
        let key = std::iter::once(&self.current)
            .chain(&self.old)
            .find(|k| k.id == id)
            .ok_or(CryptoError::UnknownKey(id))?;
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&sealed[5..HEADER]);
        let aad_bytes = aad.encode(id);
        key.cipher()
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &sealed[HEADER..],
                    aad: &aad_bytes,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Authentication)
    }

    /// Decrypts to UTF-8 text.
    pub fn open_text(
        &self,
        aad: &Aad<'_>,
        sealed: &[u8],
    ) -> Result<Zeroizing<String>, CryptoError> {
        let bytes = self.open(aad, sealed)?;
        String::from_utf8(bytes.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Malformed)
    }
}

/// The key id a sealed value names, if it is in a known format.
pub fn key_id_of(sealed: &[u8]) -> Option<KeyId> {
    match sealed {
        [FORMAT_V1, a, b, c, d, ..] => Some(KeyId([*a, *b, *c, *d])),
        _ => None,
    }
}

/// A development key file could not be used, or production has no key.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error(
        "{var} is not set, and production refuses to start without it; generate one with `openssl rand -hex 32` and keep it outside the database"
    )]
    MissingInProduction { var: &'static str },
    #[error("the development key file {path} could not be {action}: {reason}")]
    Io {
        path: PathBuf,
        action: &'static str,
        reason: String,
    },
    #[error(
        "the development key file {path} does not hold 64 hexadecimal characters; delete it to generate a new one (data encrypted with it becomes unreadable)"
    )]
    Corrupt { path: PathBuf },
}

/// The audit chain's HMAC key (`AUDIT_HMAC_KEY`), kept outside the database.
pub struct AuditKey(pub Zeroizing<[u8; 32]>);

impl AuditKey {
    pub fn from_config(config: &Config) -> Result<AuditKey, KeyFileError> {
        Ok(AuditKey(match &config.audit_hmac_key {
            Some(SecretKey(k)) => k.clone(),
            None => dev_secret(config, "AUDIT_HMAC_KEY", "audit_hmac.key")?,
        }))
    }
}

/// Reads the development key `file` from the keys dir, generating it on first use.
fn dev_secret(
    config: &Config,
    var: &'static str,
    file: &str,
) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    if config.app_env == AppEnv::Production {
        return Err(KeyFileError::MissingInProduction { var });
    }
    let dir = config.keys_dir();
    create_private_dir(&dir).map_err(|e| io_error(&dir, "created", e))?;
    load_or_generate_key(&dir.join(file))
}

/// Creates `dir` (and parents) with the last component readable by its owner only.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

fn io_error(path: &Path, action: &'static str, e: std::io::Error) -> KeyFileError {
    KeyFileError::Io {
        path: path.to_path_buf(),
        action,
        reason: e.kind().to_string(),
    }
}

/// Two processes starting at once must end up with the same key: the new key is written to a private
/// temporary file and hard-linked into place, which fails if the other process got there first.
pub fn load_or_generate_key(path: &Path) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    if let Some(key) = read_key_file(path)? {
        return Ok(key);
    }
    let mut key = Zeroizing::new([0u8; 32]);
    rand::rngs::SysRng
        .try_fill_bytes(key.as_mut())
        .map_err(|_| io_error(path, "generated", std::io::Error::other("no randomness")))?;
    // Threads of one process race too, so the pid alone is not a unique name.
    let mut tag = [0u8; 8];
    rand::rngs::SysRng
        .try_fill_bytes(&mut tag)
        .map_err(|_| io_error(path, "generated", std::io::Error::other("no randomness")))?;
    let tmp = path.with_extension(format!("tmp-{}-{}", std::process::id(), hex::encode(tag)));
    let write = || -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        let text = Zeroizing::new(format!("{}\n", hex::encode(key.as_ref())));
        f.write_all(text.as_bytes())?;
        f.sync_all()
    };
    write().map_err(|e| io_error(&tmp, "written", e))?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_key_file(path)?.ok_or_else(|| KeyFileError::Corrupt {
                path: path.to_path_buf(),
            })
        }
        Err(e) => Err(io_error(path, "written", e)),
    }
}

fn read_key_file(path: &Path) -> Result<Option<Zeroizing<[u8; 32]>>, KeyFileError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => Zeroizing::new(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, "read", e)),
    };
    let mut key = Zeroizing::new([0u8; 32]);
    let hex_text = text.trim();
    if hex_text.len() != 64 || hex::decode_to_slice(hex_text, key.as_mut()).is_err() {
        return Err(KeyFileError::Corrupt {
            path: path.to_path_buf(),
        });
    }
    Ok(Some(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Zeroizing<[u8; 32]> {
        Zeroizing::new([b; 32])
    }

    fn aad(row_id: Uuid, version: i32) -> Aad<'static> {
        Aad {
            table: "medical_records",
            column: "title",
            row_id,
            version,
        }
    }

    #[test]
    fn seal_and_open_round_trip_with_random_nonces() {
        let ring = Keyring::new(&key(1), &[]);
        let row = Uuid::new_v4();
        let a = ring
            .seal(&aad(row, 1), b"Annual Physical Examination")
            .unwrap();
        let b = ring
            .seal(&aad(row, 1), b"Annual Physical Examination")
            .unwrap();
        assert_ne!(a, b, "each seal uses a fresh nonce");
        assert_eq!(key_id_of(&a), Some(ring.current_key_id()));
        assert!(!a.windows(6).any(|w| w == b"Annual"));
        assert_eq!(
            &*ring.open_text(&aad(row, 1), &a).unwrap(),
            "Annual Physical Examination"
        );
    }

    #[test]
    fn a_ciphertext_moved_elsewhere_fails_to_open() {
        let ring = Keyring::new(&key(1), &[]);
        let row = Uuid::new_v4();
        let sealed = ring.seal(&aad(row, 3), b"text").unwrap();
        let other_row = aad(Uuid::new_v4(), 3);
        let other_version = aad(row, 4);
        let other_column = Aad {
            column: "description",
            ..aad(row, 3)
        };
        let other_table = Aad {
            table: "record_versions",
            ..aad(row, 3)
        };
        for wrong in [other_row, other_version, other_column, other_table] {
            assert_eq!(
                ring.open(&wrong, &sealed).unwrap_err(),
                CryptoError::Authentication
            );
        }
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(
            ring.open(&aad(row, 3), &tampered).unwrap_err(),
            CryptoError::Authentication
        );
        assert_eq!(
            ring.open(&aad(row, 3), &sealed[..10]).unwrap_err(),
            CryptoError::Malformed
        );
        assert_eq!(
            ring.open(&aad(row, 3), b"").unwrap_err(),
            CryptoError::Malformed
        );
    }

    #[test]
    fn old_keys_read_and_unknown_keys_are_named() {
        let old = Keyring::new(&key(1), &[]);
        let row = Uuid::new_v4();
        let sealed = old.seal(&aad(row, 1), b"text").unwrap();
        let rotated = Keyring::new(&key(2), &[key(1)]);
        assert_eq!(&*rotated.open(&aad(row, 1), &sealed).unwrap(), b"text");
        assert_ne!(
            key_id_of(&rotated.seal(&aad(row, 1), b"t").unwrap()),
            key_id_of(&sealed)
        );
        let without = Keyring::new(&key(2), &[]);
        let err = without.open(&aad(row, 1), &sealed).unwrap_err();
        assert_eq!(err, CryptoError::UnknownKey(old.current_key_id()));
        assert!(err.to_string().contains(&old.current_key_id().to_string()));
        assert!(
            !format!("{rotated:?}").contains("0202"),
            "Debug shows ids only"
        );
    }

    #[test]
    fn development_key_is_generated_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("encryption.key");
        let first = load_or_generate_key(&path).unwrap();
        let second = load_or_generate_key(&path).unwrap();
        assert_eq!(*first, *second);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::write(&path, "not a key").unwrap();
        assert!(matches!(
            load_or_generate_key(&path),
            Err(KeyFileError::Corrupt { .. })
        ));
    }

    #[test]
    fn concurrent_generation_agrees_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| *load_or_generate_key(&path).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
    }
}
