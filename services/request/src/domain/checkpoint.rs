//! Signed checkpoints of the audit chain. A checkpoint is the chain's head (a sequence and the
//! hash of the event there) signed with an Ed25519 key kept outside the database. Someone who
//! can write the database can recompute every hash of a rewritten or truncated chain, but cannot
//! sign a checkpoint for it: a stored (or operator-kept) checkpoint then no longer matches.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

/// Separates checkpoint signatures from anything else the key could ever sign.
pub const SIGNING_DOMAIN: &str = "latch.audit.checkpoint.v1";

/// A signed statement: "the chain had `head_hash` at `sequence`", at time `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub sequence: i64,
    pub head_hash: String,
    pub at: DateTime<Utc>,
    /// Which key signed it ([`key_id`]).
    pub key_id: String,
    /// Base64 of the 64-byte Ed25519 signature over [`canonical_message`].
    pub signature: String,
}

/// Names a public key: the first 16 hex digits of the SHA-256 of its 32 bytes.
pub fn key_id(public: &VerifyingKey) -> String {
    Sha256::digest(public.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The bytes a checkpoint's signature covers: the domain, the key id, the sequence, the head
/// hash and the time (RFC 3339, microseconds, UTC), each length-prefixed so no two field lists
/// give the same bytes.
pub fn canonical_message(sequence: i64, head_hash: &str, at: DateTime<Utc>, key_id: &str) -> Vec<u8> {
    let sequence = sequence.to_string();
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut message = Vec::with_capacity(160);
    for field in [SIGNING_DOMAIN, key_id, sequence.as_str(), head_hash, at.as_str()] {
        message.extend_from_slice(&(field.len() as u64).to_be_bytes());
        message.extend_from_slice(field.as_bytes());
    }
    message
}

/// The key that signs checkpoints. Debug shows its id, never the key.
#[derive(Clone)]
pub struct AuditSigningKey(SigningKey);

impl std::fmt::Debug for AuditSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditSigningKey({})", self.key_id())
    }
}

impl AuditSigningKey {
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// Base64 of a 32-byte Ed25519 seed.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bad = || "must be base64 of exactly 32 bytes (an Ed25519 seed)".to_string();
        let bytes = STANDARD.decode(text.trim()).map_err(|_| bad())?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
        Ok(Self::from_seed(&seed))
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.0.verifying_key()
    }

    /// Base64 of the 32-byte public key, for auditors verifying outside Latch.
    pub fn public_key_base64(&self) -> String {
        STANDARD.encode(self.public_key().as_bytes())
    }

    pub fn key_id(&self) -> String {
        key_id(&self.public_key())
    }

    pub fn sign(&self, sequence: i64, head_hash: &str, at: DateTime<Utc>) -> Checkpoint {
        let key_id = self.key_id();
        let signature = self.0.sign(&canonical_message(sequence, head_hash, at, &key_id));
        Checkpoint {
            sequence,
            head_hash: head_hash.to_string(),
            at,
            key_id,
            signature: STANDARD.encode(signature.to_bytes()),
        }
    }
}

/// What is wrong with a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The signature is not valid under the configured key: forged or altered.
    BadSignature,
    /// Signed by another key than the configured one (rotated, or forged).
    OtherKey,
    /// The chain's event at the checkpoint's sequence has another hash: rewritten.
    HeadMismatch,
    /// The checkpoint is past the chain's end: events were removed from the end.
    BeyondChain,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointProblem {
    pub sequence: i64,
    pub kind: ProblemKind,
    pub reason: String,
}

/// Checks a checkpoint's signature under `public`.
pub fn check_signature(public: &VerifyingKey, checkpoint: &Checkpoint) -> Result<(), CheckpointProblem> {
    let problem = |kind, reason: String| CheckpointProblem {
        sequence: checkpoint.sequence,
        kind,
        reason,
    };
    let expected_id = key_id(public);
    if checkpoint.key_id != expected_id {
        return Err(problem(
            ProblemKind::OtherKey,
            format!(
                "signed by key {:?}, not the configured key {expected_id}",
                short(&checkpoint.key_id)
            ),
        ));
    }
    let bytes = STANDARD.decode(checkpoint.signature.trim()).unwrap_or_default();
    let valid = Signature::from_slice(&bytes).is_ok_and(|signature| {
        let message = canonical_message(
            checkpoint.sequence,
            &checkpoint.head_hash,
            checkpoint.at,
            &checkpoint.key_id,
        );
        public.verify(&message, &signature).is_ok()
    });
    if !valid {
        return Err(problem(
            ProblemKind::BadSignature,
            "its signature is not valid under the configured key (forged or altered)".into(),
        ));
    }
    Ok(())
}

/// At most a short prefix of a value that may come from outside.
fn short(text: &str) -> String {
    text.chars().take(24).collect()
}

/// Checks checkpoints against the chain as it is walked: every checkpoint's signature first,
/// then each validly signed one against the event at its sequence, and at the end those past
/// the chain's end.
#[derive(Debug)]
pub struct CheckpointCheck {
    /// Validly signed checkpoints not met yet, by sequence (several may share one).
    waiting: std::collections::BTreeMap<i64, Vec<Checkpoint>>,
    pub verified: usize,
    pub problems: Vec<CheckpointProblem>,
    /// The highest sequence of a validly signed checkpoint (0 when there is none).
    pub latest: i64,
}

impl CheckpointCheck {
    pub fn new(public: &VerifyingKey, checkpoints: impl IntoIterator<Item = Checkpoint>) -> Self {
        let mut check = Self {
            waiting: Default::default(),
            verified: 0,
            problems: Vec::new(),
            latest: 0,
        };
        for checkpoint in checkpoints {
            match check_signature(public, &checkpoint) {
                Ok(()) => {
                    check.latest = check.latest.max(checkpoint.sequence);
                    check.waiting.entry(checkpoint.sequence).or_default().push(checkpoint);
                }
                Err(problem) => check.problems.push(problem),
            }
        }
        check
    }

    /// The intact event at `sequence` has `hash`.
    pub fn observe(&mut self, sequence: i64, hash: &str) {
        let Some(checkpoints) = self.waiting.remove(&sequence) else {
            return;
        };
        for checkpoint in checkpoints {
            if checkpoint.head_hash == hash {
                self.verified += 1;
            } else {
                self.problems.push(CheckpointProblem {
                    sequence,
                    kind: ProblemKind::HeadMismatch,
                    reason: format!(
                        "the chain at sequence {sequence} does not have the signed head hash (events rewritten)"
                    ),
                });
            }
        }
    }

    /// The walk ended after `chain_end`, the last intact event. When the chain itself is
    /// broken, checkpoints after the break are not reached and the break is what is reported.
    pub fn finish(mut self, chain_end: i64, chain_intact: bool) -> Self {
        let waiting = std::mem::take(&mut self.waiting);
        if chain_intact {
            for (sequence, checkpoints) in waiting {
                for _ in checkpoints {
                    self.problems.push(CheckpointProblem {
                        sequence,
                        kind: ProblemKind::BeyondChain,
                        reason: format!(
                            "a checkpoint was signed at sequence {sequence} but the chain ends at {chain_end} (events removed from the end)"
                        ),
                    });
                }
            }
        }
        self.problems.sort_by_key(|p| p.sequence);
        self
    }
}

#[cfg(test)]
mod tests;
