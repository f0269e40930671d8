//! A split deployment whose peers come and go: flow started before the catalog answers
//! UNAVAILABLE (never an empty view of flows) and reports NOT_SERVING until it has compiled
//! against the catalog; a peer that stops is a fast, named UNAVAILABLE; when it returns,
//! everything converges without a restart.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use latch_proto::flow::v1 as pb;
use latch_proto::flow::v1::flow_service_client::FlowServiceClient;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::harness::{ADMIN_TOKEN, Bearer};
use crate::split_harness::{SplitDeployment, channel};

type Flows = FlowServiceClient<InterceptedService<Channel, Bearer>>;

fn flows(addr: SocketAddr) -> Flows {
    FlowServiceClient::with_interceptor(channel(addr), Bearer::token(ADMIN_TOKEN))
}

async fn health(addr: SocketAddr) -> Option<ServingStatus> {
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel(addr));
    let status = client
        .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
        .await
        .ok()?
        .into_inner()
        .status;
    ServingStatus::try_from(status).ok()
}

/// Polls `condition` every 50 ms for up to `within`; how long it took, or None.
async fn within<F: AsyncFnMut() -> bool>(within: Duration, mut condition: F) -> Option<Duration> {
    let started = Instant::now();
    loop {
        if condition().await {
            return Some(started.elapsed());
        }
        if started.elapsed() > within {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const FLOW: &str = r#"
name: demo tables
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: estate, resource_type: table, permissions: [read], mode: any }
grant_for: { custom: 2h }
approval:
  approval_of:
    groups:
      - rows: [ manager ]
"#;

/// A demo integration and a flow over its tables, through the gateway: compiling the flow
/// needs the catalog.
async fn flow_over_the_catalog(gateway: SocketAddr) {
    let mut catalog = latch_proto::catalog::v1::catalog_service_client::CatalogServiceClient::with_interceptor(
        channel(gateway),
        Bearer::token(ADMIN_TOKEN),
    );
    catalog
        .create_integration(latch_proto::catalog::v1::CreateIntegrationRequest {
            integration: Some(latch_proto::catalog::v1::Integration {
                display_name: "estate".into(),
                connector: "demo".into(),
                config: std::collections::HashMap::from([("latency_ms".into(), "0".into())]),
                ..Default::default()
            }),
            secrets: std::collections::HashMap::from([("api_key".into(), "s3cr3t-demo-key".into())]),
            request_id: String::new(),
        })
        .await
        .expect("create integration");
    flows(gateway)
        .create_flow(pb::CreateFlowRequest {
            definition: FLOW.into(),
            ..Default::default()
        })
        .await
        .expect("create flow");
}

#[tokio::test]
async fn flow_without_its_catalog_refuses_rather_than_answers_from_nothing_and_converges_when_it_returns() {
    let mut deployment = SplitDeployment::start().await;
    let gateway = deployment.gateway();
    let flow_addr = deployment.process("flow").grpc;
    flow_over_the_catalog(gateway).await;

    // The catalog stops: flow's feed is gone, so flow says it is not ready (it keeps answering
    // from what it compiled, which is still right).
    deployment.kill("catalog");
    let took = within(Duration::from_secs(5), async || {
        health(flow_addr).await == Some(ServingStatus::NotServing)
    })
    .await;
    assert!(
        took.is_some(),
        "flow stayed SERVING without its catalog feed\n{}",
        deployment.logs()
    );

    // Flow restarted while the catalog is still down: it starts, refuses every call with
    // UNAVAILABLE naming what it waits for, fast, and is not ready.
    deployment.kill("flow");
    deployment.processes.get_mut("flow").expect("flow process").start();
    let up = within(Duration::from_secs(30), async || health(flow_addr).await.is_some()).await;
    assert!(up.is_some(), "flow did not start\n{}", deployment.logs());
    assert_eq!(health(flow_addr).await, Some(ServingStatus::NotServing));
    let asked = Instant::now();
    let refused = flows(gateway)
        .list_flows(pb::ListFlowsRequest::default())
        .await
        .expect_err("flow answered before it had compiled against the catalog");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(
        refused.message().contains("catalog"),
        "the refusal should say what flow waits for: {refused:?}"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "refusal took {:?}",
        asked.elapsed()
    );

    // The catalog returns: flow compiles, becomes ready and answers, with no restart.
    deployment.start_process("catalog").await;
    let took = within(Duration::from_secs(10), async || {
        health(flow_addr).await == Some(ServingStatus::Serving)
    })
    .await;
    assert!(
        took.is_some(),
        "flow did not become ready after the catalog returned\n{}",
        deployment.logs()
    );
    let listed = flows(gateway)
        .list_flows(pb::ListFlowsRequest::default())
        .await
        .unwrap_or_else(|s| panic!("flows after the catalog returned: {s:?}\n{}", deployment.logs()))
        .into_inner();
    assert!(
        listed.flows.iter().any(|f| f.display_name == "demo tables"),
        "{listed:?}"
    );
}

#[tokio::test]
async fn a_stopped_peer_is_a_fast_unavailable_naming_it_and_the_gateway_too() {
    let mut deployment = SplitDeployment::start().await;
    let gateway = deployment.gateway();
    deployment.kill("flow");
    let asked = Instant::now();
    let refused = flows(gateway)
        .list_flows(pb::ListFlowsRequest::default())
        .await
        .expect_err("a stopped flow service answered");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(refused.message().contains("flow"), "{refused:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "refusal took {:?}",
        asked.elapsed()
    );

    deployment.start_process("flow").await;
    flows(gateway)
        .list_flows(pb::ListFlowsRequest::default())
        .await
        .unwrap_or_else(|s| panic!("flows after flow returned: {s:?}\n{}", deployment.logs()));
}
