use latch_proto::common::v1::Role;
use latch_proto::identity::v1 as pb;
use tonic::Code;
use tonic_health::pb::health_client::HealthClient;

use crate::harness::TestServer;

#[tokio::test]
async fn health_and_reflection_need_no_token_but_everything_else_does() {
    let server = TestServer::start().await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let health = HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: "latch.identity.v1.IdentityService".into(),
        })
        .await
        .expect("health needs no token")
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let mut anonymous = server.client_with(None).await;
    let status = anonymous.who_am_i(pb::WhoAmIRequest {}).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    let mut forged = server.client_with(Some("latch_not_a_real_token_at_all_00000")).await;
    let status = forged.who_am_i(pb::WhoAmIRequest {}).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn whoami_reports_the_token_owner_and_roles() {
    let server = TestServer::start().await;
    let me = server
        .admin()
        .await
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.user.unwrap().user_name, "admin");
    assert!(me.roles.contains(&(Role::Admin as i32)));
}

#[tokio::test]
async fn admin_calls_refuse_other_users_and_change_nothing() {
    let server = TestServer::start().await;
    let (_, mut bob) = server.user_with_token("bob").await;
    let status = bob
        .create_user(pb::CreateUserRequest {
            user: Some(pb::User {
                user_name: "mallory".into(),
                active: true,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = bob
        .create_token(pb::CreateTokenRequest {
            scope: pb::api_token::Scope::Scim as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "only admins mint SCIM tokens");
    // Reads are open to any authenticated user.
    let users = bob
        .list_users(pb::ListUsersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(users.users.iter().all(|u| u.user_name != "mallory"));
    let me = bob.who_am_i(pb::WhoAmIRequest {}).await.unwrap().into_inner();
    assert_eq!(me.roles, vec![Role::User as i32]);
}

#[tokio::test]
async fn a_scim_token_cannot_call_the_grpc_api() {
    let server = TestServer::start().await;
    let scim = server.scim_token().await;
    let status = server
        .client_with(Some(&scim))
        .await
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn identity_comes_from_the_token_not_from_request_fields() {
    let server = TestServer::start().await;
    let (alice, _) = server.user_with_token("alice").await;
    let (_, mut bob) = server.user_with_token("bob").await;
    // Bob may not mint tokens for Alice (and VerifyMfa has no user field at all: it verifies
    // the caller's own enrollment).
    let status = bob
        .create_token(pb::CreateTokenRequest {
            user_id: alice.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn reflection_lists_the_identity_service_without_a_token() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let server = TestServer::start().await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("reflection needs no token")
        .into_inner();
    let response = responses.message().await.unwrap().expect("one response");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("expected a service list, got {response:?}");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"latch.identity.v1.IdentityService"), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
}
