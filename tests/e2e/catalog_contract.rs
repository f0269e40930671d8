//! The catalog's internal contract: its change feed (ordered, gap-free, resumable, also with
//! concurrent writers and across a restart), a tag change reaching a by-tag flow at once, the
//! gate that admits only flow and request, and connector calls proxied by the catalog so the
//! request service never holds an integration's secrets.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use latch_connector_demo::DemoConnector;
use latch_connector_sdk::{
    Config, Connector, ConnectorResult, Description, GrantOutcome, GrantRecord, GrantRequest, Resource,
};
use latch_proto::catalog::v1 as catalog;
use latch_proto::catalog::v1::catalog_change::Kind;
use latch_proto::catalog::v1::catalog_internal_client::CatalogInternalClient;
use latch_proto::connector::v1 as connector;
use latch_runtime::crypto::SecretBox;
use latch_runtime::peer::{Peer, PeerChannel};
use latch_runtime::service_identity::{ServiceKey, ServiceName};
use tonic::Code;

use crate::harness::{ADMIN_TOKEN, Bearer, TestServer};
use crate::request_support::{ask, create_flow, integration, item, person, wait_states};

/// The suite's encryption key (see the harness), from which services derive their signing key.
const ENCRYPTION_KEY: &str = "bGF0Y2gtZTJlLXRlc3Qta2V5LTAxMjM0NTY3ODkwMTI=";

fn internal_as(server: &TestServer, me: ServiceName) -> CatalogInternalClient<PeerChannel> {
    let key = SecretBox::from_base64(ENCRYPTION_KEY)
        .expect("suite key")
        .derive_key("service identity");
    let peer = Peer::remote(
        ServiceName::Catalog,
        &format!("http://{}", server.grpc_addr),
        me,
        ServiceKey::new(key),
        &latch_tls::client::TlsConnector::plain(),
    )
    .expect("peer");
    CatalogInternalClient::new(peer.channel())
}

/// `count` changes after `after`, as the feed sends them.
async fn changes(server: &TestServer, after: i64, count: usize) -> Vec<catalog::CatalogChange> {
    let mut stream = internal_as(server, ServiceName::Flow)
        .watch_changes(catalog::WatchCatalogChangesRequest { after_sequence: after })
        .await
        .expect("watch")
        .into_inner();
    let mut got = Vec::new();
    while got.len() < count {
        let next = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("changes arrive")
            .expect("stream")
            .expect("stream open");
        got.push(next);
    }
    got
}

fn sequences(changes: &[catalog::CatalogChange]) -> Vec<i64> {
    changes.iter().map(|c| c.sequence).collect()
}

fn kinds(changes: &[catalog::CatalogChange]) -> Vec<Kind> {
    changes.iter().map(|c| c.kind()).collect()
}

async fn tag(server: &TestServer, resource: &str, key: &str, value: &str) {
    server
        .catalog_admin()
        .await
        .update_resource(catalog::UpdateResourceRequest {
            integration: "shop".into(),
            id: resource.into(),
            set_tags: [(key.to_string(), value.to_string())].into(),
            ..Default::default()
        })
        .await
        .expect("tag resource");
}

fn bundle(name: &str) -> catalog::CreateBundleRequest {
    catalog::CreateBundleRequest {
        bundle: Some(catalog::Bundle {
            display_name: name.into(),
            targets: vec![catalog::IntegrationTarget {
                integration: "shop".into(),
                resource_type: "table".into(),
                permissions: vec!["read".into()],
                selection: Some(catalog::Selection {
                    mode: catalog::selection::Mode::Any as i32,
                    ..Default::default()
                }),
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_change_feed_is_ordered_gap_free_and_resumes_after_a_restart() {
    let server = TestServer::start().await;
    integration(&server, "shop", "demo", &[]).await;
    tag(&server, "table:orders-prod/orders", "reviewed", "yes").await;
    let mut admin = server.catalog_admin().await;
    let created = admin
        .create_bundle(bundle("orders"))
        .await
        .expect("bundle")
        .into_inner();
    admin
        .create_space(catalog::CreateSpaceRequest {
            space: Some(catalog::Space {
                display_name: "payments".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("space");

    let all = changes(&server, 0, 5).await;
    assert_eq!(sequences(&all), [1, 2, 3, 4, 5]);
    assert_eq!(
        kinds(&all),
        [
            Kind::IntegrationCreated,
            Kind::IntegrationSynced,
            Kind::ResourceUpdated,
            Kind::BundleCreated,
            Kind::SpaceCreated
        ]
    );
    assert!(
        all[2].resource.ends_with("/resources/table:orders-prod/orders"),
        "{:?}",
        all[2]
    );
    assert_eq!(all[3].resource, format!("bundles/{}", created.id));
    assert!(
        all.iter().all(|c| c.actor.starts_with("users/") && c.at.is_some()),
        "{all:?}"
    );

    // After a restart the same feed, resumed from a cursor.
    let (data_dir, database_url, clock) = server.stop().await;
    let server = TestServer::start_on(data_dir, database_url, clock).await;
    let resumed = changes(&server, 2, 3).await;
    assert_eq!(resumed, all[2..]);

    // A watcher caught up receives the next change live.
    let live = {
        let server_addr = &server;
        let watching = changes(server_addr, 5, 1);
        let deleting = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            server
                .catalog_admin()
                .await
                .delete_bundle(catalog::DeleteBundleRequest { id: created.id.clone() })
                .await
                .expect("delete bundle");
        };
        tokio::join!(watching, deleting).0
    };
    assert_eq!(sequences(&live), [6]);
    assert_eq!(kinds(&live), [Kind::BundleDeleted]);
}

#[tokio::test]
async fn concurrent_writers_and_replicas_number_changes_without_gaps() {
    let first = TestServer::start().await;
    integration(&first, "shop", "demo", &[]).await;
    // On PostgreSQL a second replica writes to the same catalog at the same time.
    let second = if first.database_url.is_empty() {
        None
    } else {
        Some(
            TestServer::try_start_configured(
                first.data_dir.clone(),
                first.database_url.clone(),
                first.clock.clone(),
                Vec::new(),
                latchd::AppOptions::default(),
                |_| {},
            )
            .await
            .expect("a replica on the same database"),
        )
    };
    const WRITERS: usize = 6;
    const EACH: usize = 5;
    let watched = changes(&first, 2, WRITERS * EACH);
    let watched_on_second = async {
        match &second {
            Some(second) => Some(changes(second, 2, WRITERS * EACH).await),
            None => None,
        }
    };
    let writes = futures::future::join_all((0..WRITERS).map(|writer| {
        let server = match (&second, writer % 2) {
            (Some(second), 1) => second,
            _ => &first,
        };
        async move {
            for round in 0..EACH {
                tag(
                    server,
                    "table:orders-prod/orders",
                    &format!("w{writer}"),
                    &format!("r{round}"),
                )
                .await;
            }
        }
    }));
    let (watched, on_second, ()) = tokio::join!(watched, watched_on_second, async {
        writes.await;
    });
    let expected: Vec<i64> = (3..3 + (WRITERS * EACH) as i64).collect();
    assert_eq!(sequences(&watched), expected);
    assert!(kinds(&watched).iter().all(|k| *k == Kind::ResourceUpdated));
    // Read back afterwards, the table holds exactly what the live watcher saw.
    assert_eq!(changes(&first, 2, WRITERS * EACH).await, watched);
    if let Some(on_second) = on_second {
        assert_eq!(on_second, watched, "every replica serves one feed");
    }
}

const BY_TAG: &str = r#"
name: reviewed tables
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: shop, resource_type: table, permissions: [read], mode: include, tags: [{ key: reviewed, values: ["yes"] }] }
grant_for: { custom: 2h }
settings: { require_justification: false }
"#;

#[tokio::test]
async fn a_resource_tagged_in_the_catalog_reaches_a_by_tag_flow_within_a_second() {
    let server = TestServer::start().await;
    integration(&server, "shop", "demo", &[]).await;
    let (_ada, ada_token) = person(&server, "ada", "Engineering", "").await;
    create_flow(&server, BY_TAG).await;
    let mut as_ada = server.requests_with(Some(&ada_token)).await;
    let wanted = || ask(vec![item("shop", "table:orders-staging/customers", "read")], "1h");
    let refused = as_ada.submit_request(wanted()).await.expect_err("not tagged yet");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");

    tag(&server, "table:orders-staging/customers", "reviewed", "yes").await;
    let tagged_at = Instant::now();
    let submitted = loop {
        match as_ada.submit_request(wanted()).await {
            Ok(submitted) => break submitted.into_inner(),
            Err(status) if status.code() == Code::FailedPrecondition => {
                assert!(
                    tagged_at.elapsed() < Duration::from_secs(1),
                    "the tag did not reach the flow within 1 s: {status:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => panic!("{status:?}"),
        }
    };
    assert_eq!(submitted.flow_name, "reviewed tables");
}

#[tokio::test]
async fn catalog_internal_refuses_user_tokens_and_services_it_does_not_serve() {
    let server = TestServer::start().await;
    integration(&server, "shop", "demo", &[]).await;
    let find = || catalog::FindIntegrationRequest {
        id_or_name: "shop".into(),
    };

    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.grpc_addr))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut as_admin_user = CatalogInternalClient::with_interceptor(channel, Bearer::token(ADMIN_TOKEN));
    let refused = as_admin_user.find_integration(find()).await.expect_err("a user token");
    assert!(
        matches!(refused.code(), Code::PermissionDenied | Code::Unauthenticated),
        "{refused:?}"
    );

    let refused = internal_as(&server, ServiceName::Identity)
        .find_integration(find())
        .await
        .expect_err("identity is not a caller of the catalog's internal service");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    for allowed in [ServiceName::Flow, ServiceName::Request] {
        let found = internal_as(&server, allowed)
            .find_integration(find())
            .await
            .expect("flow and request are served")
            .into_inner();
        assert!(found.found && found.display_name == "shop", "{found:?}");
    }
}

/// The demo connector under another name, keeping the config of every grant call it gets.
#[derive(Default)]
struct Recording {
    inner: DemoConnector,
    grant_configs: Mutex<Vec<Config>>,
}

#[async_trait::async_trait]
impl Connector for Recording {
    fn describe(&self) -> Description {
        Description {
            name: "recording".into(),
            ..self.inner.describe()
        }
    }

    async fn validate_config(&self, config: &Config) -> ConnectorResult<Vec<String>> {
        self.inner.validate_config(config).await
    }

    async fn list_resources(&self, config: &Config) -> ConnectorResult<Vec<Resource>> {
        self.inner.list_resources(config).await
    }

    async fn grant(&self, config: &Config, request: &GrantRequest) -> ConnectorResult<GrantOutcome> {
        self.grant_configs.lock().unwrap().push(config.clone());
        self.inner.grant(config, request).await
    }

    async fn extend(&self, config: &Config, grant_id: &str, expires_at: Option<DateTime<Utc>>) -> ConnectorResult<()> {
        self.inner.extend(config, grant_id, expires_at).await
    }

    async fn revoke(&self, config: &Config, grant_id: &str) -> ConnectorResult<()> {
        self.inner.revoke(config, grant_id).await
    }

    async fn list_grants(&self, config: &Config) -> ConnectorResult<Vec<GrantRecord>> {
        self.inner.list_grants(config).await
    }
}

const SECRET: &str = "hunter2-only-the-catalog-knows";

const SELF_SERVE: &str = r#"
name: shop tables
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: shop, resource_type: table, permissions: [read], mode: any }
grant_for: { custom: 2h }
settings: { require_justification: false }
"#;

#[tokio::test]
async fn grants_go_through_the_catalog_which_alone_holds_the_integration_secret() {
    let recording = Arc::new(Recording::default());
    let server = TestServer::start_with_connectors(vec![recording.clone()]).await;
    server
        .catalog_admin()
        .await
        .create_integration(catalog::CreateIntegrationRequest {
            integration: Some(catalog::Integration {
                display_name: "shop".into(),
                connector: "recording".into(),
                ..Default::default()
            }),
            secrets: HashMap::from([("api_key".to_string(), SECRET.to_string())]),
            ..Default::default()
        })
        .await
        .expect("create integration");
    server
        .catalog_admin()
        .await
        .sync_integration(catalog::SyncIntegrationRequest { id: "shop".into() })
        .await
        .expect("sync");
    let (_ada, ada_token) = person(&server, "ada", "Engineering", "").await;
    create_flow(&server, SELF_SERVE).await;
    let mut as_ada = server.requests_with(Some(&ada_token)).await;
    let submitted = as_ada
        .submit_request(ask(vec![item("shop", "table:orders-prod/orders", "read")], "1h"))
        .await
        .expect("submit")
        .into_inner();
    wait_states(&server, &mut as_ada, std::slice::from_ref(&submitted.id), &["active"]).await;

    // The connector got the secret, from the catalog.
    let configs = recording.grant_configs.lock().unwrap().clone();
    assert_eq!(configs.len(), 1);
    assert_eq!(configs[0].get("api_key").map(String::as_str), Some(SECRET));

    // The proxy takes no config from its caller: whatever the request service sends, it
    // cannot have been config (a grant carrying config is refused, and the grant above passed).
    let mut as_request = internal_as(&server, ServiceName::Request);
    let integration_id = as_request
        .find_integration(catalog::FindIntegrationRequest {
            id_or_name: "shop".into(),
        })
        .await
        .expect("find")
        .into_inner()
        .id;
    let grant = |config: BTreeMap<&str, &str>| catalog::ProxyGrantRequest {
        integration_id: integration_id.clone(),
        grant: Some(connector::GrantRequest {
            grant_id: "proxy-test".into(),
            config: config
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            grantee: Some(connector::Grantee {
                user_id: "u1".into(),
                user_name: "ada".into(),
                ..Default::default()
            }),
            resource_type: "table".into(),
            resource_id: "table:orders-prod/customers".into(),
            permission: "read".into(),
            ..Default::default()
        }),
    };
    let refused = as_request
        .grant(grant(BTreeMap::from([("api_key", "guess")])))
        .await
        .expect_err("config from the caller is refused");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("grant.config") || !crate::harness::violated_fields(&refused).is_empty());
    assert!(!refused.message().contains(SECRET));
    as_request
        .grant(grant(BTreeMap::new()))
        .await
        .expect("granted by the catalog");
    assert_eq!(
        recording
            .grant_configs
            .lock()
            .unwrap()
            .last()
            .and_then(|c| c.get("api_key").cloned()),
        Some(SECRET.to_string())
    );

    // Describing the connector names the secret field, never its value.
    let described = as_request
        .describe_connector(catalog::IntegrationConnectorRequest {
            integration_id: integration_id.clone(),
        })
        .await
        .expect("describe")
        .into_inner();
    assert!(!format!("{described:?}").contains(SECRET));
}

#[tokio::test]
async fn a_connector_slower_than_the_default_peer_deadline_still_grants_through_the_catalog() {
    use latch_request::ports::Targets;

    let server = TestServer::start().await;
    integration(&server, "shop", "demo", &[]).await;
    server
        .catalog_admin()
        .await
        .update_integration(catalog::UpdateIntegrationRequest {
            id: "shop".into(),
            config: HashMap::from([("latency_ms".to_string(), "6000".to_string())]),
            ..Default::default()
        })
        .await
        .expect("slow the connector down");
    let key = SecretBox::from_base64(ENCRYPTION_KEY)
        .expect("suite key")
        .derive_key("service identity");
    let peer = Peer::remote(
        ServiceName::Catalog,
        &format!("http://{}", server.grpc_addr),
        ServiceName::Request,
        ServiceKey::new(key),
        &latch_tls::client::TlsConnector::plain(),
    )
    .expect("peer");
    let targets = latch_request::peers::catalog::CatalogPeer::new(peer);
    let (integration_id, _) = targets.integration("shop").await.expect("integration");
    let connector = targets.connector(&integration_id).await.expect("connector");
    let started = Instant::now();
    let outcome = connector
        .grant(
            &Config::new(),
            &GrantRequest {
                grant_id: "slow-grant".into(),
                grantee: latch_connector_sdk::Grantee {
                    user_id: "u1".into(),
                    user_name: "ada".into(),
                    ..Default::default()
                },
                resource_type: "table".into(),
                resource_id: "table:orders-prod/orders".into(),
                permission: "read".into(),
                expires_at: None,
                context: Default::default(),
            },
        )
        .await
        .expect("a slow grant is waited for, not cut off at the default deadline");
    assert!(started.elapsed() > latch_runtime::peer::DEFAULT_DEADLINE);
    assert!(!outcome.account.is_empty());
}
