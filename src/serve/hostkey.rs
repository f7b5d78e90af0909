//! The server's host key: read, or on the first run generated (Ed25519) and written with mode 0600.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use russh::keys::ssh_key::LineEnding;
use russh::keys::{Algorithm, HashAlg, PrivateKey, PublicKey};

/// Why the host key or the authorized keys could not be used: one sentence naming the file.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path} cannot be read: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path} may be read by others (mode {mode:o}); make it 0600 with `chmod 600 {path}`")]
    Exposed { path: String, mode: u32 },
    #[error("{path} is not an unencrypted OpenSSH private key ({reason})")]
    NotAKey { path: String, reason: String },
    #[error("{path} cannot be created: {reason}")]
    Uncreatable { path: String, reason: String },
    #[error("{path} line {line} is not a public key like `ssh-ed25519 AAAA… comment`")]
    BadPublicKey { path: String, line: usize },
    #[error("{path} holds no public key")]
    NoPublicKeys { path: String },
}

/// The host key at `path`, and whether it was created now.
pub fn load_or_create(path: &Path) -> Result<(PrivateKey, bool), KeyError> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(pem) => {
            let mode = std::fs::metadata(path)
                .map_err(|e| KeyError::Unreadable {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?
                .permissions()
                .mode()
                & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyError::Exposed { path: shown, mode });
            }
            let pem = zeroize::Zeroizing::new(pem);
            let key = PrivateKey::from_openssh(pem.as_str()).map_err(|e| KeyError::NotAKey {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
            if key.is_encrypted() {
                return Err(KeyError::NotAKey {
                    path: shown,
                    reason: "it has a passphrase".into(),
                });
            }
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let uncreatable = |reason: String| KeyError::Uncreatable {
                path: shown.clone(),
                reason,
            };
            let key = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
                .map_err(|e| uncreatable(e.to_string()))?;
            let pem = key
                .to_openssh(LineEnding::LF)
                .map_err(|e| uncreatable(e.to_string()))?;
            // create_new: an existing key is never replaced; the mode applies at creation.
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| uncreatable(e.to_string()))?;
            file.write_all(pem.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| uncreatable(e.to_string()))?;
            Ok((key, true))
        }
        Err(e) => Err(KeyError::Unreadable {
            path: shown,
            reason: e.to_string(),
        }),
    }
}

/// `SHA256:…`, as `ssh-keygen -lf` and an SSH client's first-connection prompt show it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The public keys of an authorized-keys file: one per line, `#` comments and blank lines skipped.
pub fn authorized_keys(path: &Path) -> Result<Vec<PublicKey>, KeyError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| KeyError::Unreadable {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = PublicKey::from_openssh(line).map_err(|_| KeyError::BadPublicKey {
            path: shown.clone(),
            line: n + 1,
        })?;
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(KeyError::NoPublicKeys { path: shown });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_private_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host_key");
        let (made, created) = load_or_create(&path).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (read, created) = load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(
            fingerprint(made.public_key()),
            fingerprint(read.public_key())
        );
        assert!(fingerprint(read.public_key()).starts_with("SHA256:"));
    }

    #[test]
    fn a_key_others_may_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host_key");
        load_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create(&path).unwrap_err().to_string();
        assert!(e.contains("mode 644") && e.contains("chmod 600"), "{e}");
    }

    #[test]
    fn authorized_keys_name_the_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = load_or_create(&dir.path().join("k")).unwrap();
        let line = key.public_key().to_openssh().unwrap();
        let path = dir.path().join("authorized_keys");
        std::fs::write(&path, format!("# staff\n{line} nurse@ward\n\nnot a key\n")).unwrap();
        let e = authorized_keys(&path).unwrap_err().to_string();
        assert!(
            e.ends_with("line 4 is not a public key like `ssh-ed25519 AAAA… comment`"),
            "{e}"
        );
        std::fs::write(&path, format!("{line}\n")).unwrap();
        assert_eq!(authorized_keys(&path).unwrap().len(), 1);
    }
}
