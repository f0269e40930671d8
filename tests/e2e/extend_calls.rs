//! Connector calls on a moving clock: a grant is asked for once, however many requests share
//! it, and moved (Extend) only when the connector's own expiry would otherwise come before the
//! end Latch needs. The suite's clock is otherwise frozen, which hides every call made because
//! time passed between planning a grant's end and the grant landing.

use latch_proto::request::v1 as pb;

use crate::harness::{RequestClient, TestServer};
use crate::request_support::{
    MovingClock, Scripted, ask, create_flow, get, integration, item, person, settled, wait_states,
};

const ORDERS: &str = "table:orders-prod/invoices";

pub fn flow(grant_for: &str) -> String {
    format!(
        r#"
name: prod tables
kind: self_serve
requestors: {{ rows: [ {{ attribute: department, operator: is, values: [Engineering] }} ] }}
targets:
  - integration: {{ integration: shop, resource_type: table, permissions: [read], mode: include, tags: [{{ key: env, values: [prod] }}] }}
grant_for: {grant_for}
settings: {{ require_justification: false{extensions} }}
"#,
        extensions = if grant_for == "indefinite" {
            ""
        } else {
            ", extensions: { max_count: 1, extend_by: 30m }"
        }
    )
}

/// A server on a clock that moves with real time, an integration `shop` on `scripted` and a
/// flow granting for `grant_for`; ada's request client.
async fn world(scripted: &std::sync::Arc<Scripted>, grant_for: &str) -> (TestServer, MovingClock, RequestClient) {
    let server = TestServer::start_with_connectors(vec![scripted.clone()]).await;
    let moving = MovingClock::start(server.clock.clone());
    // Every connector call takes a while, so time passes between planning a grant and its landing.
    integration(&server, "shop", "scripted", &[("latency_ms", "20")]).await;
    create_flow(&server, &flow(grant_for)).await;
    let (_ada, token) = person(&server, "ada", "Engineering", "").await;
    let client = server.requests_with(Some(&token)).await;
    (server, moving, client)
}

async fn submit_many(client: &mut RequestClient, count: usize, duration: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..count {
        let submitted = client
            .submit_request(ask(vec![item("shop", ORDERS, "read")], duration))
            .await
            .expect("submit")
            .into_inner();
        ids.push(submitted.id);
    }
    ids
}

#[tokio::test]
async fn requests_sharing_one_grant_make_one_grant_call_and_no_extend() {
    let scripted = Scripted::new();
    let (server, _moving, mut client) = world(&scripted, "{ custom: 2h }").await;
    // Each request asks a little later than the one before, so each ends a little later.
    let ids = submit_many(&mut client, 12, "1h").await;
    wait_states(&server, &mut client, &ids, &["active"]).await;
    settled(&server).await;

    let grants = scripted.grant_calls();
    assert_eq!(grants.len(), 1, "one shared grant: {grants:?}");
    assert_eq!(grants.values().sum::<u32>(), 1, "asked for once: {grants:?}");
    assert_eq!(
        scripted.extend_calls(),
        Default::default(),
        "the connector's expiry comes after every request's end: nothing to move"
    );
    // What a user cares about: the connector keeps the grant until the last request's end.
    let last_end = get(&mut client, ids.last().unwrap()).await.end_time.unwrap().seconds;
    let live = scripted.live().await;
    assert_eq!(live.len(), 1);
    assert!(live[0].expires_at.unwrap().timestamp() >= last_end, "{live:?}");
}

#[tokio::test]
async fn indefinite_grants_are_never_extended() {
    let scripted = Scripted::new();
    let (server, _moving, mut client) = world(&scripted, "indefinite").await;
    let ids = submit_many(&mut client, 3, "").await;
    let active = wait_states(&server, &mut client, &ids, &["active"]).await;
    assert!(active.iter().all(|r| r.end_time.is_none()), "indefinite access");
    settled(&server).await;

    assert_eq!(scripted.grant_calls().values().sum::<u32>(), 1);
    assert_eq!(scripted.extend_calls(), Default::default());
    assert_eq!(scripted.live().await[0].expires_at, None);
}

#[tokio::test]
async fn an_extension_past_the_connectors_expiry_is_one_extend_call() {
    let scripted = Scripted::new();
    let (server, _moving, mut client) = world(&scripted, "{ custom: 2h }").await;
    let ids = submit_many(&mut client, 1, "1h").await;
    wait_states(&server, &mut client, &ids, &["active"]).await;
    settled(&server).await;
    assert_eq!(
        scripted.extend_calls(),
        Default::default(),
        "granted with the right end"
    );

    let extended = client
        .extend_request(pb::ExtendRequestRequest { id: ids[0].clone() })
        .await
        .expect("extend")
        .into_inner();
    settled(&server).await;

    let calls = scripted.extend_calls();
    assert_eq!(
        calls.values().collect::<Vec<_>>(),
        [&1],
        "exactly one Extend: {calls:?}"
    );
    let live = scripted.live().await;
    assert!(
        live[0].expires_at.unwrap().timestamp() >= extended.end_time.unwrap().seconds,
        "the connector keeps the grant until the extended end: {live:?}"
    );
}
