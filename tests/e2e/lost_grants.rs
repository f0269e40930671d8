//! A target system that lost Latch's grants (restored from a backup, the demo system
//! restarted): the next extend finds the grant missing, gives it again under the same grant id
//! and records it, or ends the requests holding it with the reason. Nothing retries forever.

use latch_proto::request::v1 as pb;

use crate::extend_calls::flow;
use crate::harness::{RequestClient, TestServer};
use crate::request_support::{Scripted, ask, create_flow, get, integration, item, person, settled, wait_states};

const INVOICES: &str = "table:orders-prod/invoices";

/// Ada's active one-hour request on `scripted` (extensions allowed): the server, her client and
/// the request id.
async fn active_request(scripted: &std::sync::Arc<Scripted>) -> (TestServer, RequestClient, String) {
    let server = TestServer::start_with_connectors(vec![scripted.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    create_flow(&server, &flow("{ custom: 2h }")).await;
    let (_ada, token) = person(&server, "ada", "Engineering", "").await;
    let mut client = server.requests_with(Some(&token)).await;
    let id = client
        .submit_request(ask(vec![item("shop", INVOICES, "read")], "1h"))
        .await
        .expect("submit")
        .into_inner()
        .id;
    wait_states(&server, &mut client, std::slice::from_ref(&id), &["active"]).await;
    settled(&server).await;
    (server, client, id)
}

async fn extend(client: &mut RequestClient, id: &str) -> pb::AccessRequest {
    client
        .extend_request(pb::ExtendRequestRequest { id: id.into() })
        .await
        .expect("extend")
        .into_inner()
}

#[tokio::test]
async fn an_extend_that_finds_the_grant_missing_gives_it_again_under_the_same_grant_id() {
    let scripted = Scripted::new();
    let (server, mut client, id) = active_request(&scripted).await;
    let before = scripted.live().await;
    assert_eq!(before.len(), 1);
    let grant_id = before[0].grant_id.clone();

    scripted.forget_all().await;
    let extended = extend(&mut client, &id).await;
    settled(&server).await;

    let after = scripted.live().await;
    assert_eq!(after.len(), 1, "the grant is back at the target system");
    assert_eq!(after[0].grant_id, grant_id, "under the same grant id");
    assert_eq!(
        (after[0].resource_id.as_str(), after[0].permission.as_str()),
        (INVOICES, "read")
    );
    assert!(
        after[0].expires_at.unwrap().timestamp() >= extended.end_time.unwrap().seconds,
        "and it lasts until the extended end: {after:?}"
    );
    let request = get(&mut client, &id).await;
    assert_eq!(request.state, "active");
    let regranted: Vec<_> = request.history.iter().filter(|e| e.kind == "regranted").collect();
    assert_eq!(regranted.len(), 1, "recorded once: {:?}", request.history);
    assert!(
        regranted[0].detail.contains("missing at the target system"),
        "{regranted:?}"
    );
    assert_eq!(scripted.grant_calls()[&grant_id], 2, "granted, then given again once");
}

#[tokio::test]
async fn a_lost_grant_that_cannot_be_given_again_ends_the_request_with_the_reason() {
    let scripted = Scripted::new();
    let (server, mut client, id) = active_request(&scripted).await;

    scripted.forget_all().await;
    scripted.refuse(INVOICES);
    extend(&mut client, &id).await;
    settled(&server).await;

    let request = wait_states(&server, &mut client, std::slice::from_ref(&id), &["revoked"]).await;
    assert!(
        request[0].outcome.contains("lost at the target system") && request[0].outcome.contains("read-only today"),
        "the reason is given: {}",
        request[0].outcome
    );
    assert!(scripted.live().await.is_empty());
}

#[tokio::test]
async fn an_extend_refused_for_good_is_recorded_once_and_not_retried() {
    let scripted = Scripted::new();
    let (server, mut client, id) = active_request(&scripted).await;

    scripted.refuse_extend();
    extend(&mut client, &id).await;
    settled(&server).await;

    assert_eq!(
        scripted.extend_calls().values().sum::<u32>(),
        1,
        "asked once, not retried"
    );
    let request = get(&mut client, &id).await;
    assert_eq!(request.state, "active", "the access Latch granted stays until its end");
    let refused: Vec<_> = request.history.iter().filter(|e| e.kind == "extend_refused").collect();
    assert_eq!(refused.len(), 1, "{:?}", request.history);
    assert!(refused[0].detail.contains("expiries are frozen today"), "{refused:?}");
    assert!(
        request.items[0].error.contains("extend refused"),
        "the grant shows why: {:?}",
        request.items[0]
    );
}
