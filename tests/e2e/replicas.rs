//! Two Latch instances on one database, as replicas run in Kubernetes.

use std::time::Duration;

use futures::StreamExt;
use latch_proto::identity::v1 as pb;

use crate::harness::{TestServer, create_user};

#[tokio::test]
async fn two_replicas_share_one_ordered_feed_and_converge() {
    let first = TestServer::start().await;
    if first.database_url.is_empty() {
        // SQLite has one writer per file: a second process on the same data directory is
        // refused (it would fail approvals with "database is locked" and take over leases).
        let refused = second_on_the_same_data_directory(&first)
            .await
            .err()
            .expect("a second latchd is refused");
        assert!(refused.contains("is in use by another latchd"), "{refused}");
        assert!(
            refused.contains(&first.data_dir.path().display().to_string()),
            "{refused}"
        );
        // The lock goes with the process: once the first stops, the directory is free again.
        let (data_dir, database_url, clock) = first.stop().await;
        let again = TestServer::start_on(data_dir, database_url, clock).await;
        again
            .admin()
            .await
            .who_am_i(pb::WhoAmIRequest {})
            .await
            .expect("serves");
        return;
    }
    let second = second_on_the_same_data_directory(&first)
        .await
        .expect("PostgreSQL replicas share one database");
    let mut on_first = first.admin().await;
    let mut on_second = second.admin().await;
    let mut feed = on_second
        .watch_changes(pb::WatchChangesRequest { after_sequence: 2 })
        .await
        .unwrap()
        .into_inner();

    let writers: Vec<_> = [on_first.clone(), on_second.clone()]
        .into_iter()
        .enumerate()
        .map(|(replica, mut client)| {
            tokio::spawn(async move {
                for i in 0..15 {
                    create_user(&mut client, &format!("r{replica}-u{i}"), &[], "").await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let mut sequences = Vec::new();
    while sequences.len() < 30 {
        let change = tokio::time::timeout(Duration::from_secs(10), feed.next())
            .await
            .expect("no stall")
            .unwrap()
            .unwrap();
        sequences.push(change.sequence);
    }
    assert_eq!(
        sequences,
        (3..33).collect::<Vec<i64>>(),
        "both replicas' writes, once each, in order"
    );

    // A user made on one replica resolves on the other once it has caught up.
    create_user(&mut on_first, "late", &[], "").await;
    let mut resolved = false;
    for _ in 0..100 {
        if on_second
            .get_user(pb::GetUserRequest { id: "late".into() })
            .await
            .is_ok()
        {
            resolved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(resolved, "the second replica follows the first");
    // A write on the second replica sees the first replica's user at once (writes catch up first).
    let status = on_second
        .create_user(pb::CreateUserRequest {
            user: Some(pb::User {
                user_name: "r0-u0".into(),
                active: true,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::AlreadyExists);

    // A token both replicas have answered (each keeps it in its token cache), revoked on the
    // first, stops on the second within a second: the revocation travels in the feed.
    let (_, secret) = first.user_secret("token-owner").await;
    let mut as_owner_first = first.client_with(Some(&secret)).await;
    let mut as_owner_second = second.client_with(Some(&secret)).await;
    for client in [&mut as_owner_first, &mut as_owner_second] {
        client.who_am_i(pb::WhoAmIRequest {}).await.expect("the token works");
    }
    let token_id = as_owner_first
        .list_tokens(pb::ListTokensRequest::default())
        .await
        .unwrap()
        .into_inner()
        .tokens
        .into_iter()
        .next()
        .expect("the owner's token")
        .id;
    on_first
        .revoke_token(pb::RevokeTokenRequest { id: token_id })
        .await
        .unwrap();
    let refused = as_owner_first.who_am_i(pb::WhoAmIRequest {}).await.unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::Unauthenticated,
        "at once on the replica that revoked"
    );
    let revoked_at = std::time::Instant::now();
    loop {
        match as_owner_second.who_am_i(pb::WhoAmIRequest {}).await {
            Err(status) if status.code() == tonic::Code::Unauthenticated => break,
            _ => {}
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "the other replica still answers a revoked token"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn second_on_the_same_data_directory(first: &TestServer) -> Result<TestServer, String> {
    TestServer::try_start_configured(
        first.data_dir.clone(),
        first.database_url.clone(),
        first.clock.clone(),
        Vec::new(),
        latchd::AppOptions::default(),
        |_| {},
    )
    .await
}
