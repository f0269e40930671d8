//! Webhook notifications against a real HTTP receiver: signed bodies, a Slack/Teams text
//! format and the generic JSON, retries after a failing answer, and the delivery log.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::TimeDelta;
use hmac::{Hmac, Mac};
use latch_proto::request::v1 as pb;
use latch_runtime::config::WebhookConfig;
use sha2::Sha256;

use crate::harness::{ADMIN_TOKEN, TestServer};
use crate::request_support::{Scripted, ask, create_flow, integration, item, person, wait_states};

pub const SECRET: &str = "whsec-0123456789abcdef";

const MANAGER_APPROVES: &str = r#"
name: orders manager approves
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: shop, resource_type: table, permissions: [read], mode: include, tags: [{ key: env, values: [prod] }] }
grant_for: { custom: 2h }
approval: { approval_of: { groups: [ { rows: [ manager ] } ] } }
"#;

#[derive(Debug, Clone)]
pub struct Received {
    pub sink: String,
    pub headers: HeaderMap,
    pub body: String,
    /// Whether the receiver answered OK.
    pub ok: bool,
}

/// A webhook receiver on loopback that records everything and fails the first answers to
/// `/generic` on request.
#[derive(Clone, Default)]
pub struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    fail_generic: Arc<AtomicUsize>,
}

async fn receive(
    State(receiver): State<Receiver>,
    Path(sink): Path<String>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let failing = sink == "generic"
        && receiver
            .fail_generic
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    receiver.got.lock().unwrap().push(Received {
        sink: sink.clone(),
        headers,
        body,
        ok: !failing,
    });
    if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

pub async fn start_receiver(fail_generic: usize) -> (SocketAddr, Receiver) {
    let receiver = Receiver::default();
    receiver.fail_generic.store(fail_generic, Ordering::SeqCst);
    let app = axum::Router::new()
        .route("/{sink}", axum::routing::post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, receiver)
}

impl Receiver {
    pub fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (moving the server's clock by `step` each round, so retries come due) until a
    /// delivery to `sink` of `event` was answered OK, and returns its JSON.
    pub async fn wait_for(&self, server: &TestServer, sink: &str, event: &str, step: TimeDelta) -> serde_json::Value {
        for _ in 0..300 {
            let found = self
                .all()
                .into_iter()
                .find(|r| r.ok && r.sink == sink && r.headers["x-latch-event"] == event);
            if let Some(delivered) = found {
                return serde_json::from_str(&delivered.body).unwrap();
            }
            server.clock.advance(step);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no {event} delivered to {sink}: {:?}", self.all());
    }
}

fn signature_holds(received: &Received) -> bool {
    let timestamp = received.headers["x-latch-timestamp"].to_str().unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{}", received.body).as_bytes());
    let expected = format!(
        "sha256={}",
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    received.headers["x-latch-signature"] == expected.as_str()
}

#[tokio::test]
async fn approvers_requesters_and_grantees_hear_signed_and_retried_webhooks() {
    let (addr, receiver) = start_receiver(1).await;
    let connector = Scripted::new();
    let server = TestServer::start_fresh(vec![connector.clone()], |config| {
        config.notifications.webhooks = vec![
            WebhookConfig {
                name: "ops".into(),
                url: format!("http://{addr}/generic"),
                secret: SECRET.into(),
                format: "generic".into(),
                events: Vec::new(),
            },
            WebhookConfig {
                name: "chat".into(),
                url: format!("http://{addr}/slack"),
                secret: SECRET.into(),
                format: "slack".into(),
                events: vec!["approval_requested".into()],
            },
        ];
        config.notifications.expiry_lead_minutes = 15;
    })
    .await;
    integration(&server, "shop", "scripted", &[]).await;
    create_flow(&server, MANAGER_APPROVES).await;
    let (boss, boss_token) = person(&server, "boss", "Engineering", "").await;
    let (_ada, ada_token) = person(&server, "ada", "Engineering", &boss.id).await;
    let mut as_ada = server.requests_with(Some(&ada_token)).await;
    let mut asked = ask(vec![item("shop", "table:orders-prod/orders", "read")], "1h");
    asked.justification = "INC-42 refunds stuck".into();
    let request = as_ada.submit_request(asked).await.unwrap().into_inner();

    // The approver hears of it, in Slack's shape and in the generic one (after a retry).
    let slack = receiver
        .wait_for(&server, "slack", "approval_requested", TimeDelta::zero())
        .await;
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.contains("ada asks for shop/orders:read for 1h") && text.contains("boss") && text.contains("INC-42"),
        "{text}"
    );
    assert_eq!(
        slack.as_object().unwrap().len(),
        1,
        "Slack and Teams take a bare text message"
    );
    let generic = receiver
        .wait_for(&server, "generic", "approval_requested", TimeDelta::seconds(1))
        .await;
    assert_eq!(generic["event"], "approval_requested");
    assert_eq!(generic["request"]["id"], request.id.as_str());
    assert_eq!(generic["recipients"][0]["user_name"], "boss");
    let attempts: Vec<Received> = receiver
        .all()
        .into_iter()
        .filter(|r| r.sink == "generic" && r.headers["x-latch-event"] == "approval_requested")
        .collect();
    assert_eq!(attempts.len(), 2, "one failed answer, one retry");
    assert_eq!(
        attempts[0].headers["x-latch-delivery"], attempts[1].headers["x-latch-delivery"],
        "a retry is the same notification"
    );

    // Approved: the requester hears; granted, then warned before the end, then expired.
    server
        .requests_with(Some(&boss_token))
        .await
        .approve_request(pb::DecideRequest {
            id: request.id.clone(),
            reason: String::new(),
        })
        .await
        .expect("boss approves");
    let approved = receiver
        .wait_for(&server, "generic", "approved", TimeDelta::zero())
        .await;
    assert_eq!(approved["recipients"][0]["user_name"], "ada");
    wait_states(&server, &mut as_ada, std::slice::from_ref(&request.id), &["active"]).await;
    receiver
        .wait_for(&server, "generic", "granted", TimeDelta::zero())
        .await;
    server.clock.advance(TimeDelta::minutes(44));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !receiver.all().iter().any(|r| r.headers["x-latch-event"] == "expiring"),
        "not warned before the lead time"
    );
    let expiring = receiver
        .wait_for(&server, "generic", "expiring", TimeDelta::seconds(10))
        .await;
    assert!(expiring["text"].as_str().unwrap().contains("ends at"), "{expiring}");
    let expired = receiver
        .wait_for(&server, "generic", "expired", TimeDelta::minutes(1))
        .await;
    assert_eq!(expired["recipients"][0]["user_name"], "ada");
    assert!(
        receiver
            .all()
            .iter()
            .all(|r| r.sink != "slack" || r.headers["x-latch-event"] == "approval_requested")
    );

    // Every body is signed with the sink's secret over timestamp and body.
    let all = receiver.all();
    assert!(all.len() >= 6);
    assert!(all.iter().all(signature_holds), "every delivery is signed");

    // The delivery log shows the failed attempt and its retry.
    let log = server
        .requests_with(Some(ADMIN_TOKEN))
        .await
        .list_webhook_deliveries(pb::ListWebhookDeliveriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    let first: Vec<_> = log
        .iter()
        .filter(|d| d.sink == "ops" && d.event == "approval_requested")
        .collect();
    assert_eq!(first.len(), 2, "{log:?}");
    assert!(
        first
            .iter()
            .any(|d| d.status == 500 && d.attempt == 1 && d.error.contains("500"))
    );
    assert!(
        first
            .iter()
            .any(|d| d.status == 200 && d.attempt == 2 && d.error.is_empty())
    );
    let status = server
        .requests_with(Some(&ada_token))
        .await
        .list_webhook_deliveries(pb::ListWebhookDeliveriesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
}

#[tokio::test]
async fn a_bad_webhook_configuration_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = latch_runtime::LatchConfig {
        data_dir: dir.path().to_path_buf(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    config.notifications.webhooks = vec![WebhookConfig {
        name: "chat".into(),
        url: "https://hooks.example.com/x".into(),
        secret: "short".into(),
        format: "slack".into(),
        events: Vec::new(),
    }];
    let error = latchd::App::build(config, latchd::AppOptions::default())
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{error:#}").contains("notifications.webhooks[0].secret"),
        "{error:#}"
    );
}
