use chrono::DateTime;

use super::*;

fn key(byte: u8) -> AuditSigningKey {
    AuditSigningKey::from_seed(&[byte; 32])
}

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap()
}

const HASH: &str = "ab12000000000000000000000000000000000000000000000000000000000000";

#[test]
fn a_signed_checkpoint_verifies_under_its_key_only() {
    let checkpoint = key(1).sign(7, HASH, at());
    assert_eq!(checkpoint.key_id, key(1).key_id());
    assert_eq!(check_signature(&key(1).public_key(), &checkpoint), Ok(()));
    let other = check_signature(&key(2).public_key(), &checkpoint).unwrap_err();
    assert_eq!(other.kind, ProblemKind::OtherKey);
}

#[test]
fn changing_any_signed_field_breaks_the_signature() {
    let public = key(1).public_key();
    let good = key(1).sign(7, HASH, at());
    let altered = [
        Checkpoint {
            sequence: 8,
            ..good.clone()
        },
        Checkpoint {
            head_hash: HASH.replace("ab12", "ab13"),
            ..good.clone()
        },
        Checkpoint {
            at: at() + chrono::TimeDelta::microseconds(1),
            ..good.clone()
        },
        Checkpoint {
            signature: "not base64!".into(),
            ..good.clone()
        },
        Checkpoint {
            signature: STANDARD.encode([0u8; 64]),
            ..good
        },
    ];
    for checkpoint in altered {
        let problem = check_signature(&public, &checkpoint).unwrap_err();
        assert_eq!(problem.kind, ProblemKind::BadSignature, "{checkpoint:?}");
    }
}

#[test]
fn the_canonical_message_is_domain_separated_and_delimited() {
    let message = canonical_message(7, HASH, at(), "0011223344556677");
    assert!(
        message
            .windows(SIGNING_DOMAIN.len())
            .any(|w| w == SIGNING_DOMAIN.as_bytes())
    );
    // Exactly these bytes: a verifier outside Latch rebuilds them from the documented layout.
    let mut expected = Vec::new();
    for field in [
        SIGNING_DOMAIN,
        "0011223344556677",
        "7",
        HASH,
        "2023-11-14T22:13:20.123456Z",
    ] {
        expected.extend_from_slice(&(field.len() as u64).to_be_bytes());
        expected.extend_from_slice(field.as_bytes());
    }
    assert_eq!(message, expected);
    // Moving a digit from the sequence into the key id changes the message.
    assert_ne!(
        canonical_message(17, HASH, at(), "001122334455667"),
        canonical_message(7, HASH, at(), "0011223344556671")
    );
}

#[test]
fn a_seed_must_be_32_bytes_of_base64_and_debug_hides_it() {
    assert!(AuditSigningKey::from_base64("c2hvcnQ=").is_err());
    assert!(AuditSigningKey::from_base64("%%%").is_err());
    let seed = STANDARD.encode([9u8; 32]);
    let loaded = AuditSigningKey::from_base64(&seed).unwrap();
    assert_eq!(loaded.public_key(), key(9).public_key());
    let shown = format!("{loaded:?}");
    assert!(!shown.contains(&seed) && shown.contains(&loaded.key_id()), "{shown}");
}

#[test]
fn the_check_finds_rewrites_truncation_and_forgeries() {
    let signer = key(1);
    let public = signer.public_key();
    let forged = Checkpoint {
        signature: key(1).sign(3, "ffff", at()).signature,
        ..signer.sign(3, HASH, at())
    };
    let checkpoints = vec![
        signer.sign(2, "hash-2", at()),
        signer.sign(4, "hash-4", at()),
        signer.sign(9, "hash-9", at()),
        forged,
    ];
    let mut check = CheckpointCheck::new(&public, checkpoints);
    for (sequence, hash) in [(1, "hash-1"), (2, "hash-2"), (3, "x"), (4, "rewritten"), (5, "hash-5")] {
        check.observe(sequence, hash);
    }
    let check = check.finish(5, true);
    assert_eq!(check.verified, 1);
    let found: Vec<(i64, ProblemKind)> = check.problems.iter().map(|p| (p.sequence, p.kind)).collect();
    assert_eq!(
        found,
        vec![
            (3, ProblemKind::BadSignature),
            (4, ProblemKind::HeadMismatch),
            (9, ProblemKind::BeyondChain)
        ]
    );
    assert!(
        check.problems[2].reason.contains("ends at 5"),
        "{:?}",
        check.problems[2]
    );
}

#[test]
fn a_broken_chain_does_not_also_report_unreached_checkpoints() {
    let signer = key(1);
    let check = CheckpointCheck::new(&signer.public_key(), vec![signer.sign(9, "h", at())]).finish(4, false);
    assert!(check.problems.is_empty());
    assert_eq!(check.verified, 0);
}
