//! Break-glass post-use review: access at once, reviewers reminded until someone other than
//! the user signs off or flags the use, the verdict in the history and the audit trail.

use chrono::TimeDelta;
use latch_proto::request::v1 as pb;
use latch_runtime::config::WebhookConfig;

use crate::cli::{Cli, stderr, stdout};
use crate::harness::{ADMIN_TOKEN, TestServer};
use crate::notifications::{SECRET, start_receiver};
use crate::request_support::{Scripted, ask, create_flow, get, integration, item, make_auditor, person, wait_states};

const BREAK_GLASS: &str = r#"
name: break glass orders
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: shop, resource_type: table, permissions: [write], mode: include, tags: [{ key: env, values: [prod] }] }
grant_for: { custom: 1h }
settings: { require_justification: true, post_use_review: true }
"#;

#[tokio::test]
async fn break_glass_use_is_granted_at_once_then_reviewed_and_reminded_until_someone_does() {
    let (addr, receiver) = start_receiver(0).await;
    let server = TestServer::start_fresh(vec![Scripted::new()], |config| {
        config.notifications.webhooks = vec![WebhookConfig {
            name: "sec".into(),
            url: format!("http://{addr}/generic"),
            secret: SECRET.into(),
            format: "generic".into(),
            events: vec!["review_required".into()],
        }];
    })
    .await;
    integration(&server, "shop", "scripted", &[]).await;
    create_flow(&server, BREAK_GLASS).await;
    let (dora, dora_token) = person(&server, "dora", "Security", "").await;
    make_auditor(&server, &dora.id).await;
    let (_ada, ada_token) = person(&server, "ada", "Engineering", "").await;
    let mut ada = server.requests_with(Some(&ada_token)).await;
    let mut asked = ask(vec![item("shop", "table:orders-prod/orders", "write")], "30m");
    asked.justification = "INC-9 payments down".into();
    let request = ada.submit_request(asked).await.unwrap().into_inner();
    wait_states(&server, &mut ada, std::slice::from_ref(&request.id), &["active"]).await;

    // Reviewers are told at once: admins and auditors, not the user.
    let told = receiver
        .wait_for(&server, "generic", "review_required", TimeDelta::zero())
        .await;
    let names: Vec<&str> = told["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["user_name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"dora") && names.contains(&"admin") && !names.contains(&"ada"),
        "{names:?}"
    );
    assert!(told["text"].as_str().unwrap().contains("break-glass"), "{told}");

    let cli = Cli::new(&server);
    let out = cli.run(Some(&dora_token), &["reviews", "list", "-o", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let pending: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(pending[0]["request_id"], request.id.as_str());
    assert_eq!(pending[0]["grantee"], "ada");
    assert_eq!(pending[0]["justification"], "INC-9 payments down");
    let out = cli.run(Some(&ada_token), &["reviews", "approve", &request.id]).await;
    assert_eq!(
        out.status.code(),
        Some(6),
        "ada reviews nothing, least of all her own use"
    );

    // Unreviewed a day later: reminded again.
    server.clock.advance(TimeDelta::hours(24) + TimeDelta::seconds(1));
    let mut reminders = 0;
    for _ in 0..200 {
        reminders = receiver
            .all()
            .iter()
            .filter(|r| r.ok && r.headers["x-latch-event"] == "review_required")
            .count();
        if reminders >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(reminders, 2, "reminded again after a day");

    // Flagging needs a reason; then the verdict stands and the reminders stop.
    let out = cli
        .run(Some(&dora_token), &["reviews", "flag", &request.id, "--note", ""])
        .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = cli
        .run(
            Some(&dora_token),
            &["reviews", "flag", &request.id, "--note", "no incident INC-9 exists"],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("flagged"));
    let out = cli.run(Some(ADMIN_TOKEN), &["reviews", "approve", &request.id]).await;
    assert_eq!(out.status.code(), Some(5), "already reviewed: {}", stderr(&out));
    let shown = get(&mut ada, &request.id).await;
    let flagged = shown
        .history
        .iter()
        .find(|e| e.kind == "review_flagged")
        .expect("in the history");
    assert!(flagged.detail.contains("no incident INC-9 exists"));
    let audit = server
        .audit_with(Some(&dora_token))
        .await
        .list_audit_events(pb::ListAuditEventsRequest {
            filter: Some(pb::AuditFilter {
                action: "request.review_flagged".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, format!("users/{}", dora.id));
    server.clock.advance(TimeDelta::hours(25));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let after = receiver
        .all()
        .iter()
        .filter(|r| r.headers["x-latch-event"] == "review_required")
        .count();
    assert_eq!(after, 2, "no reminders once reviewed");
}
