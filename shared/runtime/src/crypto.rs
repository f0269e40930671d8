//! Secrets at rest: AES-256-GCM with a random 96-bit nonce per value.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload, rand_core::RngCore};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const NONCE_LEN: usize = 12;
/// Stored values start with a version tag so the format can change without guessing.
const FORMAT_V1: &str = "v1:";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("encryption key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("cannot read or write the key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("sealed value is malformed or was encrypted under another key")]
    CannotOpen,
}

/// Encrypts and decrypts secrets under one key. Debug never shows the key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    /// Keys for other purposes (page tokens) come from this one, never the key itself.
    derivation: std::sync::Arc<[u8; 32]>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    pub fn from_key_bytes(key: &[u8]) -> Result<Self, CryptoError> {
        let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::BadKey)?;
        let derivation = std::sync::Arc::new(hmac_sha256(key, b"latch key derivation v1"));
        Ok(Self { cipher, derivation })
    }

    pub fn from_base64(key: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD.decode(key.trim()).map_err(|_| CryptoError::BadKey)?;
        if bytes.len() != 32 {
            return Err(CryptoError::BadKey);
        }
        Self::from_key_bytes(&bytes)
    }

    /// The configured key, or else the key in `data_dir/secret.key`, created (mode 0600) on
    /// first use.
    pub fn from_config_or_file(configured: &str, data_dir: &Path) -> Result<Self, CryptoError> {
        if !configured.is_empty() {
            return Self::from_base64(configured);
        }
        let path = data_dir.join("secret.key");
        let key_file_error = |source| CryptoError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(existing) => Self::from_base64(&existing),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(key_file_error)?;
                let mut key = [0u8; 32];
                OsRng.fill_bytes(&mut key);
                write_private(&path, &STANDARD.encode(key)).map_err(key_file_error)?;
                Self::from_key_bytes(&key)
            }
            Err(error) => Err(key_file_error(error)),
        }
    }

    /// A key for `purpose`, the same wherever the same encryption key is configured.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        hmac_sha256(self.derivation.as_slice(), purpose.as_bytes())
    }

    pub fn seal(&self, plaintext: &[u8]) -> String {
        self.seal_bound(plaintext, b"")
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        self.open_bound(sealed, b"")
    }

    /// Seals a value bound to `context` (e.g. the owner's id) as associated data: it opens only
    /// with the same context, so a sealed value copied to another row is useless.
    pub fn seal_bound(&self, plaintext: &[u8], context: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and a fresh nonce cannot fail for inputs below 64 GiB.
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .unwrap_or_default();
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        format!("{FORMAT_V1}{}", STANDARD.encode(sealed))
    }

    pub fn open_bound(&self, sealed: &str, context: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let encoded = sealed.strip_prefix(FORMAT_V1).ok_or(CryptoError::CannotOpen)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| CryptoError::CannotOpen)?;
        if bytes.len() <= NONCE_LEN {
            return Err(CryptoError::CannotOpen);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| CryptoError::CannotOpen)
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_under_the_same_key() {
        let key = SecretBox::from_key_bytes(&[7u8; 32]).unwrap();
        let other = SecretBox::from_key_bytes(&[8u8; 32]).unwrap();
        let sealed = key.seal(b"totp secret");
        assert!(!sealed.contains("totp"));
        assert_eq!(key.open(&sealed).unwrap(), b"totp secret");
        assert!(other.open(&sealed).is_err());
        assert_ne!(key.seal(b"same"), key.seal(b"same"), "nonces must differ");
    }

    #[test]
    fn bound_values_open_only_with_their_context() {
        let key = SecretBox::from_key_bytes(&[7u8; 32]).unwrap();
        let sealed = key.seal_bound(b"secret", b"user-1");
        assert_eq!(key.open_bound(&sealed, b"user-1").unwrap(), b"secret");
        assert!(key.open_bound(&sealed, b"user-2").is_err());
        assert!(key.open(&sealed).is_err());
    }

    #[test]
    fn generated_key_file_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretBox::from_config_or_file("", dir.path()).unwrap();
        let second = SecretBox::from_config_or_file("", dir.path()).unwrap();
        assert_eq!(second.open(&first.seal(b"x")).unwrap(), b"x");
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(matches!(SecretBox::from_base64("c2hvcnQ="), Err(CryptoError::BadKey)));
    }
}
