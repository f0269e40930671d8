//! The audit trail end to end: an automatic flow granting and revoking as SCIM changes
//! membership is all recorded, verifies, exports through the CLI, names a tampered link, and is
//! readable by admins and auditors only.

use std::collections::BTreeSet;
use std::time::Duration;

use latch_proto::request::v1 as pb;
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::automatic::{ONCALL_PROD_READ, wait_live};
use crate::cli::{Cli, stderr, stdout};
use crate::harness::{ADMIN_TOKEN, AuditClient, TestServer};
use crate::request_support::{Scripted, create_flow, integration, make_auditor, person};
use crate::scim::Scim;

pub async fn all_events(audit: &mut AuditClient, filter: pb::AuditFilter) -> Vec<pb::AuditEvent> {
    let mut events = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = audit
            .list_audit_events(pb::ListAuditEventsRequest {
                filter: Some(filter.clone()),
                page_size: 7,
                page_token,
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

pub async fn verify(audit: &mut AuditClient) -> pb::VerifyAuditLogResponse {
    audit
        .verify_audit_log(pb::VerifyAuditLogRequest::default())
        .await
        .expect("verify")
        .into_inner()
}

#[tokio::test]
async fn the_trail_shows_an_automatic_flow_at_work_verifies_exports_and_names_a_tampered_link() {
    let connector = Scripted::new();
    let server = TestServer::start_with_connectors(vec![connector.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    let scim = Scim::new(&server).await;
    let (ann_id, group_id) = crate::automatic::ann_on_call(&scim).await;
    create_flow(&server, ONCALL_PROD_READ).await;
    let tables = ["orders", "customers", "invoices"];
    let everything: BTreeSet<_> = tables
        .iter()
        .map(|t| (format!("table:orders-prod/{t}"), "read".to_string()))
        .collect();
    wait_live(&connector, "ann@x.io", &everything).await;
    scim.patch(
        &format!("/Groups/{group_id}"),
        json!([{ "op": "remove", "path": format!("members[value eq \"{ann_id}\"]") }]),
    )
    .await;
    wait_live(&connector, "ann@x.io", &BTreeSet::new()).await;

    // Everything is recorded and sealed within moments (admin changes of the other contexts
    // arrive from their outboxes at the follow interval).
    let mut audit = server.audit_with(Some(ADMIN_TOKEN)).await;
    let mut events = Vec::new();
    for _ in 0..400 {
        events = all_events(&mut audit, pb::AuditFilter::default()).await;
        let ended = events
            .iter()
            .any(|e| e.action == "request.ended" && e.grantee == ann_id);
        let admin_changes = ["token.created", "integration.created", "flow.created"]
            .iter()
            .all(|action| events.iter().any(|e| e.action == *action));
        if ended && admin_changes && events.iter().all(|e| e.sequence > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let actions: BTreeSet<&str> = events.iter().map(|e| e.action.as_str()).collect();
    for expected in [
        "token.created",
        "integration.created",
        "identity.user_upserted",
        "identity.group_upserted",
        "identity.member_added",
        "identity.member_removed",
        "flow.created",
        "request.submitted",
        "request.approved",
        "request.granted",
        "request.revoking",
        "request.ended",
    ] {
        assert!(actions.contains(expected), "{expected} missing from {actions:?}");
    }
    let sequences: Vec<i64> = events.iter().map(|e| e.sequence).collect();
    assert!(sequences.iter().all(|s| *s > 0), "all sealed: {sequences:?}");
    let granted = events.iter().find(|e| e.action == "request.granted").unwrap();
    assert_eq!(granted.grantee, ann_id);
    assert_eq!(granted.flow, "on-call reads production");
    assert_eq!(granted.before, r#"{"state":"granting"}"#);
    assert_eq!(granted.after, r#"{"state":"active"}"#);
    let flow_created = events.iter().find(|e| e.action == "flow.created").unwrap();
    assert!(
        flow_created.source.starts_with("grpc 127.0.0.1:"),
        "{}",
        flow_created.source
    );
    assert!(
        flow_created.after.contains("on-call"),
        "the flow as created: {}",
        flow_created.after
    );
    let removed = events.iter().find(|e| e.action == "identity.member_removed").unwrap();
    assert!(
        removed.actor.starts_with("scim:tokens/"),
        "the IdP token acted: {}",
        removed.actor
    );

    // Queries: by grantee name, by resource, by type prefix, by time range.
    let ann_events = all_events(
        &mut audit,
        pb::AuditFilter {
            grantee: "ann@x.io".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(ann_events.iter().all(|e| e.grantee == ann_id));
    assert!(ann_events.iter().any(|e| e.action == "request.ended"));
    let customers = all_events(
        &mut audit,
        pb::AuditFilter {
            resource: "customers".into(),
            action: "request.".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(customers.iter().any(|e| e.action == "request.granted"), "{customers:?}");
    let requests_only = all_events(
        &mut audit,
        pb::AuditFilter {
            action: "request.".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(requests_only.iter().all(|e| e.action.starts_with("request.")));
    let future = all_events(
        &mut audit,
        pb::AuditFilter {
            from: Some(prost_types::Timestamp {
                seconds: 4_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        },
    )
    .await;
    assert!(future.is_empty());

    // Admins and auditors only.
    let (dora, dora_token) = person(&server, "dora", "Security", "").await;
    let status = server
        .audit_with(Some(&dora_token))
        .await
        .list_audit_events(pb::ListAuditEventsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    make_auditor(&server, &dora.id).await;
    let mut auditor = server.audit_with(Some(&dora_token)).await;
    let mut everything_now = Vec::new();
    for _ in 0..400 {
        everything_now = all_events(&mut auditor, pb::AuditFilter::default()).await;
        if everything_now
            .iter()
            .any(|e| e.action == "token.created" && e.grantee == dora.id)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let token_made = everything_now
        .iter()
        .find(|e| e.action == "token.created" && e.grantee == dora.id)
        .expect("dora's token creation is recorded");
    assert!(token_made.actor.starts_with("users/"));
    assert!(
        !everything_now.iter().any(|e| format!("{e:?}").contains(&dora_token)),
        "token secrets never reach the trail"
    );
    let report = verify(&mut auditor).await;
    assert!(report.intact, "{report:?}");
    assert!(report.verified >= events.len() as i64);

    // Export through the CLI, in both formats.
    let cli = Cli::new(&server);
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("audit.jsonl");
    let out = cli
        .run(
            Some(&dora_token),
            &[
                "audit",
                "export",
                "--from",
                "2000-01-01",
                "--format",
                "jsonl",
                "-f",
                jsonl.to_str().unwrap(),
            ],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(
        lines.len() >= events.len(),
        "{} lines for {} events",
        lines.len(),
        events.len()
    );
    assert!(
        lines
            .iter()
            .any(|l| l["action"] == "request.ended" && l["grantee"] == ann_id.as_str())
    );
    let out = cli
        .run(Some(&dora_token), &["audit", "export", "--format", "csv"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let csv = stdout(&out);
    assert!(csv.starts_with("sequence,id,time,actor,action"), "{csv}");
    assert!(csv.lines().count() > events.len());
    let out = cli.run(Some(&dora_token), &["audit", "verify"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("intact:"), "{}", stdout(&out));

    // Someone edits a sealed event in the database: verify names it.
    let db = server.request_database().await;
    crate::audit_checkpoints::lift_append_only(&db).await;
    db.execute_unprepared("UPDATE audit_events SET detail = 'nothing happened' WHERE sequence = 5")
        .await
        .unwrap();
    let report = verify(&mut audit).await;
    assert!(!report.intact);
    assert_eq!(report.first_broken_sequence, 5, "{report:?}");
    assert_eq!(report.verified, 4);
    let out = cli.run(Some(ADMIN_TOKEN), &["audit", "verify"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("BROKEN at sequence 5"), "{}", stdout(&out));
}

#[tokio::test]
async fn a_retention_shorter_than_36_months_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = latch_runtime::LatchConfig {
        data_dir: dir.path().to_path_buf(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    config.audit.retention_months = 12;
    let error = latchd::App::build(config, latchd::AppOptions::default())
        .await
        .err()
        .expect("refused");
    let text = format!("{error:#}");
    assert!(text.contains("audit.retention_months") && text.contains("36"), "{text}");
}
