//! Read-your-writes across contexts: a user created a moment ago, with a token, is known to
//! flow and request at once (their directory replicas catch up on a miss rather than refuse).

use futures::StreamExt as _;

use crate::extend_calls::flow;
use crate::harness::TestServer;
use crate::request_support::{Scripted, ask, create_flow, integration, item, person};

#[tokio::test]
async fn users_created_a_moment_ago_may_submit_at_once() {
    let scripted = Scripted::new();
    let server = TestServer::start_with_connectors(vec![scripted.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    create_flow(&server, &flow("{ custom: 2h }")).await;
    // Eight at a time, so the directory keeps changing while each new user asks.
    let server = &server;
    let refused: Vec<String> = futures::stream::iter(0..48)
        .map(|n| async move {
            let (_, token) = person(server, &format!("new{n}"), "Engineering", "").await;
            let mut client = server.requests_with(Some(&token)).await;
            client
                .submit_request(ask(vec![item("shop", "table:orders-prod/invoices", "read")], "1h"))
                .await
                .err()
                .map(|status| format!("new{n}: {status:?}"))
        })
        .buffer_unordered(8)
        .filter_map(|refusal| async move { refusal })
        .collect()
        .await;
    assert!(
        refused.is_empty(),
        "users created a moment ago were refused: {refused:#?}"
    );
}
