//! `ListApprovals` from the approver index: each manager sees exactly their reports' pending
//! requests, in pages; a new manager sees them at once; a decided request leaves the index; and
//! pending requests written before the index existed are indexed when the server starts.

use latch_proto::identity::v1 as identity;
use latch_proto::request::v1 as pb;
use sea_orm::ConnectionTrait;

use crate::harness::TestServer;
use crate::request_support::{MANAGER_FLOW, Scripted, approvable, ask, create_flow, integration, item, person};

#[tokio::test]
async fn managers_see_their_reports_pending_requests_in_pages_and_follow_changes_and_restarts() {
    let scripted = Scripted::new();
    let server = TestServer::start_with_connectors(vec![scripted.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    create_flow(&server, MANAGER_FLOW).await;
    let (boss1, boss1_token) = person(&server, "boss1", "Engineering", "").await;
    let (boss2, boss2_token) = person(&server, "boss2", "Engineering", "").await;
    let mut submitted = Vec::new();
    let mut reports = Vec::new();
    for (name, manager) in [
        ("ann", &boss1.id),
        ("ben", &boss1.id),
        ("cat", &boss1.id),
        ("dan", &boss2.id),
    ] {
        let (user, token) = person(&server, name, "Engineering", manager).await;
        let mut client = server.requests_with(Some(&token)).await;
        let request = client
            .submit_request(ask(vec![item("shop", "table:orders-prod/orders", "read")], "1h"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(request.state, "pending_approval");
        submitted.push(request.id);
        reports.push(user);
    }
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    let mut as_boss1 = server.requests_with(Some(&boss1_token)).await;
    let mut as_boss2 = server.requests_with(Some(&boss2_token)).await;
    assert_eq!(approvable(&mut as_boss1, 2).await, sorted(submitted[..3].to_vec()));
    assert_eq!(approvable(&mut as_boss1, 500).await, sorted(submitted[..3].to_vec()));
    assert_eq!(approvable(&mut as_boss2, 1).await, vec![submitted[3].clone()]);
    let status = as_boss1
        .list_approvals(pb::ListApprovalsRequest {
            page_size: 1,
            page_token: "forged".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);

    // cat moves to boss2: the pending request follows the new manager.
    let mut admin = server.admin().await;
    let cat = &reports[2];
    admin
        .update_user(identity::UpdateUserRequest {
            user: Some(identity::User {
                id: cat.id.clone(),
                manager_id: boss2.id.clone(),
                etag: cat.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["manager_id".into()],
            }),
        })
        .await
        .unwrap();
    // The request service's directory replica follows identity's feed: moments, not a poll.
    let moved = sorted(vec![submitted[2].clone(), submitted[3].clone()]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while approvable(&mut as_boss2, 50).await != moved {
        assert!(std::time::Instant::now() < deadline, "boss2 never saw cat's request");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(approvable(&mut as_boss1, 50).await, sorted(submitted[..2].to_vec()));

    // A decided request leaves the index.
    as_boss1
        .approve_request(pb::DecideRequest {
            id: submitted[0].clone(),
            reason: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(approvable(&mut as_boss1, 50).await, vec![submitted[1].clone()]);
    let db = server.request_database().await;
    let left = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT COUNT(*) AS n FROM approval_keys WHERE request_id = '{}'",
                submitted[0]
            ),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(left, 0, "no key is left for a decided request");

    // Pending requests from before the index: found again once the server restarts.
    db.execute_unprepared("DELETE FROM approval_keys").await.unwrap();
    drop(db);
    assert!(
        approvable(&mut as_boss1, 50).await.is_empty(),
        "the listing reads the index"
    );
    let (data_dir, database_url, clock) = server.stop().await;
    let server = TestServer::start_with(data_dir, database_url, clock, vec![scripted.clone()]).await;
    let mut as_boss1 = server.requests_with(Some(&boss1_token)).await;
    let mut as_boss2 = server.requests_with(Some(&boss2_token)).await;
    assert_eq!(approvable(&mut as_boss1, 50).await, vec![submitted[1].clone()]);
    assert_eq!(
        approvable(&mut as_boss2, 50).await,
        sorted(vec![submitted[2].clone(), submitted[3].clone()])
    );
}
