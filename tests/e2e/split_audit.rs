//! Audit is exact across processes: admin changes that land in identity, catalog and flow while
//! the request process (which keeps the audit log) is down, each process killed with SIGKILL
//! right after its call returned, all reach the log exactly once after a restart, and the
//! chain verifies.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use latch_proto::catalog::v1 as catalog;
use latch_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use latch_proto::flow::v1 as flow;
use latch_proto::flow::v1::flow_service_client::FlowServiceClient;
use latch_proto::identity::v1 as identity;
use latch_proto::identity::v1::identity_service_client::IdentityServiceClient;
use latch_proto::request::v1 as pb;
use latch_proto::request::v1::audit_service_client::AuditServiceClient;

use crate::audit::{all_events, verify};
use crate::harness::{ADMIN_TOKEN, Bearer};
use crate::split_harness::{CONTEXTS, SplitDeployment, channel};

const FLOW: &str = r#"
name: orders read
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: demo, resource_type: table, permissions: [read] }
grant_for: { custom: 2h }
"#;

/// How many times each (action, subject) is in the log.
fn counts(events: &[pb::AuditEvent]) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for event in events {
        *counts.entry((event.action.clone(), event.subject.clone())).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_changes_made_while_the_audit_log_is_down_survive_kill_9_of_every_process() {
    let mut deployment = SplitDeployment::start().await;
    let gateway = deployment.gateway();
    let admin = Bearer::token(ADMIN_TOKEN);

    // The audit log is gone; the admin changes still succeed, each in its own context.
    deployment.kill("request");
    let integration = CatalogServiceClient::with_interceptor(channel(gateway), admin.clone())
        .create_integration(catalog::CreateIntegrationRequest {
            integration: Some(catalog::Integration {
                display_name: "demo".into(),
                connector: "demo".into(),
                config: HashMap::from([("latency_ms".into(), "0".into())]),
                ..Default::default()
            }),
            secrets: HashMap::from([("api_key".into(), "s3cr3t-demo-key".into())]),
            request_id: String::new(),
        })
        .await
        .expect("create integration")
        .into_inner();
    deployment.kill("catalog");
    deployment.start_process("catalog").await;
    let created_flow = FlowServiceClient::with_interceptor(channel(gateway), admin.clone())
        .create_flow(flow::CreateFlowRequest {
            definition: FLOW.into(),
            ..Default::default()
        })
        .await
        .expect("create flow")
        .into_inner();
    deployment.kill("flow");
    let mut people = IdentityServiceClient::with_interceptor(channel(gateway), admin.clone());
    let token = people
        .create_token(identity::CreateTokenRequest {
            description: "outbox test".into(),
            ..Default::default()
        })
        .await
        .expect("create token")
        .into_inner()
        .token
        .expect("token");
    people
        .revoke_token(identity::RevokeTokenRequest { id: token.id.clone() })
        .await
        .expect("revoke token");
    deployment.kill("identity");

    // Everything starts again; the log pulls what the outboxes kept.
    deployment.kill("catalog");
    for name in CONTEXTS {
        deployment.start_process(name).await;
    }
    let expected = [
        ("integration.created", format!("integrations/{}", integration.id)),
        ("flow.created", format!("flows/{}", created_flow.id)),
        ("token.created", format!("tokens/{}", token.id)),
        ("token.revoked", format!("tokens/{}", token.id)),
    ];
    let mut audit = AuditServiceClient::with_interceptor(channel(gateway), admin.clone());
    let started = Instant::now();
    let events = loop {
        let events = all_events(&mut audit, pb::AuditFilter::default()).await;
        let found = counts(&events);
        let all_there = expected
            .iter()
            .all(|(action, subject)| found.contains_key(&(action.to_string(), subject.clone())));
        if all_there && events.iter().all(|e| e.sequence > 0) {
            break events;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not all in the log: {found:?}\n{}",
            deployment.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let found = counts(&events);
    for (action, subject) in &expected {
        assert_eq!(
            found[&(action.to_string(), subject.clone())],
            1,
            "{action} {subject}: {found:?}"
        );
    }
    let report = verify(&mut audit).await;
    assert!(
        report.intact,
        "{report:?} (on {}):\n{}",
        if deployment.database_url.is_empty() {
            "SQLite"
        } else {
            "PostgreSQL"
        },
        deployment.process("request").log_tail()
    );

    // The request process dies and comes back: the cursors hold, nothing is copied twice.
    deployment.kill("request");
    deployment.start_process("request").await;
    let mut audit = AuditServiceClient::with_interceptor(channel(gateway), admin);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = counts(&all_events(&mut audit, pb::AuditFilter::default()).await);
    for (action, subject) in &expected {
        assert_eq!(
            again[&(action.to_string(), subject.clone())],
            1,
            "{action} {subject}: {again:?}"
        );
    }
    assert!(verify(&mut audit).await.intact);
}
