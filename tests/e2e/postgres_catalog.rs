//! The local PostgreSQL added as an integration: its databases, schemas and tables appear in the
//! catalog, and an integration holding grants cannot be deleted.

use std::collections::HashMap;

use latch_proto::catalog::v1 as pb;
use sea_orm::ConnectionTrait;
use tonic::Code;

use crate::harness::TestServer;

pub fn server_url() -> String {
    std::env::var("LATCH_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database with one table, dropped when the guard goes.
pub struct ScratchDatabase {
    pub name: String,
}

impl ScratchDatabase {
    pub async fn create() -> Self {
        let name = format!("latch_cat_{}", uuid::Uuid::new_v4().simple());
        let admin = sea_orm::Database::connect(server_url())
            .await
            .expect("the local PostgreSQL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        admin.close().await.ok();
        let scratch = Self { name };
        let db = sea_orm::Database::connect(scratch.url()).await.unwrap();
        db.execute_unprepared("CREATE TABLE orders (id SERIAL PRIMARY KEY, total INT)")
            .await
            .unwrap();
        db.close().await.ok();
        scratch
    }

    /// The URL of this database on the local server.
    pub fn url(&self) -> String {
        let server = server_url();
        let (prefix, _) = server.rsplit_once('/').expect("database URL has a path");
        format!("{prefix}/{}", self.name)
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Best effort, on a thread of its own: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(admin) = sea_orm::Database::connect(server_url()).await {
                        let _ = admin
                            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .await;
                    }
                });
            }
        })
        .join();
    }
}

#[tokio::test]
async fn the_local_postgres_as_an_integration() {
    let scratch = ScratchDatabase::create().await;
    let server = TestServer::start().await;
    let mut catalog = server.catalog_admin().await;
    let url = url_parts(&server_url());
    let created = catalog
        .create_integration(pb::CreateIntegrationRequest {
            integration: Some(pb::Integration {
                display_name: "local-pg".into(),
                connector: "postgres".into(),
                config: HashMap::from([
                    ("host".into(), url.0),
                    ("port".into(), url.1),
                    ("user".into(), url.2),
                    ("databases".into(), scratch.name.clone()),
                ]),
                ..Default::default()
            }),
            secrets: HashMap::from([("password".into(), "not-checked-under-trust-auth".into())]),
            request_id: String::new(),
        })
        .await
        .expect("create the integration")
        .into_inner();
    assert_eq!(created.status.unwrap().state, pb::integration_status::State::Ok as i32);

    let summary = catalog
        .sync_integration(pb::SyncIntegrationRequest { id: "local-pg".into() })
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap();
    assert_eq!(summary.error, "");
    let resources = catalog
        .list_resources(pb::ListResourcesRequest {
            integration: "local-pg".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = resources.resources.iter().map(|r| r.id.clone()).collect();
    let db = &scratch.name;
    for expected in [
        format!("database:{db}"),
        format!("schema:{db}/public"),
        format!("table:{db}/public/orders"),
    ] {
        assert!(ids.contains(&expected), "{expected} missing from {ids:?}");
    }

    // A grant through the connector blocks deletion until it is revoked.
    let connector = server
        .catalog
        .as_ref()
        .unwrap()
        .connectors()
        .resolve("postgres", "")
        .await
        .unwrap();
    let mut config: latch_connector_sdk::Config = created.config.clone().into_iter().collect();
    config.insert("password".into(), "not-checked-under-trust-auth".into());
    config.insert("database".into(), "postgres".into());
    let grant = latch_connector_sdk::GrantRequest {
        grant_id: format!("e2e-{}", uuid::Uuid::new_v4().simple()),
        grantee: Default::default(),
        resource_type: "table".into(),
        resource_id: format!("table:{db}/public/orders"),
        permission: "read".into(),
        expires_at: None,
        context: Default::default(),
    };
    connector.grant(&config, &grant).await.expect("grant");
    let status = catalog
        .delete_integration(pb::DeleteIntegrationRequest { id: "local-pg".into() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    connector.revoke(&config, &grant.grant_id).await.expect("revoke");
    catalog
        .delete_integration(pb::DeleteIntegrationRequest { id: "local-pg".into() })
        .await
        .expect("deleted");
}

/// (host, port, user) of a postgres:// URL.
pub fn url_parts(url: &str) -> (String, String, String) {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let (credentials, host_part) = rest.split_once('@').unwrap_or(("postgres", rest));
    let user = credentials.split(':').next().unwrap_or("postgres").to_string();
    let host_port = host_part.split('/').next().unwrap_or("127.0.0.1:5432");
    let (host, port) = host_port.split_once(':').unwrap_or((host_port, "5432"));
    (host.to_string(), port.to_string(), user)
}

/// Latch's own PostgreSQL URL takes libpq's `sslmode`: with `require` every connection the
/// server opens to its database is encrypted (the machine's PostgreSQL serves TLS).
#[tokio::test]
async fn latch_on_postgresql_with_sslmode_require_connects_over_tls_only() {
    let scratch = ScratchDatabase::create().await;
    let admin = sea_orm::Database::connect(server_url())
        .await
        .expect("the local PostgreSQL");
    let serves_tls = admin
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT current_setting('ssl') = 'on' AS on",
        ))
        .await
        .unwrap()
        .and_then(|row| row.try_get::<bool>("", "on").ok())
        .unwrap_or(false);
    assert!(serves_tls, "the local PostgreSQL must have ssl = on for this test");
    let url = format!("{}?sslmode=require", scratch.url());
    let server = crate::harness::TestServer::start_on(
        std::sync::Arc::new(tempfile::tempdir().unwrap()),
        url,
        latch_runtime::clock::ManualClock::new(crate::harness::epoch()),
    )
    .await;
    let mut admin_client = server.admin().await;
    crate::harness::create_user(&mut admin_client, "tls-ada", &[("department", "Engineering")], "").await;
    let sessions = admin
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!(
                "SELECT count(*) AS sessions, count(*) FILTER (WHERE s.ssl) AS encrypted \
                 FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
                 WHERE a.datname = '{}' AND a.pid <> pg_backend_pid()",
                scratch.name
            ),
        ))
        .await
        .unwrap()
        .expect("a row");
    let total: i64 = sessions.try_get("", "sessions").unwrap();
    let encrypted: i64 = sessions.try_get("", "encrypted").unwrap();
    assert!(total > 0, "Latch holds connections to its database");
    assert_eq!(encrypted, total, "every connection Latch opened is encrypted");
    admin.close().await.ok();
}
