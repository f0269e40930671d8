//! API token secrets: random, shown once, stored only as a SHA-256 hash. Tokens carry 190 bits
//! of entropy, so a fast hash is safe here (unlike passwords) and keeps every RPC cheap.

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

/// Every Latch token starts with this, so secret scanners can find leaked ones.
pub const TOKEN_PREFIX: &str = "latch_";
const RANDOM_LEN: usize = 32;
/// Characters of a generated secret shown in listings to tell tokens apart: `latch_` and four
/// of its 32 random characters.
const DISPLAY_PREFIX_LEN: usize = 10;

pub fn generate_secret() -> String {
    let random: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(RANDOM_LEN)
        .map(char::from)
        .collect();
    format!("{TOKEN_PREFIX}{random}")
}

pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What listings show of a secret. Operator-chosen secrets (a configured bootstrap token) may be
/// short, so for them only a fragment of the hash is shown, never their characters.
pub fn display_prefix(secret: &str) -> String {
    let generated = secret.starts_with(TOKEN_PREFIX)
        && secret.len() == TOKEN_PREFIX.len() + RANDOM_LEN
        && secret[TOKEN_PREFIX.len()..].chars().all(|c| c.is_ascii_alphanumeric());
    if generated {
        secret.chars().take(DISPLAY_PREFIX_LEN).collect()
    } else {
        format!("sha256:{}", &hash_secret(secret)[..8])
    }
}

/// A bootstrap token given by the operator must be hard to guess too.
pub fn is_acceptable_bootstrap_token(secret: &str) -> bool {
    secret.len() >= 24 && !secret.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_prefixed_and_hash_stably() {
        let a = generate_secret();
        let b = generate_secret();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + RANDOM_LEN);
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), hash_secret(&b));
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
