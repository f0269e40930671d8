use latch_proto::common::v1::Role;
use latch_proto::identity::v1 as pb;
use tonic::Code;

use crate::harness::{TestServer, create_group, create_user, violated_fields};

#[tokio::test]
async fn subjects_resolve_nested_groups_manager_and_reports() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let boss = create_user(&mut admin, "boss", &[], "").await;
    let ada = create_user(&mut admin, "ada", &[("department", "Engineering")], &boss.id).await;
    let intern = create_user(&mut admin, "intern", &[], &ada.id).await;
    let sre = create_group(&mut admin, "sre", &[&ada.id], &[]).await;
    let eng = create_group(&mut admin, "engineering", &[], &[&sre.id]).await;
    create_group(&mut admin, "everyone", &[], &[&eng.id]).await;
    create_group(&mut admin, "finance", &[&boss.id], &[]).await;

    let subject = admin
        .resolve_subject(pb::ResolveSubjectRequest {
            user_id: "ada".into(),
            at: None,
        })
        .await
        .unwrap()
        .into_inner();
    let mut groups: Vec<_> = subject.groups.iter().map(|g| g.display_name.as_str()).collect();
    groups.sort();
    assert_eq!(groups, ["engineering", "everyone", "sre"]);
    assert_eq!(subject.manager.unwrap().id, boss.id);
    assert_eq!(
        subject.direct_reports.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        [intern.id.as_str()]
    );
    let user = subject.user.unwrap();
    assert_eq!(user.attributes[0].key, "department");

    // Leaving the inner group removes every group above it.
    admin
        .remove_group_member(pb::RemoveGroupMemberRequest {
            group_id: "sre".into(),
            member: Some(pb::GroupMember {
                kind: pb::group_member::Kind::User as i32,
                id: "ada".into(),
                display: String::new(),
            }),
        })
        .await
        .unwrap();
    let subject = admin
        .resolve_subject(pb::ResolveSubjectRequest {
            user_id: ada.id.clone(),
            at: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(subject.groups.is_empty());
}

#[tokio::test]
async fn nesting_that_would_make_a_cycle_is_refused() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let a = create_group(&mut admin, "a", &[], &[]).await;
    let b = create_group(&mut admin, "b", &[], &[&a.id]).await;
    create_group(&mut admin, "c", &[], &[&b.id]).await;
    let status = admin
        .add_group_member(pb::AddGroupMemberRequest {
            group_id: a.id.clone(),
            member: Some(pb::GroupMember {
                kind: pb::group_member::Kind::Group as i32,
                id: "c".into(),
                display: String::new(),
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["members[0].id"]);
    let a = admin
        .get_group(pb::GetGroupRequest { id: a.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(a.members.is_empty(), "nothing was written");
}

#[tokio::test]
async fn the_configured_admin_group_makes_its_nested_members_admins() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let (bob, mut bob_client) = server.user_with_token("bob").await;
    let status = bob_client
        .list_tokens(pb::ListTokensRequest { all_users: true })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let platform = create_group(&mut admin, "platform", &[&bob.id], &[]).await;
    create_group(&mut admin, "latch-admins", &[], &[&platform.id]).await;
    let me = bob_client.who_am_i(pb::WhoAmIRequest {}).await.unwrap().into_inner();
    assert!(me.roles.contains(&(Role::Admin as i32)));
    bob_client
        .list_tokens(pb::ListTokensRequest { all_users: true })
        .await
        .expect("admin now");
}

#[tokio::test]
async fn group_changes_cannot_remove_the_last_admin() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let (bob, mut bob_client) = server.user_with_token("bob").await;
    let admins = create_group(&mut admin, "latch-admins", &[&bob.id], &[]).await;
    // The bootstrap admin steps down; bob stays admin through the group only.
    let me = admin
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    admin
        .revoke_role(pb::RevokeRoleRequest {
            user_id: me.id.clone(),
            role: Role::Admin as i32,
        })
        .await
        .expect("bob is still admin");
    let remove_bob = pb::RemoveGroupMemberRequest {
        group_id: admins.id.clone(),
        member: Some(pb::GroupMember {
            kind: pb::group_member::Kind::User as i32,
            id: bob.id.clone(),
            display: String::new(),
        }),
    };
    let status = bob_client.remove_group_member(remove_bob.clone()).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    let status = bob_client
        .delete_group(pb::DeleteGroupRequest { id: admins.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    // With a granted admin again, the group may go.
    bob_client
        .grant_role(pb::GrantRoleRequest {
            user_id: me.id.clone(),
            role: Role::Admin as i32,
        })
        .await
        .unwrap();
    bob_client
        .remove_group_member(remove_bob)
        .await
        .expect("another admin exists now");
}
