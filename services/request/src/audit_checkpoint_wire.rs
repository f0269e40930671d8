//! Checkpoints on the wire and in exports: proto ↔ domain, and the trailing JSON line or CSV
//! record an export ends with.

use latch_proto::request::v1 as pb;
use latch_runtime::database::{format_time, parse_time};
use latch_runtime::{ServiceError, ServiceResult};

use crate::domain::checkpoint::{Checkpoint, CheckpointProblem, ProblemKind};

/// Kept checkpoints accepted in one verification.
pub const MAX_KEPT: usize = 1000;

pub fn checkpoint(c: &Checkpoint) -> pb::AuditCheckpoint {
    pb::AuditCheckpoint {
        sequence: c.sequence,
        head_hash: c.head_hash.clone(),
        time: format_time(c.at),
        key_id: c.key_id.clone(),
        signature: c.signature.clone(),
    }
}

pub fn problem(p: &CheckpointProblem) -> pb::CheckpointProblem {
    let kind = match p.kind {
        ProblemKind::BadSignature => pb::CheckpointProblemKind::BadSignature,
        ProblemKind::OtherKey => pb::CheckpointProblemKind::OtherKey,
        ProblemKind::HeadMismatch => pb::CheckpointProblemKind::HeadMismatch,
        ProblemKind::BeyondChain => pb::CheckpointProblemKind::Truncated,
    };
    pb::CheckpointProblem {
        sequence: p.sequence,
        kind: kind.into(),
        reason: p.reason.clone(),
    }
}

/// Checkpoints a caller kept, checked for shape (the signature is checked by the verifier).
pub fn kept(kept: &[pb::AuditCheckpoint]) -> ServiceResult<Vec<Checkpoint>> {
    if kept.len() > MAX_KEPT {
        return Err(ServiceError::invalid(
            "kept_checkpoints",
            format!("at most {MAX_KEPT} checkpoints"),
        ));
    }
    kept.iter()
        .enumerate()
        .map(|(n, c)| {
            let field = |name: &str| format!("kept_checkpoints[{n}].{name}");
            if c.sequence < 1 {
                return Err(ServiceError::invalid(field("sequence"), "must be at least 1"));
            }
            for (name, value, max) in [
                ("head_hash", &c.head_hash, 128),
                ("key_id", &c.key_id, 64),
                ("signature", &c.signature, 128),
            ] {
                if value.is_empty() || value.len() > max {
                    return Err(ServiceError::invalid(
                        field(name),
                        format!("must be 1 to {max} characters"),
                    ));
                }
            }
            let at = parse_time(&c.time)
                .map_err(|_| ServiceError::invalid(field("time"), "must be an RFC 3339 time as exported"))?;
            Ok(Checkpoint {
                sequence: c.sequence,
                head_hash: c.head_hash.clone(),
                at,
                key_id: c.key_id.clone(),
                signature: c.signature.clone(),
            })
        })
        .collect()
}

/// The last line of a JSON-lines export: `{"checkpoint": {...}}`.
pub fn json_line(c: &Checkpoint, public_key: &str) -> String {
    let mut line = serde_json::json!({
        "checkpoint": {
            "sequence": c.sequence,
            "head_hash": c.head_hash,
            "time": format_time(c.at),
            "key_id": c.key_id,
            "signature": c.signature,
            "algorithm": "ed25519",
            "public_key": public_key,
        }
    })
    .to_string();
    line.push('\n');
    line
}

/// The last record of a CSV export, in the event columns: the sequence, the time, the action
/// `audit.checkpoint`, the key id as the subject, the signature as the detail and the head
/// hash as the hash.
pub fn csv_line(c: &Checkpoint) -> String {
    format!(
        "{},,{},latch,audit.checkpoint,{},,,,,,,{},,{}\n",
        c.sequence,
        format_time(c.at),
        c.key_id,
        c.signature,
        c.head_hash
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::checkpoint::AuditSigningKey;

    #[test]
    fn a_checkpoint_survives_the_wire_and_bad_ones_name_the_field() {
        let signed = AuditSigningKey::from_seed(&[3; 32]).sign(
            4,
            "abc",
            chrono::DateTime::from_timestamp(1_700_000_000, 5_000).unwrap(),
        );
        assert_eq!(kept(&[checkpoint(&signed)]).unwrap(), vec![signed.clone()]);
        let mut bad = checkpoint(&signed);
        bad.time = "yesterday".into();
        let error = kept(&[checkpoint(&signed), bad]).unwrap_err().to_string();
        assert!(error.contains("kept_checkpoints[1].time"), "{error}");
        // The CSV record has the fifteen columns of an event.
        assert_eq!(csv_line(&signed).trim_end().split(',').count(), 15);
    }
}
