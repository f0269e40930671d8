//! Signed checkpoints of the audit chain: what someone with write access to the database can
//! do to the log (cut its end off, rewrite it with every hash recomputed, forge a checkpoint)
//! is found by `latch audit verify --checkpoints`; and the audit tables refuse UPDATE and
//! DELETE through the service's own connection.

use std::time::Duration;

use latch_proto::request::v1 as pb;
use latch_request::domain::audit::{AuditEvent, GENESIS, seal};
use latch_request::domain::checkpoint::AuditSigningKey;
use latch_runtime::database::statement;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};

use crate::cli::{Cli, stderr, stdout};
use crate::harness::{ADMIN_TOKEN, AuditClient, TestServer};
use crate::request_support::person;

/// Lifts the append-only guard the way an attacker who owns the tables would, to tamper.
pub async fn lift_append_only(db: &DatabaseConnection) {
    let statements: &[&str] = if db.get_database_backend() == DbBackend::Postgres {
        &[
            "ALTER TABLE audit_events DISABLE TRIGGER USER",
            "ALTER TABLE audit_checkpoints DISABLE TRIGGER USER",
        ]
    } else {
        &[
            "DROP TRIGGER audit_events_no_delete",
            "DROP TRIGGER audit_events_seal_only",
            "DROP TRIGGER audit_checkpoints_no_update",
            "DROP TRIGGER audit_checkpoints_no_delete",
        ]
    };
    for sql in statements {
        db.execute_unprepared(sql).await.expect("lift the guard");
    }
}

async fn all_events(audit: &mut AuditClient) -> Vec<pb::AuditEvent> {
    let mut events = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = audit
            .list_audit_events(pb::ListAuditEventsRequest {
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await
            .expect("list audit events")
            .into_inner();
        events.extend(page.events);
        if page.next_page_token.is_empty() {
            return events;
        }
        page_token = page.next_page_token;
    }
}

async fn verify(audit: &mut AuditClient, checkpoints: bool) -> pb::VerifyAuditLogResponse {
    audit
        .verify_audit_log(pb::VerifyAuditLogRequest {
            checkpoints,
            kept_checkpoints: Vec::new(),
        })
        .await
        .expect("verify")
        .into_inner()
}

/// A server whose log holds a few people's creation, every event sealed and nothing more on
/// the way, and an export (with its trailing checkpoint) kept in a file.
struct Sealed {
    server: TestServer,
    audit: AuditClient,
    cli: Cli,
    /// The head the export signed.
    head: i64,
    export: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn sealed_log() -> Sealed {
    let server = TestServer::start().await;
    let mut last_user = String::new();
    for name in ["ann", "ben", "cat"] {
        last_user = person(&server, name, "Security", "").await.0.id;
    }
    let mut audit = server.audit_with(Some(ADMIN_TOKEN)).await;
    // Directory changes arrive from identity's feed: wait until the last one is in, all are
    // sealed and no more arrive.
    let mut seen = 0;
    let mut stable = 0;
    for _ in 0..400 {
        let events = all_events(&mut audit).await;
        let complete = events
            .iter()
            .any(|e| e.action == "identity.user_upserted" && e.grantee == last_user)
            && events.iter().all(|e| e.sequence > 0);
        stable = if complete && events.len() == seen {
            stable + 1
        } else {
            0
        };
        seen = events.len();
        if stable >= 12 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(stable >= 12 && seen >= 6, "the log settles: {seen} events");
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("audit.jsonl");
    let cli = Cli::new(&server);
    let out = cli
        .run(Some(ADMIN_TOKEN), &["audit", "export", "-f", export.to_str().unwrap()])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&export).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (checkpoint, events) = lines.split_last().expect("an export with a checkpoint");
    let checkpoint = &checkpoint["checkpoint"];
    let head = checkpoint["sequence"]
        .as_i64()
        .expect("the export ends with a checkpoint");
    // An unfiltered export is the chain up to the checkpoint it ends with.
    assert_eq!(events.len() as i64, head);
    assert_eq!(events.last().unwrap()["hash"], checkpoint["head_hash"]);
    assert_eq!(checkpoint["algorithm"], "ed25519");
    Sealed {
        server,
        audit,
        cli,
        head,
        export,
        _dir: dir,
    }
}

#[tokio::test]
async fn a_log_cut_short_is_found_by_its_checkpoints_and_by_a_kept_one_when_those_are_gone_too() {
    let Sealed {
        server,
        mut audit,
        cli,
        head,
        export,
        _dir,
    } = sealed_log().await;
    let report = verify(&mut audit, true).await;
    assert!(report.intact, "{report:?}");
    assert!(report.checkpoints_verified >= 1);
    assert_eq!(report.latest_checkpoint_sequence, head);
    let out = cli.run(Some(ADMIN_TOKEN), &["audit", "verify", "--checkpoints"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let key = audit
        .get_audit_signing_key(pb::GetAuditSigningKeyRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(stdout(&out).contains(&key.public_key), "{}", stdout(&out));
    let out = cli.run(Some(ADMIN_TOKEN), &["audit", "public-key"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(&key.public_key) && stdout(&out).contains(&key.key_id));

    // A CSV export ends with the same checkpoint, as a record a kept copy can be checked by.
    let csv = _dir.path().join("audit.csv");
    let out = cli
        .run(
            Some(ADMIN_TOKEN),
            &["audit", "export", "--format", "csv", "-f", csv.to_str().unwrap()],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.lines().last().unwrap().starts_with(&format!("{head},,")), "{text}");
    let out = cli
        .run(
            Some(ADMIN_TOKEN),
            &["audit", "verify", "--checkpoint-file", csv.to_str().unwrap()],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("intact:"), "{}", stdout(&out));

    // Someone with write access deletes the last three events.
    let db = server.request_database().await;
    lift_append_only(&db).await;
    db.execute_raw(statement(
        db.get_database_backend(),
        "DELETE FROM audit_events WHERE sequence > ?",
        vec![(head - 3).into()],
    ))
    .await
    .unwrap();
    // The hash chain alone cannot see it: what is left is a valid chain.
    assert!(verify(&mut audit, false).await.intact);
    let report = verify(&mut audit, true).await;
    assert!(!report.intact, "{report:?}");
    let truncated = report
        .checkpoint_problems
        .iter()
        .find(|p| p.kind == pb::CheckpointProblemKind::Truncated as i32)
        .expect("truncation reported");
    assert_eq!(truncated.sequence, head);
    assert!(
        truncated.reason.contains(&format!("ends at {}", head - 3)),
        "{truncated:?}"
    );
    let out = cli.run(Some(ADMIN_TOKEN), &["audit", "verify", "--checkpoints"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(&format!("CHECKPOINT TRUNCATED at sequence {head}")),
        "{}",
        stdout(&out)
    );

    // They remove the checkpoints past the new end as well: the stored ones now agree, but
    // the checkpoint the operator kept from the export does not.
    db.execute_raw(statement(
        db.get_database_backend(),
        "DELETE FROM audit_checkpoints WHERE sequence > ?",
        vec![(head - 3).into()],
    ))
    .await
    .unwrap();
    assert!(verify(&mut audit, true).await.intact, "the residual risk");
    let out = cli
        .run(
            Some(ADMIN_TOKEN),
            &["audit", "verify", "--checkpoint-file", export.to_str().unwrap()],
        )
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(&format!("CHECKPOINT TRUNCATED at sequence {head}")),
        "{}",
        stdout(&out)
    );
    // A file without a checkpoint is refused, naming the file.
    let junk = _dir.path().join("junk.txt");
    std::fs::write(&junk, "hello\n").unwrap();
    let out = cli
        .run(
            Some(ADMIN_TOKEN),
            &["audit", "verify", "--checkpoint-file", junk.to_str().unwrap()],
        )
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("junk.txt: no checkpoint found"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_log_rewritten_with_every_hash_recomputed_fails_its_checkpoints() {
    let Sealed {
        server,
        mut audit,
        cli,
        head,
        ..
    } = sealed_log().await;
    let db = server.request_database().await;
    lift_append_only(&db).await;
    // Change the second event and recompute every hash from there on, as an attacker would.
    let events = latch_request::store::audit::sealed_after(&db, 0, 10_000).await.unwrap();
    let mut previous = (0, GENESIS.to_string());
    for mut event in events
        .into_iter()
        .map(|e: AuditEvent| AuditEvent { sequence: None, ..e })
    {
        if previous.0 == 1 {
            event.detail = "nothing happened".into();
        }
        seal(&mut event, previous.0, &previous.1);
        db.execute_raw(statement(
            db.get_database_backend(),
            "UPDATE audit_events SET detail = ?, previous_hash = ?, hash = ? WHERE id = ?",
            vec![
                event.detail.clone().into(),
                event.previous_hash.clone().into(),
                event.hash.clone().into(),
                event.id.clone().into(),
            ],
        ))
        .await
        .unwrap();
        previous = (event.sequence.unwrap(), event.hash);
    }
    assert_eq!(previous.0, head);
    assert!(verify(&mut audit, false).await.intact, "the chain alone is fooled");
    let report = verify(&mut audit, true).await;
    assert!(!report.intact);
    let kinds: Vec<(i64, i32)> = report
        .checkpoint_problems
        .iter()
        .map(|p| (p.sequence, p.kind))
        .collect();
    assert!(
        kinds.contains(&(head, pb::CheckpointProblemKind::HeadMismatch as i32)),
        "{kinds:?}"
    );
    let out = cli.run(Some(ADMIN_TOKEN), &["audit", "verify", "--checkpoints"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(&format!("CHECKPOINT HEAD MISMATCH at sequence {head}")),
        "{}",
        stdout(&out)
    );
}

#[tokio::test]
async fn a_forged_checkpoint_is_found() {
    let Sealed {
        server,
        mut audit,
        cli,
        head,
        export,
        _dir,
    } = sealed_log().await;
    let key_id = audit
        .get_audit_signing_key(pb::GetAuditSigningKeyRequest {})
        .await
        .unwrap()
        .into_inner()
        .key_id;
    // Signed with the attacker's own key but claiming the server's key id.
    let forged = AuditSigningKey::from_seed(&[66; 32]).sign(head, "f00d", chrono::Utc::now());
    let db = server.request_database().await;
    db.execute_raw(statement(
        db.get_database_backend(),
        "INSERT INTO audit_checkpoints (sequence, head_hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?)",
        vec![
            (head + 10).into(),
            forged.head_hash.clone().into(),
            latch_runtime::database::format_time(forged.at).into(),
            key_id.into(),
            forged.signature.clone().into(),
        ],
    ))
    .await
    .unwrap();
    let report = verify(&mut audit, true).await;
    assert!(!report.intact);
    assert_eq!(report.checkpoint_problems.len(), 1, "{report:?}");
    assert_eq!(
        report.checkpoint_problems[0].kind,
        pb::CheckpointProblemKind::BadSignature as i32
    );
    let out = cli.run(Some(ADMIN_TOKEN), &["audit", "verify", "--checkpoints"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("CHECKPOINT BAD SIGNATURE"), "{}", stdout(&out));

    // A kept checkpoint altered to claim another head fails its signature too.
    let text = std::fs::read_to_string(&export).unwrap();
    let mut last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    last["checkpoint"]["head_hash"] = "0".repeat(64).into();
    std::fs::write(&export, format!("{last}\n")).unwrap();
    let out = cli
        .run(
            Some(ADMIN_TOKEN),
            &[
                "-o",
                "json",
                "audit",
                "verify",
                "--checkpoint-file",
                export.to_str().unwrap(),
            ],
        )
        .await;
    assert_eq!(out.status.code(), Some(1));
    let view: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let kinds: Vec<&str> = view["checkpoints"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["bad_signature", "bad_signature"], "{view}");
}

#[tokio::test]
async fn sealed_audit_rows_and_checkpoints_cannot_be_changed_or_deleted_through_the_service_connection() {
    let Sealed {
        server,
        mut audit,
        head,
        ..
    } = sealed_log().await;
    let db = server.request_database().await;
    let backend = db.get_database_backend();
    let refused = [
        "UPDATE audit_events SET detail = 'nothing happened' WHERE sequence = 2",
        "UPDATE audit_events SET sequence = 99, hash = 'x' WHERE sequence = 2",
        "DELETE FROM audit_events WHERE sequence = 2",
        "DELETE FROM audit_events",
        "UPDATE audit_checkpoints SET head_hash = 'x'",
        "DELETE FROM audit_checkpoints",
    ];
    for sql in refused {
        let error = db.execute_unprepared(sql).await.expect_err(sql).to_string();
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
    if backend == DbBackend::Postgres {
        for sql in ["TRUNCATE audit_events", "TRUNCATE audit_checkpoints"] {
            let error = db.execute_unprepared(sql).await.expect_err(sql).to_string();
            assert!(error.contains("append-only"), "{sql}: {error}");
        }
    }
    // Nothing changed: the chain and its checkpoints still verify, to the same head.
    let report = verify(&mut audit, true).await;
    assert!(report.intact, "{report:?}");
    assert_eq!(report.verified, head);
    assert_eq!(report.latest_checkpoint_sequence, head);
    // Sealing still works: a new event is appended and sealed after the head.
    person(&server, "dan", "Security", "").await;
    let mut sealed_more = false;
    for _ in 0..200 {
        let events = all_events(&mut audit).await;
        if events.iter().all(|e| e.sequence > 0) && events.iter().any(|e| e.sequence > head) {
            sealed_more = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(sealed_more, "events are still sealed");
    assert!(verify(&mut audit, true).await.intact);
}

/// Verifies until nothing waits to be sealed and `done` holds (or about ten seconds passed).
async fn verify_until(
    audit: &mut AuditClient,
    done: impl Fn(&pb::VerifyAuditLogResponse) -> bool,
) -> pb::VerifyAuditLogResponse {
    let mut report = verify(audit, true).await;
    for _ in 0..400 {
        if report.pending == 0 && done(&report) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        report = verify(audit, true).await;
    }
    report
}

#[tokio::test]
async fn the_sealer_signs_checkpoints_every_n_events_and_every_t_minutes() {
    let server = TestServer::start_fresh(Vec::new(), |config| {
        config.audit.checkpoint_every_events = 4;
        config.audit.checkpoint_every_minutes = 10;
    })
    .await;
    let mut audit = server.audit_with(Some(ADMIN_TOKEN)).await;
    let first = verify_until(&mut audit, |r| r.latest_checkpoint_sequence > 0).await;
    assert!(
        first.latest_checkpoint_sequence > 0,
        "the first sealing signs one: {first:?}"
    );
    // People one at a time, each sealed before the next: no export, the sealer alone signs a
    // checkpoint each time 4 events were sealed since the last one.
    for name in ["ann", "ben", "cat", "dan", "eve"] {
        let head = verify_until(&mut audit, |_| true).await.verified;
        person(&server, name, "Security", "").await;
        verify_until(&mut audit, |r| r.verified > head).await;
    }
    let report = verify_until(&mut audit, |r| {
        r.verified >= first.latest_checkpoint_sequence + 8 && r.verified - r.latest_checkpoint_sequence < 4
    })
    .await;
    assert!(report.intact, "{report:?}");
    assert!(report.verified >= first.latest_checkpoint_sequence + 8, "{report:?}");
    assert!(report.checkpoints_verified >= 2, "{report:?}");
    assert!(report.verified - report.latest_checkpoint_sequence < 4, "{report:?}");

    // Fewer than 4 new events: no checkpoint until 10 minutes have passed.
    let before = report.latest_checkpoint_sequence;
    let head = report.verified;
    let mut admin = server.admin().await;
    admin
        .create_token(latch_proto::identity::v1::CreateTokenRequest {
            description: "one more".into(),
            ..Default::default()
        })
        .await
        .expect("create token");
    let report = verify_until(&mut audit, |r| r.verified > head).await;
    assert_eq!(report.latest_checkpoint_sequence, before, "not due yet: {report:?}");
    assert!(report.verified > head);
    server.clock.advance(chrono::TimeDelta::minutes(10));
    let report = verify_until(&mut audit, |r| r.latest_checkpoint_sequence > head).await;
    assert_eq!(
        report.latest_checkpoint_sequence, report.verified,
        "due after 10 minutes: {report:?}"
    );
}

#[tokio::test]
async fn the_signing_key_is_required_with_postgresql_and_intervals_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let base = latch_runtime::LatchConfig {
        data_dir: dir.path().to_path_buf(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        encryption_key: "bGF0Y2gtZTJlLXRlc3Qta2V5LTAxMjM0NTY3ODkwMTI=".into(),
        ..Default::default()
    };
    let refused = |config: latch_runtime::LatchConfig| async move {
        let error = latchd::App::build(config, latchd::AppOptions::default())
            .await
            .err()
            .expect("refused");
        format!("{error:#}")
    };
    let mut postgres = base.clone();
    // Refused before any connection is made, so no server is needed at this address.
    postgres.database_url = "postgres://latch@127.0.0.1:1/latch".into();
    let text = refused(postgres).await;
    assert!(
        text.contains("LATCH_AUDIT__SIGNING_KEY") && text.contains("PostgreSQL"),
        "{text}"
    );
    let mut bad_key = base.clone();
    bad_key.audit.signing_key = "c2hvcnQ=".into();
    let text = refused(bad_key).await;
    assert!(
        text.contains("audit.signing_key") && text.contains("32 bytes"),
        "{text}"
    );
    assert!(!text.contains("c2hvcnQ="), "the key is not echoed: {text}");
    let mut no_interval = base;
    no_interval.audit.checkpoint_every_events = 0;
    let text = refused(no_interval).await;
    assert!(text.contains("audit.checkpoint_every_events"), "{text}");
}
