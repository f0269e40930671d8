//! Keys per context: the catalog seals integration secrets with a key of its own; a key added
//! to its ring seals new writes while older values still open; `latchd --reseal`'s work moves
//! every value to the newest key, after which the older key (and the deployment's) can go.

use std::collections::HashMap;
use std::sync::Arc;

use latch_proto::catalog::v1 as pb;
use latch_runtime::LatchConfig;
use latch_runtime::service_identity::ServiceName;
use sea_orm::ConnectionTrait;

use crate::harness::{ENCRYPTION_KEY, TestServer};

const K1: &str = "a2V5LW9uZS1rZXktb25lLWtleS1vbmUta2V5LW9uZS0=";
const K2: &str = "a2V5LXR3by1rZXktdHdvLWtleS10d28ta2V5LXR3by0=";

async fn start(dir: &Arc<tempfile::TempDir>, url: &str, ring: &str) -> TestServer {
    let ring = ring.to_string();
    TestServer::start_configured(
        dir.clone(),
        url.to_string(),
        latch_runtime::clock::ManualClock::new(crate::harness::epoch()),
        Vec::new(),
        Default::default(),
        move |config| config.catalog.encryption_keys.0 = ring,
    )
    .await
}

fn config(dir: &tempfile::TempDir, url: &str, ring: &str) -> LatchConfig {
    let mut config = LatchConfig {
        data_dir: dir.path().to_path_buf(),
        database_url: url.into(),
        encryption_key: ENCRYPTION_KEY.into(),
        ..LatchConfig::default()
    };
    config.catalog.encryption_keys.0 = ring.into();
    config
}

/// Every integration's sealed secrets, by id.
async fn sealed(dir: &tempfile::TempDir, url: &str) -> HashMap<String, String> {
    let db =
        latch_runtime::database::connect_context(&config(dir, url, ""), "catalog", latch_catalog::store::MIGRATIONS)
            .await
            .expect("catalog database");
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id, secrets_sealed FROM integrations",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| (r.try_get("", "id").unwrap(), r.try_get("", "secrets_sealed").unwrap()))
        .collect()
}

async fn create(server: &TestServer, name: &str) -> String {
    server
        .catalog_admin()
        .await
        .create_integration(pb::CreateIntegrationRequest {
            integration: Some(pb::Integration {
                display_name: name.into(),
                connector: "demo".into(),
                ..Default::default()
            }),
            secrets: HashMap::from([("api_key".into(), format!("{name}-secret"))]),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner()
        .id
}

/// The catalog opens every integration's secrets to call its connector.
async fn assert_usable(server: &TestServer, ids: &[&String]) {
    let mut catalog = server.catalog_admin().await;
    for id in ids {
        catalog
            .sync_integration(pb::SyncIntegrationRequest { id: id.to_string() })
            .await
            .unwrap_or_else(|status| panic!("{id}: its secrets open: {status:?}"));
    }
}

#[tokio::test]
async fn a_catalog_key_ring_rotates_and_a_reseal_leaves_only_the_newest_key_needed() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let url = crate::harness::fresh_postgres().await.unwrap_or_default();

    // Before the catalog has keys of its own: the deployment's key seals (v1).
    let server = start(&dir, &url, "").await;
    let old = create(&server, "old").await;
    server.stop().await;
    assert!(sealed(&dir, &url).await[&old].starts_with("v1:"));

    // Its own key: new writes use it, the old value still opens.
    let server = start(&dir, &url, &format!("k1:{K1}")).await;
    let first = create(&server, "first").await;
    assert_usable(&server, &[&old, &first]).await;
    server.stop().await;
    let now = sealed(&dir, &url).await;
    assert!(now[&first].starts_with("v2:k1:"), "{}", now[&first]);
    assert!(now[&old].starts_with("v1:"));

    // A second key first in the ring: it seals; the first key still opens what it sealed.
    let ring = format!("k2:{K2},k1:{K1}");
    let server = start(&dir, &url, &ring).await;
    let second = create(&server, "second").await;
    assert_usable(&server, &[&old, &first, &second]).await;
    server.stop().await;
    assert!(sealed(&dir, &url).await[&second].starts_with("v2:k2:"));

    // The re-seal moves everything to k2 (and does nothing the second time).
    let reports = latchd::reseal_all(&config(&dir, &url, &ring), &[ServiceName::Catalog])
        .await
        .expect("reseal");
    assert_eq!(reports[0].1.resealed, 2, "{reports:?}");
    assert_eq!(reports[0].1.current, 1, "{reports:?}");
    let again = latchd::reseal_all(&config(&dir, &url, &ring), &[ServiceName::Catalog])
        .await
        .expect("reseal again");
    assert_eq!(again[0].1.resealed, 0, "{again:?}");
    let now = sealed(&dir, &url).await;
    assert!(now.values().all(|v| v.starts_with("v2:k2:")), "{now:?}");

    // k1 and the deployment's key are no longer needed for the catalog's secrets.
    let server = start(&dir, &url, &format!("k2:{K2}")).await;
    assert_usable(&server, &[&old, &first, &second]).await;
    server.stop().await;
}

#[tokio::test]
async fn a_bad_ring_or_a_split_context_without_its_own_keys_refuses_to_start() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let error = match TestServer::try_start_configured(
        dir.clone(),
        String::new(),
        latch_runtime::clock::ManualClock::new(crate::harness::epoch()),
        Vec::new(),
        Default::default(),
        |config| config.catalog.encryption_keys.0 = format!("k1:{K1},k1:{K2}"),
    )
    .await
    {
        Ok(_) => panic!("a ring with one id twice started"),
        Err(error) => error,
    };
    assert!(
        error.contains("catalog.encryption_keys: key id k1 is given twice"),
        "{error}"
    );
    assert!(
        !error.contains(K1) && !error.contains(K2),
        "no key in the error: {error}"
    );

    let error = match TestServer::try_start_configured(
        Arc::new(tempfile::tempdir().unwrap()),
        String::new(),
        latch_runtime::clock::ManualClock::new(crate::harness::epoch()),
        Vec::new(),
        latchd::AppOptions {
            services: vec!["identity".into()],
            ..Default::default()
        },
        |_| {},
    )
    .await
    {
        Ok(_) => panic!("identity alone started without keys of its own"),
        Err(error) => error,
    };
    assert!(
        error.contains("identity.encryption_keys (LATCH_IDENTITY__ENCRYPTION_KEYS) is required"),
        "{error}"
    );
}
