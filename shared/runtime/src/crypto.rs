//! Secrets at rest: AES-256-GCM with a random 96-bit nonce per value.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload, rand_core::RngCore};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const NONCE_LEN: usize = 12;
/// Stored values start with a version tag so the format can change without guessing. `v1:` is
/// sealed with the deployment's shared key; `v2:<key id>:` with a context's own key.
const FORMAT_V1: &str = "v1:";
const FORMAT_V2: &str = "v2:";
/// The most keys one context's key ring holds.
const MAX_RING: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("encryption key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("cannot read or write the key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("sealed value is malformed or was encrypted under another key")]
    CannotOpen,
    #[error("{0}")]
    BadRing(String),
}

/// Encrypts and decrypts secrets. Debug never shows a key.
///
/// A box made from the deployment's key seals with it (`v1:`). A context's box
/// ([`SecretBox::for_context`]) holds the context's own key ring: it seals with the first key
/// (`v2:<id>:`), opens with whichever key a value names, and still opens `v1:` values sealed
/// before the context had keys of its own, until a re-seal rewrites them.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    /// Keys for other purposes (page tokens) come from this one, never the key itself.
    derivation: std::sync::Arc<[u8; 32]>,
    /// The context's own keys, newest (the one that seals) first; empty for the deployment's box.
    ring: std::sync::Arc<Vec<(String, Aes256Gcm)>>,
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
        Ok(Self {
            cipher,
            derivation,
            ring: std::sync::Arc::new(Vec::new()),
        })
    }

    /// The box of a context whose own keys are `ring` (`id:base64,id:base64`, the sealing key
    /// first, older ones after it for values not yet re-sealed; `setting` names the setting in
    /// errors). An empty ring: this box, sealing with the deployment's key.
    pub fn for_context(&self, ring: &str, setting: &str) -> Result<Self, CryptoError> {
        let mut keys: Vec<(String, Aes256Gcm)> = Vec::new();
        for entry in ring.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((id, key)) = entry.split_once(':') else {
                return Err(CryptoError::BadRing(format!(
                    "{setting}: each key is id:base64 (e.g. k2:$(openssl rand -base64 32)), comma-separated"
                )));
            };
            let id = id.trim();
            if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                // The id is not echoed: a key written before its id would be printed whole.
                return Err(CryptoError::BadRing(format!(
                    "{setting}: key number {} has an id that is not 1 to 32 letters, digits, '-' or '_' (id:base64, the id first)",
                    keys.len() + 1
                )));
            }
            if keys.iter().any(|(known, _)| known == id) {
                return Err(CryptoError::BadRing(format!("{setting}: key id {id} is given twice")));
            }
            let bytes = STANDARD
                .decode(key.trim())
                .map_err(|_| CryptoError::BadRing(format!("{setting}: key {id} must be base64 of exactly 32 bytes")))?;
            let cipher = Aes256Gcm::new_from_slice(&bytes)
                .ok()
                .filter(|_| bytes.len() == 32)
                .ok_or_else(|| {
                    CryptoError::BadRing(format!("{setting}: key {id} must be base64 of exactly 32 bytes"))
                })?;
            keys.push((id.to_string(), cipher));
        }
        if keys.len() > MAX_RING {
            return Err(CryptoError::BadRing(format!("{setting}: at most {MAX_RING} keys")));
        }
        Ok(Self {
            cipher: self.cipher.clone(),
            derivation: self.derivation.clone(),
            ring: std::sync::Arc::new(keys),
        })
    }

    /// Whether `sealed` is sealed the way this box seals now (a re-seal leaves it alone).
    pub fn is_current(&self, sealed: &str) -> bool {
        match self.ring.first() {
            Some((id, _)) => sealed
                .strip_prefix(FORMAT_V2)
                .and_then(|rest| rest.split_once(':'))
                .is_some_and(|(key, _)| key == id),
            None => sealed.starts_with(FORMAT_V1),
        }
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
        let (prefix, cipher) = match self.ring.first() {
            Some((id, cipher)) => (format!("{FORMAT_V2}{id}:"), cipher),
            None => (FORMAT_V1.to_string(), &self.cipher),
        };
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and a fresh nonce cannot fail for inputs below 64 GiB.
        let ciphertext = cipher
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
        format!("{prefix}{}", STANDARD.encode(sealed))
    }

    pub fn open_bound(&self, sealed: &str, context: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (cipher, encoded) = match sealed.strip_prefix(FORMAT_V2) {
            Some(rest) => {
                let (id, encoded) = rest.split_once(':').ok_or(CryptoError::CannotOpen)?;
                let (_, cipher) = self
                    .ring
                    .iter()
                    .find(|(known, _)| known == id)
                    .ok_or(CryptoError::CannotOpen)?;
                (cipher, encoded)
            }
            None => (
                &self.cipher,
                sealed.strip_prefix(FORMAT_V1).ok_or(CryptoError::CannotOpen)?,
            ),
        };
        let bytes = STANDARD.decode(encoded).map_err(|_| CryptoError::CannotOpen)?;
        if bytes.len() <= NONCE_LEN {
            return Err(CryptoError::CannotOpen);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        cipher
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
    fn a_context_seals_with_its_newest_key_and_opens_older_ones_and_the_deployments() {
        let deployment = SecretBox::from_key_bytes(&[7u8; 32]).unwrap();
        let k1 = STANDARD.encode([1u8; 32]);
        let k2 = STANDARD.encode([2u8; 32]);
        let before = deployment.seal_bound(b"old", b"row");
        let first = deployment
            .for_context(&format!("k1:{k1}"), "catalog.encryption_keys")
            .unwrap();
        let by_k1 = first.seal_bound(b"one", b"row");
        assert!(by_k1.starts_with("v2:k1:"), "{by_k1}");
        assert!(
            deployment.open_bound(&by_k1, b"row").is_err(),
            "the deployment's key cannot open it"
        );
        let rotated = deployment
            .for_context(&format!("k2:{k2}, k1:{k1}"), "catalog.encryption_keys")
            .unwrap();
        assert!(rotated.seal_bound(b"two", b"row").starts_with("v2:k2:"));
        assert_eq!(rotated.open_bound(&by_k1, b"row").unwrap(), b"one");
        assert_eq!(rotated.open_bound(&before, b"row").unwrap(), b"old");
        assert!(!rotated.is_current(&by_k1) && !rotated.is_current(&before));
        assert!(rotated.is_current(&rotated.seal_bound(b"x", b"row")));
        let other = SecretBox::from_key_bytes(&[9u8; 32])
            .unwrap()
            .for_context(&format!("k1:{k2}"), "x")
            .unwrap();
        assert!(
            other.open_bound(&by_k1, b"row").is_err(),
            "the same id with another key"
        );
    }

    #[test]
    fn a_bad_key_ring_names_the_setting_and_the_rule() {
        let deployment = SecretBox::from_key_bytes(&[7u8; 32]).unwrap();
        let k = STANDARD.encode([1u8; 32]);
        for (ring, rule) in [
            (k.clone(), "id:base64"),
            (format!("a b:{k}"), "letters"),
            (format!("{k}:k1"), "the id first"),
            (format!("k1:{k},k1:{k}"), "twice"),
            ("k1:c2hvcnQ=".to_string(), "32 bytes"),
        ] {
            let error = deployment
                .for_context(&ring, "identity.encryption_keys")
                .unwrap_err()
                .to_string();
            assert!(error.starts_with("identity.encryption_keys"), "{error}");
            assert!(error.contains(rule), "{ring}: {error}");
            assert!(!error.contains(&k), "a key never appears in an error");
        }
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(matches!(SecretBox::from_base64("c2hvcnQ="), Err(CryptoError::BadKey)));
    }
}
