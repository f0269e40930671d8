//! `IdentityInternal`: only Latch services call it; the directory replica follows membership
//! changes and group renames; changes say whom they affect.

use std::time::{Duration, Instant};

use latch_directory::DirectoryReplica;
use latch_proto::common::v1::Role;
use latch_proto::identity::v1 as pb;
use latch_proto::identity::v1::identity_internal_client::IdentityInternalClient;
use latch_runtime::peer::Peer;
use latch_runtime::service_identity::{ServiceKey, ServiceName};
use serde_json::json;
use tonic::Code;

use crate::harness::{ADMIN_TOKEN, Bearer, TestServer, create_group};
use crate::scim::Scim;

/// The key every process of the suite derives from its encryption key.
pub(crate) fn service_key(server: &TestServer) -> ServiceKey {
    let secrets = latch_runtime::crypto::SecretBox::from_config_or_file(
        "bGF0Y2gtZTJlLXRlc3Qta2V5LTAxMjM0NTY3ODkwMTI=",
        server.data_dir.path(),
    )
    .expect("suite key");
    ServiceKey::new(secrets.derive_key("service identity"))
}

pub(crate) fn peer(server: &TestServer, me: ServiceName) -> Peer {
    Peer::remote(
        ServiceName::Identity,
        &format!("http://{}", server.grpc_addr),
        me,
        service_key(server),
        &latch_tls::client::TlsConnector::plain(),
    )
    .expect("peer")
}

/// Polls `check` until it holds, and says how long that took (at most 3 s).
pub(crate) async fn until(mut check: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < Duration::from_secs(3), "never happened");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

#[tokio::test]
async fn identity_internal_refuses_user_tokens_and_services_it_does_not_list() {
    let server = TestServer::start().await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.grpc_addr))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut as_user = IdentityInternalClient::with_interceptor(channel, Bearer::token(ADMIN_TOKEN));
    let refused = as_user
        .authenticate(pb::AuthenticateRequest {
            token: ADMIN_TOKEN.into(),
        })
        .await
        .expect_err("an admin's token is not a service");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    let mut unlisted = IdentityInternalClient::new(peer(&server, ServiceName::Identity).channel());
    let refused = unlisted
        .get_feed_position(pb::GetFeedPositionRequest {})
        .await
        .expect_err("identity does not call itself");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    let mut flow = IdentityInternalClient::new(peer(&server, ServiceName::Flow).channel());
    let admin = flow
        .authenticate(pb::AuthenticateRequest {
            token: ADMIN_TOKEN.into(),
        })
        .await
        .expect("flow authenticates a token")
        .into_inner();
    assert!(admin.roles.contains(&(Role::Admin as i32)));
    // MFA is verified only by the request service, acting for the user.
    let refused = flow
        .verify_user_mfa(pb::VerifyUserMfaRequest {
            user_id: admin.user_id.clone(),
            code: "123456".into(),
        })
        .await
        .expect_err("flow does not verify MFA");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    // A token too long is refused without being echoed.
    let long = format!("latch_{}", "x".repeat(600));
    let refused = flow
        .authenticate(pb::AuthenticateRequest { token: long.clone() })
        .await
        .expect_err("too long");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(!refused.message().contains("xxxxxxxx"), "{}", refused.message());
    let refused = flow
        .authenticate(pb::AuthenticateRequest {
            token: "latch_wrong".into(),
        })
        .await
        .expect_err("unknown token");
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(!refused.message().contains("latch_wrong"));
}

#[tokio::test]
async fn the_replica_follows_membership_changes_and_group_renames() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let (gus, _) = server.user_secret("gus").await;
    let replica = DirectoryReplica::new(peer(&server, ServiceName::Flow));
    let _following = AbortOnDrop(replica.spawn());
    replica.wait_loaded().await.expect("loads");
    assert!(replica.facts("gus").is_some());
    assert!(replica.is_caught_up());

    let group = create_group(&mut admin, "payments", &["gus"], &[]).await;
    let groups = |replica: &DirectoryReplica| {
        replica
            .facts(&gus.id)
            .map(|f| f.groups.into_iter().map(|(_, name)| name).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    until(async || groups(&replica) == ["payments"]).await;

    // A rename names no user: the replica re-reads everyone.
    let scim = Scim::new(&server).await;
    let (status, _) = scim
        .patch(
            &format!("/Groups/{}", group.id),
            json!([{ "op": "replace", "path": "displayName", "value": "billing" }]),
        )
        .await;
    assert!(status.is_success(), "{status}");
    until(async || groups(&replica) == ["billing"]).await;

    // Waiting for a sequence returns once the replica holds it.
    let position = replica.sequence();
    admin
        .remove_group_member(pb::RemoveGroupMemberRequest {
            group_id: group.id.clone(),
            member: Some(pb::GroupMember {
                kind: pb::group_member::Kind::User as i32,
                id: gus.id.clone(),
                display: String::new(),
            }),
        })
        .await
        .expect("remove");
    replica.catch_up().await.expect("catch up");
    assert!(replica.sequence() > position);
    assert!(groups(&replica).is_empty());
    admin
        .delete_user(pb::DeleteUserRequest {
            id: gus.id.clone(),
            etag: String::new(),
        })
        .await
        .expect("delete");
    replica.catch_up().await.expect("catch up");
    assert!(replica.facts("gus").is_none());
    assert!(replica.everyone().iter().all(|f| f.user_name != "gus"));
}

#[tokio::test]
async fn changes_say_which_users_they_affect_and_whether_they_are_broad() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let (hal, _) = server.user_secret("hal").await;
    let inner = create_group(&mut admin, "inner", &["hal"], &[]).await;
    create_group(&mut admin, "outer", &[], &["inner"]).await;
    let mut flow = IdentityInternalClient::new(peer(&server, ServiceName::Flow).channel());
    let head = flow
        .get_feed_position(pb::GetFeedPositionRequest {})
        .await
        .expect("position")
        .into_inner()
        .sequence;
    let mut changes = flow
        .watch_changes(pb::WatchChangesRequest { after_sequence: 0 })
        .await
        .expect("watch")
        .into_inner();
    let mut seen = Vec::new();
    while seen.last().is_none_or(|c: &pb::Change| c.sequence < head) {
        seen.push(changes.message().await.expect("change").expect("open"));
    }
    let hal_created = seen
        .iter()
        .find(|c| c.kind == pb::change::Kind::UserUpserted as i32 && c.resource == format!("users/{}", hal.id))
        .expect("hal created");
    assert_eq!(hal_created.affected_users, vec![hal.id.clone()]);
    assert!(!hal_created.broad);
    let hal_joined = seen
        .iter()
        .find(|c| c.kind == pb::change::Kind::MemberAdded as i32 && c.resource == format!("groups/{}", inner.id))
        .expect("hal joined");
    assert_eq!(hal_joined.affected_users, vec![hal.id.clone()]);
    assert!(!hal_joined.broad);
    let nested = seen
        .iter()
        .rfind(|c| c.kind == pb::change::Kind::MemberAdded as i32)
        .expect("inner nested into outer");
    assert!(nested.broad && nested.affected_users.is_empty(), "{nested:?}");
    let created = seen
        .iter()
        .find(|c| c.kind == pb::change::Kind::GroupUpserted as i32)
        .expect("group created");
    assert!(created.broad);
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
