use std::time::Duration;

use futures::StreamExt;
use latch_proto::identity::v1 as pb;
use tonic::Code;

use crate::harness::{TestServer, create_user};

#[tokio::test]
async fn the_feed_replays_history_then_streams_live_changes() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    create_user(&mut admin, "ada", &[], "").await;
    let mut stream = admin
        .watch_changes(pb::WatchChangesRequest { after_sequence: 0 })
        .await
        .unwrap()
        .into_inner();
    let mut replayed = Vec::new();
    // Bootstrap wrote the admin and its role; then ada.
    while replayed.len() < 3 {
        replayed.push(
            tokio::time::timeout(Duration::from_secs(5), stream.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap(),
        );
    }
    assert_eq!(replayed.iter().map(|c| c.sequence).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(replayed[2].payload_json.contains("\"user_name\":\"ada\""));
    assert!(replayed[2].actor.starts_with("users/"));

    create_user(&mut admin, "grace", &[], "").await;
    let live = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(live.sequence, 4);
    assert_eq!(live.kind, pb::change::Kind::UserUpserted as i32);
    assert_eq!(
        live.resource,
        format!(
            "users/{}",
            serde_json::from_str::<serde_json::Value>(&live.payload_json).unwrap()["id"]
                .as_str()
                .unwrap()
        )
    );

    // Resuming after a sequence skips what was seen.
    let mut resumed = admin
        .watch_changes(pb::WatchChangesRequest { after_sequence: 3 })
        .await
        .unwrap()
        .into_inner();
    let first = tokio::time::timeout(Duration::from_secs(5), resumed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.sequence, 4);
}

#[tokio::test]
async fn concurrent_writers_never_leave_gaps_or_reorder_the_feed() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let mut watcher = admin.clone();
    let mut stream = watcher
        .watch_changes(pb::WatchChangesRequest { after_sequence: 2 })
        .await
        .unwrap()
        .into_inner();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let mut client = admin.clone();
            tokio::spawn(async move {
                for i in 0..10 {
                    create_user(&mut client, &format!("w{w}-u{i}"), &[], "").await;
                }
            })
        })
        .collect();
    let mut sequences = Vec::new();
    while sequences.len() < 80 {
        let change = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("no stall")
            .unwrap()
            .unwrap();
        sequences.push(change.sequence);
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let expected: Vec<i64> = (3..83).collect();
    assert_eq!(sequences, expected, "every change exactly once, in order");
}

#[tokio::test]
async fn only_admins_watch_the_feed() {
    let server = TestServer::start().await;
    let (_, mut bob) = server.user_with_token("bob").await;
    let status = bob
        .watch_changes(pb::WatchChangesRequest { after_sequence: 0 })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}
