use latch_proto::identity::v1 as pb;
use tonic::Code;

use crate::harness::{TestServer, create_user, violated_fields};

#[tokio::test]
async fn invalid_users_are_refused_with_every_field_named_and_nothing_written() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let status = admin
        .create_user(pb::CreateUserRequest {
            user: Some(pb::User {
                user_name: "has space".into(),
                email: "not-an-email".into(),
                active: true,
                attributes: vec![latch_proto::common::v1::Attribute {
                    key: "Bad Key".into(),
                    values: vec!["x".into()],
                }],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = violated_fields(&status);
    assert!(fields.contains(&"user.user_name".to_string()), "{fields:?}");
    assert!(fields.contains(&"user.email".to_string()), "{fields:?}");
    assert!(fields.iter().any(|f| f.starts_with("user.attributes.")), "{fields:?}");
    let users = admin
        .list_users(pb::ListUsersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(users.total_size, 1, "only the bootstrap admin exists");
}

#[tokio::test]
async fn user_names_are_unique_regardless_of_case_and_creates_are_idempotent() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    create_user(&mut admin, "Ada", &[], "").await;
    let status = admin
        .create_user(pb::CreateUserRequest {
            user: Some(pb::User {
                user_name: "ada".into(),
                active: true,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);

    let request = pb::CreateUserRequest {
        user: Some(pb::User {
            user_name: "grace".into(),
            active: true,
            ..Default::default()
        }),
        request_id: "req-1".into(),
    };
    let first = admin.create_user(request.clone()).await.unwrap().into_inner();
    let retry = admin.create_user(request).await.unwrap().into_inner();
    assert_eq!(first.id, retry.id, "a retried create returns the same user");
}

#[tokio::test]
async fn updates_follow_the_field_mask_and_refuse_stale_etags() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let ada = create_user(&mut admin, "ada", &[("department", "Engineering")], "").await;
    let updated = admin
        .update_user(pb::UpdateUserRequest {
            user: Some(pb::User {
                id: ada.id.clone(),
                display_name: "Ada L.".into(),
                email: "ignored@x.io".into(),
                etag: ada.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types_mask(&["display_name"])),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.display_name, "Ada L.");
    assert_eq!(
        updated.email, "ada@example.com",
        "fields outside the mask are untouched"
    );
    assert_ne!(updated.etag, ada.etag);

    let status = admin
        .update_user(pb::UpdateUserRequest {
            user: Some(pb::User {
                id: ada.id.clone(),
                display_name: "Stale".into(),
                etag: ada.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types_mask(&["display_name"])),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    let status = admin
        .update_user(pb::UpdateUserRequest {
            user: Some(pb::User {
                id: ada.id.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types_mask(&["password"])),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["update_mask"]);
}

fn prost_types_mask(paths: &[&str]) -> prost_types::FieldMask {
    prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    }
}

#[tokio::test]
async fn managers_give_direct_reports_and_deleting_a_manager_unlinks_them() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let boss = create_user(&mut admin, "boss", &[], "").await;
    let report = create_user(&mut admin, "report", &[], &boss.id).await;
    let reports = admin
        .list_direct_reports(pb::ListDirectReportsRequest { user_id: "boss".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        reports.users.iter().map(|u| u.user_name.as_str()).collect::<Vec<_>>(),
        ["report"]
    );
    let answer = admin
        .is_direct_report(pb::IsDirectReportRequest {
            user_id: report.id.clone(),
            manager_id: boss.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(answer.direct_report);
    let reverse = admin
        .is_direct_report(pb::IsDirectReportRequest {
            user_id: boss.id.clone(),
            manager_id: report.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!reverse.direct_report);

    // A manager loop is refused.
    let status = admin
        .update_user(pb::UpdateUserRequest {
            user: Some(pb::User {
                id: boss.id.clone(),
                manager_id: report.id.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types_mask(&["manager_id"])),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["user.manager_id"]);

    admin
        .delete_user(pb::DeleteUserRequest {
            id: boss.id.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    let report = admin
        .get_user(pb::GetUserRequest { id: report.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.manager_id, "");
}

#[tokio::test]
async fn listing_pages_through_every_user_once() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    for i in 0..7 {
        create_user(
            &mut admin,
            &format!("user{i}"),
            &[("team", if i % 2 == 0 { "even" } else { "odd" })],
            "",
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = admin
            .list_users(pb::ListUsersRequest {
                page_size: 3,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.users.into_iter().map(|u| u.user_name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 8);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 8);
    let odd = admin
        .list_users(pb::ListUsersRequest {
            attribute: "team=odd".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(odd.total_size, 3);
}

#[tokio::test]
async fn the_last_admin_cannot_be_deleted_or_demoted() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let me = admin
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    let status = admin
        .delete_user(pb::DeleteUserRequest {
            id: me.id.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    let status = admin
        .revoke_role(pb::RevokeRoleRequest {
            user_id: me.id.clone(),
            role: latch_proto::common::v1::Role::Admin as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
}
