use latch_proto::identity::v1 as pb;

use crate::harness::{TestServer, create_group, create_user};

#[tokio::test]
async fn everything_survives_a_restart_and_bootstrap_does_not_repeat() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let ada = create_user(&mut admin, "ada", &[], "").await;
    create_group(&mut admin, "sre", &[&ada.id], &[]).await;
    let (dir, url, clock) = server.stop().await;

    let server = TestServer::start_on(dir, url, clock).await;
    let mut admin = server.admin().await;
    let subject = admin
        .resolve_subject(pb::ResolveSubjectRequest {
            user_id: "ada".into(),
            at: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(subject.groups[0].display_name, "sre");
    let users = admin
        .list_users(pb::ListUsersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(users.total_size, 2, "no second bootstrap admin");
    let tokens = admin
        .list_tokens(pb::ListTokensRequest { all_users: true })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        tokens.tokens.len(),
        1,
        "the configured bootstrap token is registered once"
    );
    let mut feed = admin
        .watch_changes(pb::WatchChangesRequest { after_sequence: 0 })
        .await
        .unwrap()
        .into_inner();
    use futures::StreamExt;
    let mut last = 0;
    for _ in 0..5 {
        let change = feed.next().await.unwrap().unwrap();
        assert_eq!(change.sequence, last + 1);
        last = change.sequence;
    }
}

#[tokio::test]
async fn shutdown_drains_even_with_a_change_stream_open() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let mut feed = admin
        .watch_changes(pb::WatchChangesRequest { after_sequence: 0 })
        .await
        .unwrap()
        .into_inner();
    use futures::StreamExt;
    feed.next().await.unwrap().unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), server.stop())
        .await
        .expect("the server stops while a watcher is connected");
    // The stream ends instead of hanging.
    let rest = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(Ok(_)) = feed.next().await {}
    })
    .await;
    assert!(rest.is_ok());
}
