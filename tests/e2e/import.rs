use latch_proto::identity::v1 as pb;
use tonic::Code;

use crate::harness::{TestServer, violated_fields};

const DIRECTORY: &str = r#"
users:
  - user_name: alice
    email: alice@example.com
    attributes: { department: Engineering, skills: [rust, go] }
  - user_name: bob
    manager: alice
groups:
  - name: engineering
    members: [alice]
    groups: [sre]
  - name: sre
    members: [bob]
schedules:
  - name: sre-primary
    time_zone: UTC
    shift_hours: 24
    handoff_time: "09:00"
    start_date: "2026-11-01"
    members: [bob, alice]
"#;

#[tokio::test]
async fn import_is_idempotent_and_reports_what_it_did() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let first = admin
        .import_directory(pb::ImportDirectoryRequest {
            document: DIRECTORY.into(),
            dry_run: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.created.len(), 5, "{first:?}");
    let second = admin
        .import_directory(pb::ImportDirectoryRequest {
            document: DIRECTORY.into(),
            dry_run: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(second.created.is_empty() && second.changed.is_empty(), "{second:?}");
    assert_eq!(second.unchanged, 5);

    let bob = admin
        .resolve_subject(pb::ResolveSubjectRequest {
            user_id: "bob".into(),
            at: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(bob.manager.unwrap().user_name, "alice");
    let mut groups: Vec<_> = bob.groups.iter().map(|g| g.display_name.clone()).collect();
    groups.sort();
    assert_eq!(groups, ["engineering", "sre"]);

    let changed = DIRECTORY.replace("members: [bob]", "members: []");
    let dry = admin
        .import_directory(pb::ImportDirectoryRequest {
            document: changed.clone(),
            dry_run: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(dry.changed, ["group sre"]);
    let still = admin
        .get_group(pb::GetGroupRequest { id: "sre".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(still.members.len(), 1, "a dry run changes nothing");
}

#[tokio::test]
async fn import_with_unknown_references_changes_nothing() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let document = "users:\n  - user_name: carol\n    manager: nobody\ngroups:\n  - name: g\n    members: [ghost]\n";
    let status = admin
        .import_directory(pb::ImportDirectoryRequest {
            document: document.into(),
            dry_run: false,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["users[0].manager", "groups[0].members[0]"]);
    let users = admin
        .list_users(pb::ListUsersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(users.total_size, 1);
    let status = admin
        .import_directory(pb::ImportDirectoryRequest {
            document: "users: [ {name: x} ]".into(),
            dry_run: false,
        })
        .await
        .unwrap_err();
    // The path of the misspelt key, not just "the document".
    assert_eq!(violated_fields(&status), ["users[0].name"]);
}

#[tokio::test]
async fn import_refuses_cycles_and_manager_loops_before_writing_anything() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let document = "users:\n  - user_name: a\n    manager: b\n  - user_name: b\n    manager: a\ngroups:\n  - name: x\n    groups: [y]\n  - name: y\n    groups: [x]\nschedules:\n  - name: s\n    time_zone: Nowhere/Land\n    shift_hours: 24\n    handoff_time: \"09:00\"\n    start_date: \"2026-11-01\"\n    members: [a]\n";
    let status = admin
        .import_directory(pb::ImportDirectoryRequest {
            document: document.into(),
            dry_run: false,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = violated_fields(&status);
    for expected in [
        "users[0].manager",
        "users[1].manager",
        "groups[0].groups",
        "groups[1].groups",
        "schedules[0].time_zone",
    ] {
        assert!(
            fields.contains(&expected.to_string()),
            "{expected} missing from {fields:?}"
        );
    }
    let users = admin
        .list_users(pb::ListUsersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(users.total_size, 1, "nothing was written");
    let groups = admin
        .list_groups(pb::ListGroupsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(groups.groups.is_empty());
}
