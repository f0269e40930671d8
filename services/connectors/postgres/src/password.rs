//! Grant passwords, and the SCRAM-SHA-256 verifier sent in their place.
//!
//! PostgreSQL stores a `PASSWORD '…'` that is already a SCRAM verifier as it is, so the
//! plaintext never crosses the wire or lands in a server log (`log_statement = 'ddl'` logs
//! CREATE ROLE in full, and a failing statement is logged by default).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

use latch_connector_sdk::ConnectorError;

/// Alphanumeric, so it survives every client's connection-string syntax: ~190 bits.
const PASSWORD_LENGTH: usize = 32;
/// PostgreSQL's own default (`scram_iterations`).
const SCRAM_ITERATIONS: u32 = 4096;
const SALT_BYTES: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// A fresh random password from the thread's CSPRNG.
pub fn generate_password() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(PASSWORD_LENGTH)
        .map(char::from)
        .collect()
}

/// The verifier for `password` with a fresh random salt.
pub fn scram_verifier(password: &str) -> Result<String, ConnectorError> {
    let salt: [u8; SALT_BYTES] = rand::rng().random();
    scram_verifier_with_salt(password, &salt, SCRAM_ITERATIONS)
}

/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (RFC 5802, RFC 7677), as
/// PostgreSQL writes it to `pg_authid.rolpassword`. `password` must need no SASLprep, which the
/// alphanumeric passwords of [`generate_password`] never do.
pub fn scram_verifier_with_salt(password: &str, salt: &[u8], iterations: u32) -> Result<String, ConnectorError> {
    let failed = |_| ConnectorError::FailedPrecondition("cannot compute the password verifier".into());
    let salted_password = pbkdf2_sha256(password.as_bytes(), salt, iterations).map_err(failed)?;
    let client_key = hmac_sha256(&salted_password, b"Client Key").map_err(failed)?;
    let stored_key = Sha256::digest(client_key);
    let server_key = hmac_sha256(&salted_password, b"Server Key").map_err(failed)?;
    Ok(format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        BASE64.encode(salt),
        BASE64.encode(stored_key),
        BASE64.encode(server_key)
    ))
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Result<[u8; 32], hmac::digest::InvalidLength> {
    let mut mac = HmacSha256::new_from_slice(key)?;
    mac.update(message);
    Ok(mac.finalize().into_bytes().into())
}

/// PBKDF2-HMAC-SHA-256 with a 32-byte output: one block, so `T1` is the whole key.
fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> Result<[u8; 32], hmac::digest::InvalidLength> {
    let mut first_message = salt.to_vec();
    first_message.extend_from_slice(&1u32.to_be_bytes());
    let mut block = hmac_sha256(password, &first_message)?;
    let mut result = block;
    for _ in 1..iterations {
        block = hmac_sha256(password, &block)?;
        for (out, byte) in result.iter_mut().zip(block) {
            *out ^= byte;
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_random_and_alphanumeric() {
        let first = generate_password();
        assert!(first.len() >= 24);
        assert!(first.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(first, generate_password());
    }

    #[test]
    fn pbkdf2_matches_rfc_7914_vector() {
        // RFC 7914 §11: PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1, first 32 bytes.
        let key = pbkdf2_sha256(b"passwd", b"salt", 1).unwrap();
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
    }

    #[test]
    fn verifier_matches_an_independent_computation() {
        // Computed with Python's hashlib/hmac for password "pencil", salt bytes 0..16, 4096
        // iterations.
        let salt: Vec<u8> = (0u8..16).collect();
        assert_eq!(
            scram_verifier_with_salt("pencil", &salt, 4096).unwrap(),
            EXPECTED_PENCIL_VERIFIER
        );
    }

    const EXPECTED_PENCIL_VERIFIER: &str = "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$zHCdol2044/ZyWzPLi7oxApCkamKw9Z+E4U/QApd/5Y=:dd5peBOitVnLNFu7VmwP+HiDaaw4OUCv396eVCWhYiE=";
}
