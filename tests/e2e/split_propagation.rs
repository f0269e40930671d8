//! Changes cross process boundaries within a second on a split deployment, measured from the
//! moment the change's call returns through the gateway: a flow change and a resource tag change
//! reach the decisions requests get; a deactivated user's access is revoked at the target; a
//! revoked token stops working in every process.

use std::time::{Duration, Instant};

use latch_proto::catalog::v1 as catalog;
use latch_proto::flow::v1 as flow;
use latch_proto::identity::v1 as identity;
use latch_proto::request::v1 as pb;
use tonic::Code;

use crate::harness::{ADMIN_TOKEN, RequestClient, create_user};
use crate::request_support::{ask, item};
use crate::split_harness::SplitDeployment;

/// What the issue asks: every change visible in every process within this.
const WITHIN: Duration = Duration::from_secs(1);

/// Polls `check` from now until it holds and says how long that took; gives up (failing) at
/// three times the limit, so a slow propagation reports its figure rather than only "no".
async fn until(what: &str, check: impl AsyncFnMut() -> bool) -> Duration {
    until_since(Instant::now(), what, check).await
}

/// Like [`until`], measured from `start` (the moment the change returned).
async fn until_since(start: Instant, what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    while !check().await {
        assert!(start.elapsed() < WITHIN * 3, "{what}: not within {:?}", WITHIN * 3);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = start.elapsed();
    eprintln!("propagation: {what} in {took:?}");
    took
}

async fn token_of(admin: &mut crate::harness::Client, user_id: &str) -> String {
    admin
        .create_token(identity::CreateTokenRequest {
            user_id: user_id.into(),
            description: "split propagation".into(),
            ..Default::default()
        })
        .await
        .expect("create token")
        .into_inner()
        .secret
}

async fn demo_integration(deployment: &SplitDeployment) {
    let mut catalog_client = deployment.catalog(ADMIN_TOKEN);
    catalog_client
        .create_integration(catalog::CreateIntegrationRequest {
            integration: Some(catalog::Integration {
                display_name: "demo".into(),
                connector: "demo".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("create the demo integration");
    catalog_client
        .sync_integration(catalog::SyncIntegrationRequest { id: "demo".into() })
        .await
        .expect("sync");
}

/// A self-serve flow for `department` over demo tables tagged `access=open`, approved at once.
fn by_tag_flow(department: &str) -> String {
    format!(
        r#"
name: open tables
kind: self_serve
requestors: {{ rows: [ {{ attribute: department, operator: is, values: [{department}] }} ] }}
targets:
  - integration: {{ integration: demo, resource_type: table, permissions: [read], mode: include, tags: [{{ key: access, values: [open] }}] }}
grant_for: {{ custom: 2h }}
settings: {{ require_justification: false }}
"#
    )
}

const STAGING_ORDERS: &str = "table:orders-staging/orders";

/// Submits a request for read on staging orders: `Ok` with its id, or the refusal.
async fn submit(client: &mut RequestClient) -> Result<String, tonic::Status> {
    client
        .submit_request(ask(vec![item("demo", STAGING_ORDERS, "read")], "30m"))
        .await
        .map(|r| r.into_inner().id)
}

/// Refused because no flow lets this requester have it (not for any other reason).
fn refused_by_flows(result: &Result<String, tonic::Status>) -> bool {
    matches!(result, Err(status) if status.code() == Code::FailedPrecondition && status.message().contains("no flow"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_a_resource_tag_change_and_a_flow_change_reach_requests_within_a_second() {
    let deployment = SplitDeployment::start().await;
    let _logs = deployment.logs_on_panic();
    demo_integration(&deployment).await;
    let mut admin = deployment.identity(ADMIN_TOKEN);
    let eng = create_user(&mut admin, "eng", &[("department", "Engineering")], "").await;
    let sam = create_user(&mut admin, "sam", &[("department", "Sales")], "").await;
    let mut eng_requests = deployment.requests(&token_of(&mut admin, &eng.id).await);
    let mut sam_requests = deployment.requests(&token_of(&mut admin, &sam.id).await);
    let mut flows = deployment.flows(ADMIN_TOKEN);
    let created = flows
        .create_flow(flow::CreateFlowRequest {
            definition: by_tag_flow("Engineering"),
            ..Default::default()
        })
        .await
        .expect("create the flow")
        .into_inner();

    // Not tagged yet: no flow covers staging orders.
    let before = submit(&mut eng_requests).await;
    assert!(refused_by_flows(&before), "{before:?}");

    // The tag, set in the catalog process, reaches the flow process's by-tag target.
    deployment
        .catalog(ADMIN_TOKEN)
        .update_resource(catalog::UpdateResourceRequest {
            integration: "demo".into(),
            id: STAGING_ORDERS.into(),
            set_tags: [("access".to_string(), "open".to_string())].into(),
            ..Default::default()
        })
        .await
        .expect("tag the table");
    let took = until("resource tag change -> by-tag flow", async || {
        submit(&mut eng_requests).await.is_ok()
    })
    .await;
    assert!(took < WITHIN, "a tag change reached the flow after {took:?}");

    // The flow, changed in the flow process, decides the next submit in the request process:
    // Sales now, Engineering no more.
    flows
        .update_flow(flow::UpdateFlowRequest {
            id: created.id.clone(),
            definition: by_tag_flow("Sales"),
            etag: created.etag.clone(),
        })
        .await
        .expect("update the flow");
    let took = until("flow change -> request decisions", async || {
        refused_by_flows(&submit(&mut eng_requests).await) && submit(&mut sam_requests).await.is_ok()
    })
    .await;
    assert!(took < WITHIN, "a flow change reached requests after {took:?}");

    // And the tag removed: nobody is covered any more.
    deployment
        .catalog(ADMIN_TOKEN)
        .update_resource(catalog::UpdateResourceRequest {
            integration: "demo".into(),
            id: STAGING_ORDERS.into(),
            remove_tags: vec!["access".into()],
            ..Default::default()
        })
        .await
        .expect("untag the table");
    let took = until("resource untagged -> by-tag flow", async || {
        refused_by_flows(&submit(&mut sam_requests).await)
    })
    .await;
    assert!(took < WITHIN, "an untag reached the flow after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_a_revoked_token_and_a_deactivated_user_stop_in_every_process_within_a_second() {
    let deployment = SplitDeployment::start().await;
    let _logs = deployment.logs_on_panic();
    demo_integration(&deployment).await;
    let mut admin = deployment.identity(ADMIN_TOKEN);
    deployment
        .flows(ADMIN_TOKEN)
        .create_flow(flow::CreateFlowRequest {
            definition: crate::request_support::automatic_flow("prod tables", "demo"),
            ..Default::default()
        })
        .await
        .expect("create the flow");

    // A token that works in every process, then is revoked.
    let tok = create_user(&mut admin, "tok", &[("department", "Engineering")], "").await;
    let secret = token_of(&mut admin, &tok.id).await;
    let refused = |result: Result<(), tonic::Status>| matches!(result, Err(s) if s.code() == Code::Unauthenticated);
    let everywhere = async |secret: &str| {
        let identity = deployment
            .identity(secret)
            .who_am_i(identity::WhoAmIRequest {})
            .await
            .map(|_| ());
        let catalog = deployment
            .catalog(secret)
            .list_integrations(catalog::ListIntegrationsRequest::default())
            .await
            .map(|_| ());
        let flows = deployment
            .flows(secret)
            .list_flows(flow::ListFlowsRequest::default())
            .await
            .map(|_| ());
        let requests = deployment
            .requests(secret)
            .list_requests(pb::ListRequestsRequest::default())
            .await
            .map(|_| ());
        [
            ("identity", identity),
            ("catalog", catalog),
            ("flow", flows),
            ("request", requests),
        ]
    };
    for (process, result) in everywhere(&secret).await {
        assert!(result.is_ok(), "{process}: {result:?}");
    }
    let token_id = deployment
        .identity(&secret)
        .who_am_i(identity::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner()
        .token_id;
    admin
        .revoke_token(identity::RevokeTokenRequest { id: token_id })
        .await
        .expect("revoke the token");
    let took = until("revoked token -> refused by every process", async || {
        everywhere(&secret).await.into_iter().all(|(_, result)| refused(result))
    })
    .await;
    assert!(took < WITHIN, "a revoked token still worked somewhere after {took:?}");

    // A user with active access, deactivated: the access is revoked at the target.
    let eng = create_user(&mut admin, "eng", &[("department", "Engineering")], "").await;
    let eng_secret = token_of(&mut admin, &eng.id).await;
    let mut eng_requests = deployment.requests(&eng_secret);
    let id = eng_requests
        .submit_request(ask(vec![item("demo", "table:orders-prod/orders", "read")], "1h"))
        .await
        .expect("submit")
        .into_inner()
        .id;
    let mut requests = deployment.requests(ADMIN_TOKEN);
    let state = async |requests: &mut RequestClient| {
        requests
            .get_request(pb::GetRequestRequest { id: id.clone() })
            .await
            .expect("get request")
            .into_inner()
            .state
    };
    let started = Instant::now();
    while state(&mut requests).await != "active" {
        assert!(started.elapsed() < Duration::from_secs(20), "never active");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    admin
        .update_user(identity::UpdateUserRequest {
            user: Some(identity::User {
                id: eng.id.clone(),
                active: false,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["active".into()],
            }),
        })
        .await
        .expect("deactivate");
    let deactivated = Instant::now();
    let took = until_since(deactivated, "deactivated user -> access revoked", async || {
        state(&mut requests).await == "revoked"
    })
    .await;
    assert!(took < WITHIN, "a deactivated user's access was revoked after {took:?}");
    let took = until_since(
        deactivated,
        "deactivated user -> token refused everywhere",
        async || {
            everywhere(&eng_secret)
                .await
                .into_iter()
                .all(|(_, result)| refused(result))
        },
    )
    .await;
    assert!(took < WITHIN, "a deactivated user's token still worked after {took:?}");
}
