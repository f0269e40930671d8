use latch_proto::identity::v1 as pb;
use tonic::Code;

use crate::harness::{ADMIN_TOKEN, TestServer};
use latch_identity::grpc::timestamp;

#[tokio::test]
async fn a_token_is_shown_once_works_until_revoked_and_is_stored_hashed() {
    let server = TestServer::start().await;
    let (_, mut bob) = server.user_with_token("bob").await;
    let created = bob
        .create_token(pb::CreateTokenRequest {
            description: "laptop".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(created.secret.starts_with("latch_"));
    let token = created.token.unwrap();
    assert!(created.secret.starts_with(&token.prefix));

    let mut with_new = server.client_with(Some(&created.secret)).await;
    with_new.who_am_i(pb::WhoAmIRequest {}).await.expect("new token works");

    let listed = bob
        .list_tokens(pb::ListTokensRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.tokens.len(), 2);
    let listing = format!("{listed:?}");
    assert!(!listing.contains(&created.secret), "listings never show secrets");

    bob.revoke_token(pb::RevokeTokenRequest { id: token.id.clone() })
        .await
        .unwrap();
    let status = with_new.who_am_i(pb::WhoAmIRequest {}).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn tokens_expire_by_the_clock() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let expire = server.clock.now_plus(chrono::TimeDelta::hours(1));
    let created = admin
        .create_token(pb::CreateTokenRequest {
            expire_time: Some(timestamp(expire)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut client = server.client_with(Some(&created.secret)).await;
    client
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .expect("valid before expiry");
    server.clock.advance(chrono::TimeDelta::hours(2));
    let status = client.who_am_i(pb::WhoAmIRequest {}).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let past = admin
        .create_token(pb::CreateTokenRequest {
            expire_time: Some(timestamp(expire)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(past.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn someone_elses_token_cannot_be_revoked_by_a_non_admin() {
    let server = TestServer::start().await;
    let (_, mut bob) = server.user_with_token("bob").await;
    let admin_tokens = server
        .admin()
        .await
        .list_tokens(pb::ListTokensRequest::default())
        .await
        .unwrap()
        .into_inner();
    let status = bob
        .revoke_token(pb::RevokeTokenRequest {
            id: admin_tokens.tokens[0].id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    server
        .client_with(Some(ADMIN_TOKEN))
        .await
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .expect("admin token untouched");
}

trait NowPlus {
    fn now_plus(&self, by: chrono::TimeDelta) -> chrono::DateTime<chrono::Utc>;
}

impl NowPlus for latch_runtime::clock::ManualClock {
    fn now_plus(&self, by: chrono::TimeDelta) -> chrono::DateTime<chrono::Utc> {
        use latch_runtime::Clock;
        self.now() + by
    }
}
