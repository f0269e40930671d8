//! Authentication without identity in the process: `RemoteAuthenticator` over
//! `IdentityInternal.Authenticate` drops a removed admin role, a deactivated user and a revoked
//! token within a second, also in a process that runs only the catalog.

use std::time::Duration;

use chrono::TimeDelta;
use latch_proto::common::v1::Role;
use latch_proto::identity::v1 as pb;
use latch_runtime::auth::Authenticator;
use latch_runtime::remote_auth::RemoteAuthenticator;
use latch_runtime::service_identity::ServiceName;
use tonic::Code;

use crate::harness::TestServer;
use crate::identity_internal::{peer, until};

#[tokio::test]
async fn through_remote_authentication_a_removed_admin_role_a_deactivated_user_and_a_revoked_token_stop_within_a_second()
 {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let (dana, dana_secret) = server.user_secret("dana").await;
    let (_, erin_secret) = server.user_secret("erin").await;
    admin
        .grant_role(pb::GrantRoleRequest {
            user_id: dana.id.clone(),
            role: Role::Admin as i32,
        })
        .await
        .expect("grant");
    let auth = RemoteAuthenticator::new(peer(&server, ServiceName::Catalog));
    let caller = auth.authenticate(&dana_secret).await.expect("dana");
    assert!(caller.is_admin());
    // The clock Latch reads moves; the cache runs on real time all the same.
    server.clock.advance(TimeDelta::hours(1));

    admin
        .revoke_role(pb::RevokeRoleRequest {
            user_id: dana.id.clone(),
            role: Role::Admin as i32,
        })
        .await
        .expect("revoke role");
    let took = until(async || !auth.authenticate(&dana_secret).await.expect("dana").is_admin()).await;
    assert!(
        took < Duration::from_secs(1),
        "admin role still honoured after {took:?}"
    );

    admin
        .update_user(pb::UpdateUserRequest {
            user: Some(pb::User {
                id: dana.id.clone(),
                active: false,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["active".into()],
            }),
        })
        .await
        .expect("deactivate");
    let took = until(async || auth.authenticate(&dana_secret).await.is_err()).await;
    assert!(
        took < Duration::from_secs(1),
        "a deactivated user still authenticated after {took:?}"
    );
    server.clock.advance(TimeDelta::minutes(5));

    let erin = auth.authenticate(&erin_secret).await.expect("erin");
    admin
        .revoke_token(pb::RevokeTokenRequest { id: erin.token_id })
        .await
        .expect("revoke token");
    let took = until(async || auth.authenticate(&erin_secret).await.is_err()).await;
    assert!(
        took < Duration::from_secs(1),
        "a revoked token still worked after {took:?}"
    );
    match auth.authenticate(&erin_secret).await {
        Err(latch_runtime::ServiceError::Unauthenticated(message)) => {
            assert!(!message.contains(&erin_secret))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_process_without_identity_authenticates_through_it_and_drops_a_revoked_token_within_a_second() {
    let server = TestServer::start().await;
    let data_dir = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
    let database_url = crate::harness::fresh_postgres().await.unwrap_or_default();
    let identity_url = format!("http://{}", server.grpc_addr);
    let catalog_only = TestServer::start_configured(
        data_dir,
        database_url,
        server.clock.clone(),
        Vec::new(),
        latchd::AppOptions {
            services: vec!["catalog".into()],
            ..Default::default()
        },
        |config| {
            config.peers.identity = identity_url;
            config.catalog.encryption_keys.0 = format!("k1:{}", crate::split_harness::context_key("catalog"));
        },
    )
    .await;
    let (_, secret) = server.user_secret("fay").await;
    let mut catalog = catalog_only.catalog_with(Some(&secret)).await;
    let list = || latch_proto::catalog::v1::ListIntegrationsRequest::default();
    catalog
        .list_integrations(list())
        .await
        .expect("fay's token works in the catalog process");
    let mut fay = server.client_with(Some(&secret)).await;
    let token = fay.who_am_i(pb::WhoAmIRequest {}).await.expect("whoami").into_inner();
    server
        .admin()
        .await
        .revoke_token(pb::RevokeTokenRequest { id: token.token_id })
        .await
        .expect("revoke");
    let took = until(async || {
        matches!(catalog.list_integrations(list()).await, Err(status) if status.code() == Code::Unauthenticated)
    })
    .await;
    assert!(took < Duration::from_secs(1), "revoked token worked for {took:?}");
}

#[tokio::test]
async fn a_process_without_identity_and_no_identity_peer_refuses_to_start_naming_the_setting() {
    let data_dir = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
    let error = match TestServer::try_start_configured(
        data_dir,
        String::new(),
        latch_runtime::clock::ManualClock::new(crate::harness::epoch()),
        Vec::new(),
        latchd::AppOptions {
            services: vec!["catalog".into()],
            ..Default::default()
        },
        |_| {},
    )
    .await
    {
        Ok(_) => panic!("started without identity"),
        Err(error) => error,
    };
    assert!(error.contains("peers.identity"), "{error}");
}
