//! Integrations that must not take the server down: out-of-range settings (refused at create
//! and update, and harmless when an older version stored them), a connector that panics, and
//! remote endpoints that try to pass for loopback.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use latch_connector_sdk::{
    Config, Connector, ConnectorResult, Description, GrantOutcome, GrantRecord, GrantRequest, Resource,
};
use latch_proto::catalog::v1 as pb;
use latch_runtime::LatchConfig;
use sea_orm::ConnectionTrait;
use tonic::Code;

use crate::harness::{CatalogClient, TestServer, violated_fields};

async fn create_demo(
    catalog: &mut CatalogClient,
    name: &str,
    config: &[(&str, &str)],
) -> Result<pb::Integration, tonic::Status> {
    catalog
        .create_integration(pb::CreateIntegrationRequest {
            integration: Some(pb::Integration {
                display_name: name.into(),
                connector: "demo".into(),
                config: config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

fn violated_rules(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.description).collect())
        .unwrap_or_default()
}

/// The catalog's database, as the server opens it (to store what an older version could have).
async fn catalog_database(dir: &tempfile::TempDir, database_url: &str) -> sea_orm::DatabaseConnection {
    let config = LatchConfig {
        data_dir: dir.path().to_path_buf(),
        database_url: database_url.into(),
        ..LatchConfig::default()
    };
    latch_runtime::database::connect_context(&config, "catalog", latch_catalog::store::MIGRATIONS)
        .await
        .expect("catalog database")
}

async fn integration(catalog: &mut CatalogClient, id: &str) -> pb::Integration {
    catalog
        .get_integration(pb::GetIntegrationRequest { id: id.into() })
        .await
        .expect("get integration")
        .into_inner()
}

#[tokio::test]
async fn out_of_range_settings_are_refused_at_create_and_update_with_the_field_and_range() {
    let server = TestServer::start().await;
    let mut catalog = server.catalog_admin().await;
    for (field, value, range) in [
        ("resource_count", "10000000000", "from 0 to 100000"),
        ("resource_count", "1e18", "from 0 to 100000"),
        ("latency_ms", "1e18", "from 0 to 60000"),
        ("failure_rate", "NaN", "from 0 to 1"),
    ] {
        let status = create_demo(&mut catalog, "demo", &[(field, value)]).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}={value}");
        assert_eq!(violated_fields(&status), [format!("integration.config.{field}")]);
        let rules = violated_rules(&status);
        assert!(rules[0].contains(range), "{field}={value}: {rules:?}");
        let everything = format!("{} {rules:?}", status.message());
        assert!(
            !everything.contains("10000000000"),
            "the value is not echoed: {everything}"
        );
    }
    let none = catalog
        .list_integrations(pb::ListIntegrationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(none.integrations.is_empty(), "nothing was written");

    let created = create_demo(&mut catalog, "demo", &[("resource_count", "5")])
        .await
        .unwrap();
    let status = catalog
        .update_integration(pb::UpdateIntegrationRequest {
            id: created.id.clone(),
            config: HashMap::from([("failure_rate".into(), "2".into())]),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["integration.config.failure_rate"]);
    assert_eq!(
        integration(&mut catalog, &created.id).await.config["resource_count"],
        "5"
    );
    assert!(
        !integration(&mut catalog, &created.id)
            .await
            .config
            .contains_key("failure_rate")
    );
}

/// A value stored before ranges were checked: the restarted server keeps serving, and the
/// sync reports the problem on the integration instead of aborting the process.
#[tokio::test]
async fn a_bad_value_stored_by_an_older_version_is_reported_and_the_server_keeps_serving() {
    let server = TestServer::start().await;
    let mut catalog = server.catalog_admin().await;
    let bad = create_demo(&mut catalog, "bad", &[("resource_count", "5")])
        .await
        .unwrap();
    create_demo(&mut catalog, "good", &[]).await.unwrap();
    let (dir, url, clock) = server.stop().await;

    let database = catalog_database(&dir, &url).await;
    let changed = database
        .execute_unprepared(
            r#"UPDATE integrations SET doc = replace(doc, '"resource_count":"5"', '"resource_count":"10000000000"')
               WHERE doc LIKE '%"resource_count":"5"%'"#,
        )
        .await
        .expect("tamper");
    assert_eq!(changed.rows_affected(), 1);
    drop(database);

    let server = TestServer::start_on(dir, url, clock).await;
    let mut catalog = server.catalog_admin().await;
    let status = catalog
        .sync_integration(pb::SyncIntegrationRequest { id: "bad".into() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("resource_count"), "{}", status.message());
    assert!(status.message().contains("from 0 to 100000"), "{}", status.message());

    let reported = integration(&mut catalog, &bad.id).await;
    let problem = reported.status.unwrap();
    assert_eq!(problem.state, pb::integration_status::State::Error as i32);
    assert!(problem.problems[0].contains("resource_count"), "{:?}", problem.problems);
    assert!(reported.last_sync.unwrap().error.contains("resource_count"));

    // The server still serves, and the healthy integration still syncs.
    let synced = catalog
        .sync_integration(pb::SyncIntegrationRequest { id: "good".into() })
        .await
        .expect("the other integration syncs")
        .into_inner();
    assert_eq!(synced.summary.unwrap().resources, 10);
    // Fixing the value makes it work again.
    catalog
        .update_integration(pb::UpdateIntegrationRequest {
            id: bad.id.clone(),
            config: HashMap::from([("resource_count".into(), "7".into())]),
            ..Default::default()
        })
        .await
        .expect("update");
    let synced = catalog
        .sync_integration(pb::SyncIntegrationRequest { id: "bad".into() })
        .await
        .expect("sync after the fix")
        .into_inner();
    assert_eq!(synced.summary.unwrap().resources, 7);
}

/// A connector with a bug: every listing panics.
struct Panicking;

#[async_trait::async_trait]
impl Connector for Panicking {
    fn describe(&self) -> Description {
        Description {
            name: "panicking".into(),
            ..latch_connector_demo::DemoConnector::new().describe()
        }
    }
    async fn validate_config(&self, _: &Config) -> ConnectorResult<Vec<String>> {
        Ok(Vec::new())
    }
    async fn list_resources(&self, _: &Config) -> ConnectorResult<Vec<Resource>> {
        panic!("index out of bounds: the estate has 0 tables")
    }
    async fn grant(&self, _: &Config, _: &GrantRequest) -> ConnectorResult<GrantOutcome> {
        panic!("grant")
    }
    async fn extend(&self, _: &Config, _: &str, _: Option<DateTime<Utc>>) -> ConnectorResult<()> {
        panic!("extend")
    }
    async fn revoke(&self, _: &Config, _: &str) -> ConnectorResult<()> {
        panic!("revoke")
    }
    async fn list_grants(&self, _: &Config) -> ConnectorResult<Vec<GrantRecord>> {
        panic!("list_grants")
    }
}

#[tokio::test]
async fn a_panicking_connector_fails_its_call_and_the_server_keeps_serving() {
    let server = TestServer::start_with_connectors(vec![Arc::new(Panicking)]).await;
    let mut catalog = server.catalog_admin().await;
    let created = catalog
        .create_integration(pb::CreateIntegrationRequest {
            integration: Some(pb::Integration {
                display_name: "buggy".into(),
                connector: "panicking".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner();
    for _ in 0..2 {
        let status = catalog
            .sync_integration(pb::SyncIntegrationRequest { id: "buggy".into() })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(status.message().contains("panicked"), "{}", status.message());
        assert!(
            !status.message().contains("index out of bounds"),
            "{}",
            status.message()
        );
    }
    let recorded = integration(&mut catalog, &created.id).await.last_sync.unwrap();
    assert!(recorded.error.contains("panicked"), "{}", recorded.error);
    create_demo(&mut catalog, "demo", &[])
        .await
        .expect("the server still serves");
    catalog
        .sync_integration(pb::SyncIntegrationRequest { id: "demo".into() })
        .await
        .expect("and syncs other integrations");
}

/// A remote connector on loopback over mutual TLS, reachable under the spellings the tests
/// try, and a server whose catalog holds a certificate it admits.
async fn remote_demo() -> (latch_connector_sdk::testing::Served, TestServer) {
    let served =
        latch_connector_sdk::testing::serve_on_loopback(Arc::new(latch_connector_demo::DemoConnector::new())).await;
    let catalog = served.callers.catalog.clone();
    let server = TestServer::start_configured(
        Arc::new(tempfile::tempdir().unwrap()),
        crate::harness::fresh_postgres().await.unwrap_or_default(),
        latch_runtime::clock::ManualClock::new(crate::harness::epoch()),
        Vec::new(),
        Default::default(),
        move |config| {
            config.tls.cert_file = catalog.cert_file.display().to_string();
            config.tls.key_file = catalog.key_file.display().to_string();
            config.tls.ca_file = catalog.ca_file.display().to_string();
        },
    )
    .await;
    (served, server)
}

async fn create_remote(
    catalog: &mut CatalogClient,
    name: &str,
    endpoint: &str,
) -> Result<pb::Integration, tonic::Status> {
    catalog
        .create_integration(pb::CreateIntegrationRequest {
            integration: Some(pb::Integration {
                display_name: name.into(),
                connector: "remote".into(),
                endpoint: endpoint.into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn plain_http_endpoints_that_only_look_like_loopback_are_refused() {
    let (connector, server) = remote_demo().await;
    let mut catalog = server.catalog_admin().await;
    let port = connector.endpoint.rsplit(':').next().unwrap().to_string();
    for endpoint in [
        format!("http://127.0.0.1@0.0.0.0:{port}"),
        format!("http://127.0.0.1:{port}@0.0.0.0:{port}"),
        format!("http://127.0.0.1.example.org:{port}"),
        format!("http://localhost.example.org:{port}"),
        format!("http://[::ffff:127.0.0.1]:{port}"),
        format!("ftp://127.0.0.1:{port}"),
    ] {
        let status = create_remote(&mut catalog, "remote", &endpoint).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{endpoint}: {status:?}");
        assert_eq!(violated_fields(&status), ["integration.endpoint"], "{endpoint}");
    }
    // Plain text to loopback passes the endpoint rule, but the connector admits only callers
    // with the catalog's certificate: it never answers in plain text.
    let status = create_remote(&mut catalog, "plain", &format!("HTTP://0x7f.1:{port}"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    // What is stored (and dialled) is the canonical form.
    let created = create_remote(&mut catalog, "remote", &format!("HTTPS://0x7f.1:{port}"))
        .await
        .expect("mutual TLS to loopback");
    assert_eq!(created.endpoint, format!("https://127.0.0.1:{port}"));
    catalog
        .sync_integration(pb::SyncIntegrationRequest { id: "remote".into() })
        .await
        .expect("the remote connector is reached at the canonical endpoint");

    // An endpoint stored before the rule was strict is never dialled.
    let (dir, url, clock) = server.stop().await;
    let database = catalog_database(&dir, &url).await;
    database
        .execute_unprepared(&format!(
            "UPDATE integrations SET doc = replace(doc, 'https://127.0.0.1:{port}', 'https://127.0.0.1@0.0.0.0:{port}')"
        ))
        .await
        .expect("tamper");
    drop(database);
    let server = TestServer::start_on(dir, url, clock).await;
    let mut catalog = server.catalog_admin().await;
    let status = catalog
        .sync_integration(pb::SyncIntegrationRequest { id: "remote".into() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("user name"), "{}", status.message());
    drop(connector);
}
