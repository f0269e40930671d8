//! `ListRequests` with a filter: by flow, requester, grantee, state and creation time, in pages
//! bound to the filter; a filter it cannot honour exactly is refused naming `filter`.

use chrono::TimeDelta;
use latch_proto::request::v1 as pb;
use latch_runtime::Clock;

use crate::harness::{RequestClient, TestServer, violated_fields};
use crate::request_support::{Scripted, ask, automatic_flow, create_flow, integration, item, person};

async fn listed(client: &mut RequestClient, filter: &str, size: i32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_requests(pb::ListRequestsRequest {
                all: true,
                page_size: size,
                page_token,
                filter: filter.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        ids.extend(page.requests.into_iter().map(|r| r.id));
        if page.next_page_token.is_empty() {
            return ids;
        }
        page_token = page.next_page_token;
    }
}

#[tokio::test]
async fn requests_are_listed_by_flow_person_state_and_time() {
    let scripted = Scripted::new();
    let server = TestServer::start_with_connectors(vec![scripted.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    create_flow(&server, &automatic_flow("prod tables", "shop")).await;
    let (_ada, ada_token) = person(&server, "ada", "Engineering", "").await;
    let (bob, bob_token) = person(&server, "bob", "Engineering", "").await;
    let start = server.clock.now();
    let mut made = Vec::new();
    for (round, token) in [&ada_token, &bob_token, &ada_token].into_iter().enumerate() {
        let mut client = server.requests_with(Some(token)).await;
        let table = ["orders", "customers", "invoices"][round];
        let id = client
            .submit_request(ask(
                vec![item("shop", &format!("table:orders-prod/{table}"), "read")],
                "1h",
            ))
            .await
            .unwrap()
            .into_inner()
            .id;
        made.push(id);
        server.clock.advance(TimeDelta::minutes(10));
    }
    let mut admin = server.requests_with(Some(crate::harness::ADMIN_TOKEN)).await;
    let newest_first = |picks: &[usize]| picks.iter().rev().map(|i| made[*i].clone()).collect::<Vec<_>>();
    assert_eq!(listed(&mut admin, "", 1).await, newest_first(&[0, 1, 2]));
    assert_eq!(listed(&mut admin, "requester = ada", 1).await, newest_first(&[0, 2]));
    assert_eq!(
        listed(&mut admin, &format!("grantee = {}", bob.id), 50).await,
        newest_first(&[1])
    );
    assert_eq!(
        listed(&mut admin, "flow = \"prod tables\" AND requester = \"ADA\"", 50).await,
        newest_first(&[0, 2]),
        "user names are case-insensitive"
    );
    assert!(listed(&mut admin, "flow = \"no such flow\"", 50).await.is_empty());
    let at = |minutes: i64| (start + TimeDelta::minutes(minutes)).to_rfc3339();
    assert_eq!(
        listed(
            &mut admin,
            &format!("create_time >= \"{}\" AND create_time < \"{}\"", at(5), at(25)),
            50
        )
        .await,
        newest_first(&[1, 2])
    );
    assert_eq!(
        listed(&mut admin, &format!("create_time <= \"{}\"", at(10)), 50).await,
        newest_first(&[0, 1]),
        "<= includes the instant"
    );
    assert!(listed(&mut admin, "state = pending_approval", 50).await.is_empty());

    // Someone else's view is still only their own requests, whatever the filter says.
    let mut as_bob = server.requests_with(Some(&bob_token)).await;
    let mine = as_bob
        .list_requests(pb::ListRequestsRequest {
            filter: "requester = ada".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .requests;
    assert!(mine.is_empty(), "bob sees none of ada's requests");

    // A page token belongs to its filter.
    let first = admin
        .list_requests(pb::ListRequestsRequest {
            all: true,
            page_size: 1,
            filter: "requester = ada".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let status = admin
        .list_requests(pb::ListRequestsRequest {
            all: true,
            page_size: 1,
            page_token: first.next_page_token,
            filter: "requester = bob".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["page_token"]);

    for bad in [
        "state = active OR state = revoked",
        "owner = ada",
        "create_time > yesterday",
    ] {
        let status = admin
            .list_requests(pb::ListRequestsRequest {
                all: true,
                filter: bad.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{bad}");
        assert_eq!(violated_fields(&status), ["filter"], "{bad}");
    }
}
