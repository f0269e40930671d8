//! `WatchRequest`: a requester follows their request from pending approval to active and, once
//! revoked, to its end, without polling; strangers cannot watch; a shutdown ends open streams.

use std::time::Duration;

use futures::StreamExt;
use latch_proto::request::v1 as pb;

use crate::harness::TestServer;
use crate::request_support::{MANAGER_FLOW, Scripted, ask, create_flow, integration, item, person};

/// The next state the stream shows (waiting at most 10 s), or None when it ended.
async fn next_state(stream: &mut tonic::Streaming<pb::AccessRequest>) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the stream moves or ends")
        .map(|update| update.expect("an update").state)
}

#[tokio::test]
async fn a_requester_watches_their_request_to_active_and_to_its_end() {
    let scripted = Scripted::new();
    let server = TestServer::start_with_connectors(vec![scripted.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    create_flow(&server, MANAGER_FLOW).await;
    let (boss, boss_token) = person(&server, "boss", "Engineering", "").await;
    let (_ada, ada_token) = person(&server, "ada", "Engineering", &boss.id).await;
    let (_eve, eve_token) = person(&server, "eve", "Engineering", "").await;
    let mut as_ada = server.requests_with(Some(&ada_token)).await;
    let id = as_ada
        .submit_request(ask(vec![item("shop", "table:orders-prod/orders", "read")], "1h"))
        .await
        .unwrap()
        .into_inner()
        .id;

    let status = server
        .requests_with(Some(&eve_token))
        .await
        .watch_request(pb::WatchRequestRequest { id: id.clone() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound, "a stranger cannot watch");

    let mut stream = as_ada
        .watch_request(pb::WatchRequestRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next_state(&mut stream).await.as_deref(), Some("pending_approval"));
    let mut as_boss = server.requests_with(Some(&boss_token)).await;
    as_boss
        .approve_request(pb::DecideRequest {
            id: id.clone(),
            reason: String::new(),
        })
        .await
        .unwrap();
    // Every state shown is a step forward, and it reaches ACTIVE.
    let order = ["pending_approval", "approved", "granting", "active"];
    let mut at = 0;
    while order[at] != "active" {
        let state = next_state(&mut stream).await.expect("still open");
        let step = order
            .iter()
            .position(|s| *s == state)
            .unwrap_or_else(|| panic!("state {state}"));
        assert!(step >= at, "{state} after {}", order[at]);
        at = step;
    }
    as_ada
        .revoke_request(pb::EndRequest {
            id: id.clone(),
            reason: "done".into(),
        })
        .await
        .unwrap();
    let mut last = String::new();
    while let Some(state) = next_state(&mut stream).await {
        last = state;
    }
    assert_eq!(last, "revoked", "the stream ends after the final state");
    assert!(
        scripted.live().await.is_empty(),
        "the grant is gone when the stream ends"
    );
    // The CLI follows the same way; on a request that has ended it shows it once and exits.
    let cli = crate::cli::Cli::new(&server);
    let watched = cli.run(Some(&ada_token), &["requests", "watch", &id]).await;
    assert!(watched.status.success(), "{}", crate::cli::stderr(&watched));
    assert!(crate::cli::stdout(&watched).to_lowercase().contains("revoked"));

    // A stream open at shutdown ends, and the server stops.
    let pending = as_ada
        .submit_request(ask(vec![item("shop", "table:orders-prod/customers", "read")], "1h"))
        .await
        .unwrap()
        .into_inner()
        .id;
    let mut open = as_ada
        .watch_request(pb::WatchRequestRequest { id: pending })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next_state(&mut open).await.as_deref(), Some("pending_approval"));
    tokio::time::timeout(Duration::from_secs(20), server.stop())
        .await
        .expect("shutdown is not held by the open stream");
    assert_eq!(next_state(&mut open).await, None);
}
