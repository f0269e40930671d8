//! Signed checkpoints of the audit chain: the sealer signs the head every
//! `checkpoint_every_events` events or `checkpoint_every`, and every export signs the head it
//! ends at. Verifying with checkpoints finds what the hash chain alone cannot: a chain cut
//! short at the end, or rewritten with every hash recomputed.

use latch_runtime::{Caller, ServiceError, ServiceResult};

use super::{RequestService, Tx};
use crate::domain::checkpoint::{AuditSigningKey, Checkpoint, CheckpointCheck, check_signature};
use crate::store::{audit, checkpoints};

/// Why no checkpoint was signed.
enum Refused {
    /// No signing key is configured, or the chain is empty.
    Nothing,
    /// The chain disagrees with the last checkpoint: Latch never signs such a head.
    Disagrees(String),
}

/// The checkpoints a verification checks, besides the stored ones.
#[derive(Debug, Clone, Default)]
pub struct CheckpointOptions {
    /// Check the checkpoints at all.
    pub check: bool,
    /// Checkpoints kept outside Latch (from earlier exports).
    pub kept: Vec<Checkpoint>,
}

/// The outcome of checking the checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointVerification {
    /// Checkpoints whose signature is valid and whose head hash the chain has.
    pub verified: usize,
    pub problems: Vec<crate::domain::checkpoint::CheckpointProblem>,
    /// The latest validly signed checkpoint's sequence (0 when there is none).
    pub latest_sequence: i64,
}

impl RequestService {
    fn audit_key(&self) -> ServiceResult<&AuditSigningKey> {
        self.config()
            .audit_key
            .as_ref()
            .ok_or_else(|| ServiceError::FailedPrecondition("no audit signing key is configured".into()))
    }

    /// The key checkpoints are signed with: (key id, base64 of the Ed25519 public key).
    pub fn audit_public_key(&self, caller: &Caller) -> ServiceResult<(String, String)> {
        caller.require_auditor()?;
        let key = self.audit_key()?;
        Ok((key.key_id(), key.public_key_base64()))
    }

    /// Signs the chain's head in the sealer's transaction when `force` or when one is due.
    async fn sign_head(&self, tx: &Tx, force: bool) -> ServiceResult<Result<Checkpoint, Refused>> {
        let Some(key) = self.config().audit_key.as_ref() else {
            return Ok(Err(Refused::Nothing));
        };
        let Some((sequence, hash)) = audit::head(&**tx).await? else {
            return Ok(Err(Refused::Nothing));
        };
        let now = self.now();
        let last = checkpoints::latest(&**tx, &key.key_id()).await?;
        if let Some(last) = &last {
            if check_signature(&key.public_key(), last).is_err() {
                return Ok(Err(Refused::Disagrees(format!(
                    "the checkpoint at sequence {} has no valid signature",
                    last.sequence
                ))));
            }
            if last.sequence > sequence {
                return Ok(Err(Refused::Disagrees(format!(
                    "the chain ends at sequence {sequence}, before the checkpoint at {}",
                    last.sequence
                ))));
            }
            if audit::hash_at(&**tx, last.sequence).await?.as_deref() != Some(last.head_hash.as_str()) {
                return Ok(Err(Refused::Disagrees(format!(
                    "the chain at sequence {} no longer has the hash its checkpoint signed",
                    last.sequence
                ))));
            }
            if last.sequence == sequence {
                return Ok(Ok(last.clone()));
            }
            let due = sequence - last.sequence >= self.config().checkpoint_every_events
                || now - last.at >= self.config().checkpoint_every;
            if !force && !due {
                return Ok(Err(Refused::Nothing));
            }
        }
        let checkpoint = key.sign(sequence, &hash, now);
        checkpoints::insert(&**tx, &checkpoint).await?;
        Ok(Ok(checkpoint))
    }

    /// Signs a checkpoint when one is due, in the sealer's transaction. A chain that disagrees
    /// with its last checkpoint is logged when events were just sealed onto it (not on every
    /// idle pass).
    pub(super) async fn checkpoint_if_due(&self, tx: &Tx, just_sealed: bool) -> ServiceResult<()> {
        if let Err(Refused::Disagrees(reason)) = self.sign_head(tx, false).await?
            && just_sealed
        {
            tracing::warn!(reason = %reason, "audit checkpoint not signed: the chain disagrees with its last checkpoint, run `latch audit verify --checkpoints`");
        }
        Ok(())
    }

    /// Seals what is waiting and signs the head, for an export to end with; `None` when the
    /// chain is empty or no signing key is configured.
    pub async fn export_checkpoint(&self, caller: &Caller) -> ServiceResult<Option<Checkpoint>> {
        caller.require_auditor()?;
        if self.config().audit_key.is_none() {
            return Ok(None);
        }
        self.seal_audit().await?;
        let tx = self.begin_sealing().await?;
        let signed = self.sign_head(&tx, true).await?;
        tx.commit().await?;
        match signed {
            Ok(checkpoint) => Ok(Some(checkpoint)),
            Err(Refused::Nothing) => Ok(None),
            Err(Refused::Disagrees(reason)) => Err(ServiceError::FailedPrecondition(format!(
                "the audit log fails its checkpoints ({reason}): run `latch audit verify --checkpoints`"
            ))),
        }
    }

    /// Every stored checkpoint and the kept ones, checked against the chain as it is walked.
    pub(super) async fn checkpoint_check(&self, options: &CheckpointOptions) -> ServiceResult<Option<CheckpointCheck>> {
        if !options.check {
            return Ok(None);
        }
        let key = self.audit_key()?;
        let mut all = checkpoints::all(self.db()).await?;
        all.extend(options.kept.iter().cloned());
        Ok(Some(CheckpointCheck::new(&key.public_key(), all)))
    }
}
