//! The request context reaches flows only over the `FlowInternal` contract, in this process as
//! well: the contract admits the request service alone, errors keep their meaning across the
//! hop, and each request stores the flow's versioned `ApprovalPolicy` message (while snapshots
//! stored as JSON before still read and drive approval).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latch_proto::flow::v1 as flow;
use latch_proto::flow::v1::flow_internal_client::FlowInternalClient;
use latch_proto::request::v1 as pb;
use latch_runtime::crypto::SecretBox;
use latch_runtime::database::statement;
use latch_runtime::peer::Peer;
use latch_runtime::service_identity::{ServiceKey, ServiceName};
use prost::Message;
use sea_orm::{ConnectionTrait, Statement};
use tonic::Code;

use crate::harness::{ADMIN_TOKEN, ENCRYPTION_KEY, TestServer, violated_fields};
use crate::request_support::{Scripted, ask, create_flow, get, integration, item, person, wait_states};

const MANAGER_APPROVES: &str = r#"
name: orders by the manager
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: shop, resource_type: table, permissions: [read], mode: include, tags: [{ key: env, values: [prod] }] }
grant_for: { custom: 2h }
approval:
  approval_of:
    groups:
      - rows: [ manager ]
"#;

/// A link to the server's flow service as `me`, signed with the server's service key.
fn flow_internal_as(server: &TestServer, me: ServiceName) -> FlowInternalClient<latch_runtime::peer::PeerChannel> {
    let secrets = SecretBox::from_config_or_file(ENCRYPTION_KEY, server.data_dir.path()).expect("secrets");
    let key = ServiceKey::new(secrets.derive_key("service identity"));
    let peer = Peer::remote(
        ServiceName::Flow,
        &format!("http://{}", server.grpc_addr),
        me,
        key,
        &latch_tls::client::TlsConnector::plain(),
    )
    .expect("peer");
    FlowInternalClient::new(peer.channel())
}

#[tokio::test]
async fn flow_internal_refuses_user_tokens_and_other_services() {
    let server = TestServer::start().await;

    // An admin's own token is not a service credential.
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut as_admin = FlowInternalClient::with_interceptor(channel, crate::harness::Bearer::token(ADMIN_TOKEN));
    let status = as_admin
        .get_generation(flow::GetGenerationRequest {})
        .await
        .unwrap_err();
    assert!(
        matches!(status.code(), Code::PermissionDenied | Code::Unauthenticated),
        "{status:?}"
    );
    let status = as_admin
        .decide(flow::DecideRequest {
            actor_user_id: "someone-else".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(status.code(), Code::PermissionDenied | Code::Unauthenticated),
        "a user cannot act for another through the internal contract: {status:?}"
    );

    // Another Latch service, properly signed, is not the request service.
    let status = flow_internal_as(&server, ServiceName::Catalog)
        .get_generation(flow::GetGenerationRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // The request service is admitted.
    flow_internal_as(&server, ServiceName::Request)
        .get_generation(flow::GetGenerationRequest {})
        .await
        .expect("the request service may ask");
}

#[tokio::test]
async fn refusals_keep_their_code_and_fields_across_the_hop() {
    let scripted = Scripted::new();
    let server = TestServer::start_with_connectors(vec![scripted.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    let (_ada, ada_token) = person(&server, "ada", "Engineering", "").await;
    create_flow(&server, MANAGER_APPROVES).await;
    let mut as_ada = server.requests_with(Some(&ada_token)).await;
    let orders = || vec![item("shop", "table:orders-prod/orders", "read")];

    let status = as_ada
        .submit_request(pb::SubmitRequestRequest {
            flow: "no such flow".into(),
            ..ask(orders(), "30m")
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    let status = as_ada
        .submit_request(pb::SubmitRequestRequest {
            flow: "orders by the manager".into(),
            ..ask(orders(), "3h")
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["duration"], "{status:?}");

    let status = as_ada
        .submit_request(pb::SubmitRequestRequest {
            grantee: "nobody-by-that-name".into(),
            ..ask(orders(), "30m")
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["grantee"], "{status:?}");

    let status = as_ada
        .submit_request(ask(vec![item("no-such-integration", "x", "read")], "30m"))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["items[0].integration"], "{status:?}");

    // The contract's own bound on what one decision may name.
    let too_many = flow::DecideRequest {
        actor_user_id: "ada".into(),
        items: vec![
            flow::Item {
                integration: "shop".into(),
                resource_id: "x".into(),
                permission: "read".into(),
            };
            10_001
        ],
        ..Default::default()
    };
    let status = flow_internal_as(&server, ServiceName::Request)
        .decide(too_many)
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["items"], "{status:?}");
}

async fn stored_policy(server: &TestServer, request_id: &str) -> String {
    let db = server.request_database().await;
    let row = db
        .query_one_raw(statement(
            db.get_database_backend(),
            "SELECT policy FROM requests WHERE id = ?",
            vec![request_id.into()],
        ))
        .await
        .unwrap()
        .expect("the request row");
    row.try_get::<String>("", "policy").unwrap()
}

async fn store_policy(server: &TestServer, request_id: &str, policy: &str) {
    let db = server.request_database().await;
    let update: Statement = statement(
        db.get_database_backend(),
        "UPDATE requests SET policy = ? WHERE id = ?",
        vec![policy.into(), request_id.into()],
    );
    db.execute_raw(update).await.unwrap();
}

#[tokio::test]
async fn the_stored_snapshot_is_the_contracts_message_and_an_old_json_one_still_drives_approval() {
    let scripted = Scripted::new();
    let server = TestServer::start_with_connectors(vec![scripted.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    let (boss, boss_token) = person(&server, "boss", "Engineering", "").await;
    let (_ada, ada_token) = person(&server, "ada", "Engineering", &boss.id).await;
    let (dave, dave_token) = person(&server, "dave", "Engineering", "").await;
    let made = create_flow(&server, MANAGER_APPROVES).await;
    let mut as_ada = server.requests_with(Some(&ada_token)).await;
    let mut as_boss = server.requests_with(Some(&boss_token)).await;
    let mut as_dave = server.requests_with(Some(&dave_token)).await;

    let new = as_ada
        .submit_request(ask(vec![item("shop", "table:orders-prod/orders", "read")], "30m"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(new.state, "pending_approval");
    let stored = stored_policy(&server, &new.id).await;
    let message = flow::ApprovalPolicy::decode(STANDARD.decode(&stored).expect("base64").as_slice())
        .expect("the flow contract's ApprovalPolicy");
    assert_eq!(message.schema_version, 1);
    assert_eq!(message.flow_id, made.id);
    assert_eq!(message.flow_name, "orders by the manager");
    assert_eq!(message.approval(), flow::ApprovalKind::Approvers);
    assert_eq!(message.groups.len(), 1);
    assert!(matches!(
        message.groups[0].rows[0].row,
        Some(flow::approver_row::Row::Manager(_))
    ));

    // A request stored before snapshots were the contract's message: the JSON of the policy.
    // It asks for the manager AND dave, which the flow does not: the stored copy rules.
    let old = as_ada
        .submit_request(ask(vec![item("shop", "table:orders-prod/customers", "read")], "30m"))
        .await
        .unwrap()
        .into_inner();
    let json = format!(
        r#"{{"approval":{{"approval_of":{{"groups":[{{"combine":"and","rows":["manager"],"min_approvers":1}},{{"combine":"and","rows":[{{"condition":{{"attribute":"user","operator":"is","values":["{}"]}}}}],"min_approvers":1}}],"across":"all_of"}}}},"settings":{{"require_mfa":false,"require_justification":true,"require_approver_reason":false,"no_self_approval":false,"extensions":null,"require_duration":false}}}}"#,
        dave.id
    );
    store_policy(&server, &old.id, &json).await;

    let decide = |id: &str| pb::DecideRequest {
        id: id.into(),
        reason: "ok".into(),
    };
    let after_boss = as_boss.approve_request(decide(&old.id)).await.unwrap().into_inner();
    assert_eq!(after_boss.state, "pending_approval", "ALL OF still needs dave");
    let waiting = get(&mut as_ada, &old.id).await.waiting;
    assert!(waiting.iter().any(|w| w.contains("dave")), "{waiting:?}");
    as_dave.approve_request(decide(&old.id)).await.unwrap();
    as_boss.approve_request(decide(&new.id)).await.unwrap();
    wait_states(&server, &mut as_ada, &[old.id.clone(), new.id.clone()], &["active"]).await;
    assert_eq!(
        stored_policy(&server, &old.id).await,
        json,
        "an old snapshot is read, never rewritten"
    );
}

#[test]
fn every_approval_rule_and_setting_survives_the_contract() {
    let spec = latch_flow::service::parse_definition(
        r#"
name: everything
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - bundle: analysts
grant_for: { custom: 4h }
approval:
  approval_of:
    across: all_of
    groups:
      - combine: or
        min_approvers: 2
        rows:
          - condition: { attribute: group, operator: is_not, values: [contractors] }
          - condition: { attribute: user, operator: starts_with, values: [ad] }
          - condition: { attribute: title, operator: contains, values: [lead] }
          - condition: { attribute: location, operator: does_not_contain, values: [moon] }
      - rows: [ manager, resource_owner, { on_call: { schedules: [sre-primary, sre-secondary] } } ]
settings:
  require_mfa: true
  require_justification: false
  require_approver_reason: true
  no_self_approval: true
  require_duration: true
  post_use_review: true
  extensions: { max_count: 3, extend_by: 45m }
"#,
    )
    .expect("a valid flow document");
    let stored = latch_flow::store::StoredFlow {
        id: "f1".into(),
        spec: spec.clone(),
        created_at: crate::harness::epoch(),
        updated_at: crate::harness::epoch(),
        version: 7,
    };
    let message = latch_flow::grpc::policy_wire::approval_policy(&stored);
    assert_eq!((message.flow_id.as_str(), message.flow_version), ("f1", 7));
    let read = latch_request::policy_snapshot::from_proto(&message).expect("readable");
    assert_eq!(read.approval, spec.approval);
    assert_eq!(read.settings, spec.settings);
    // And as a request stores it.
    let text = latch_request::policy_snapshot::encode(&message);
    assert_eq!(latch_request::service::Policy::parse(&text).unwrap(), read);
}
