//! The PostgreSQL connector process (`latch-connector-postgres --listen`) under SIGKILL in a split
//! deployment: while a burst of requests is granted on a real PostgreSQL database and then
//! revoked, the connector is killed again and again and started on the same address. Grants and
//! revokes whose answers the kills swallowed are made again with the same grant id, so in the end
//! every active access exists at the target exactly once (one role per grantee, table and
//! permission, nothing left over), and after the revokes no role of Latch's is left.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use latch_proto::catalog::v1 as catalog;
use latch_proto::flow::v1 as flow;
use latch_proto::request::v1 as pb;
use rand::Rng;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::crash::retried;
use crate::harness::ADMIN_TOKEN;
use crate::postgres_catalog::{ScratchDatabase, server_url};
use crate::split_harness::{ConnectorProcess, SplitDeployment};

/// The whole test, kills and restarts included, stays within this.
const BUDGET: Duration = Duration::from_secs(150);
/// The tables of the scratch database, each asked for with read and write.
const TABLES: [&str; 4] = ["orders", "invoices", "customers", "shipments"];
const PEOPLE: usize = 3;

/// An access as the target holds it: (grantee, resource id, permission).
type Access = (String, String, String);

pub(crate) fn flow_document() -> String {
    r#"
name: tables through a crashing connector
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: target, resource_type: table, permissions: [read, write], mode: any }
grant_for: { custom: 2h }
settings: { require_justification: false }
"#
    .to_string()
}

fn resource_id(database: &str, table: &str) -> String {
    format!("table:{database}/public/{table}")
}

/// Every role Latch's connector made for grants in `database`, by the access it carries.
async fn roles_in(database: &str) -> BTreeMap<Access, Vec<String>> {
    let admin = sea_orm::Database::connect(server_url())
        .await
        .expect("the local PostgreSQL");
    let rows = admin
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT rolname, coalesce(shobj_description(oid, 'pg_authid'), '') AS comment \
             FROM pg_roles WHERE rolname LIKE 'latch\\_%'",
        ))
        .await
        .expect("roles");
    admin.close().await.ok();
    let mut roles: BTreeMap<Access, Vec<String>> = BTreeMap::new();
    for row in rows {
        let name: String = row.try_get("", "rolname").unwrap();
        let comment: String = row.try_get("", "comment").unwrap();
        let Ok(metadata) = serde_json::from_str::<serde_json::Value>(&comment) else {
            continue;
        };
        if metadata["database"] != database {
            continue;
        }
        let field = |key: &str| metadata[key].as_str().unwrap_or_default().to_string();
        roles
            .entry((field("grantee"), field("resource_id"), field("permission")))
            .or_default()
            .push(name);
    }
    roles
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_connector_process_killed_during_grants_and_revokes_leaves_each_access_once_then_none() {
    let deadline = Instant::now() + BUDGET;
    let scratch = ScratchDatabase::create().await;
    let target_db = sea_orm::Database::connect(scratch.url()).await.unwrap();
    for table in &TABLES[1..] {
        target_db
            .execute_unprepared(&format!("CREATE TABLE {table} (id SERIAL PRIMARY KEY)"))
            .await
            .unwrap();
    }
    target_db.close().await.ok();
    let connector = ConnectorProcess::start_postgres().await;
    let deployment = SplitDeployment::start().await;
    let _logs = deployment.logs_on_panic();

    // The world, through the gateway: the scratch database through the connector process, a flow
    // that approves at once, three engineers.
    let mut catalog_client = deployment.catalog(ADMIN_TOKEN);
    catalog_client
        .create_integration(connector.integration(
            &scratch.name,
            "not-checked-under-trust-auth",
            "connector-crash-integration",
        ))
        .await
        .expect("integration");
    catalog_client
        .sync_integration(catalog::SyncIntegrationRequest { id: "target".into() })
        .await
        .expect("sync");
    deployment
        .flows(ADMIN_TOKEN)
        .create_flow(flow::CreateFlowRequest {
            definition: flow_document(),
            ..Default::default()
        })
        .await
        .expect("flow");
    let mut admin = deployment.identity(ADMIN_TOKEN);
    let mut people = Vec::new();
    let mut names = BTreeMap::new();
    for n in 0..PEOPLE {
        let name = format!("crash{n}");
        let user = crate::harness::create_user(&mut admin, &name, &[("department", "Engineering")], "").await;
        let token = admin
            .create_token(latch_proto::identity::v1::CreateTokenRequest {
                user_id: user.id.clone(),
                description: "connector crash test".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .secret;
        names.insert(user.id, name);
        people.push(deployment.requests(&token));
    }
    let mut requests = deployment.requests(ADMIN_TOKEN);

    // The killer: SIGKILL, a moment down, started again on the same address.
    let connector = Arc::new(tokio::sync::Mutex::new(connector));
    let kills = Arc::new(AtomicUsize::new(0));
    let (stop_killing, mut stopped) = tokio::sync::watch::channel(false);
    let killer = {
        let connector = connector.clone();
        let kills = kills.clone();
        tokio::spawn(async move {
            loop {
                let pause = Duration::from_millis(rand::rng().random_range(150..600));
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stopped.wait_for(|stop| *stop) => return,
                }
                let mut connector = connector.lock().await;
                connector.kill();
                kills.fetch_add(1, Ordering::SeqCst);
                let down = Duration::from_millis(rand::rng().random_range(0..300));
                tokio::time::sleep(down).await;
                connector.restart().await;
            }
        })
    };

    // The burst: each person asks for read and write on every table, in rounds that share the
    // grants of the rounds before, until the connector has died a few times under it.
    let mut ids = BTreeSet::new();
    let mut rounds = 0;
    while rounds < 2 || (kills.load(Ordering::SeqCst) < 3 && rounds < 10) {
        for (person, client) in people.iter_mut().enumerate() {
            for table in TABLES {
                let request_id = format!("connector-crash-{person}-{table}-{rounds}");
                let submitted = retried!("submit", deadline, {
                    client.submit_request(crate::crash::read_and_write(
                        &request_id,
                        &resource_id(&scratch.name, table),
                        "connector crash test",
                    ))
                })
                .expect("answered");
                ids.insert(submitted.id);
            }
        }
        rounds += 1;
    }

    let settle = async |requests: &mut crate::harness::RequestClient, wanted: &[&str]| loop {
        let mut found = BTreeMap::new();
        for id in &ids {
            let request = requests
                .get_request(pb::GetRequestRequest { id: id.clone() })
                .await
                .expect("get")
                .into_inner();
            found.insert(id.clone(), request);
        }
        if found.values().all(|request| wanted.contains(&request.state.as_str())) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "requests stuck: {:?}",
            found.values().map(|r| (&r.id, &r.state)).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let granted = settle(&mut requests, &["active", "failed"]).await;
    let wanted: BTreeSet<Access> = granted
        .values()
        .filter(|request| request.state == "active")
        .flat_map(|request| {
            let grantee = names[&request.grantee_id].clone();
            request
                .items
                .iter()
                .map(move |item| (grantee.clone(), item.resource_id.clone(), item.permission.clone()))
        })
        .collect();
    assert!(!wanted.is_empty(), "grants get through the kills");

    // The target holds each active access once, under one role, and nothing else — once the
    // failed requests' partial grants are cleaned up.
    loop {
        let roles = roles_in(&scratch.name).await;
        let held: BTreeSet<Access> = roles.keys().cloned().collect();
        let doubled: Vec<_> = roles.iter().filter(|(_, names)| names.len() > 1).collect();
        assert!(doubled.is_empty(), "an access granted twice: {doubled:?}");
        if held == wanted {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the target holds {held:?}, Latch says {wanted:?}\n{}",
            connector.lock().await.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    for (id, request) in &granted {
        if request.state != "active" {
            continue;
        }
        requests
            .revoke_request(pb::EndRequest {
                id: id.clone(),
                reason: "connector crash test over".into(),
            })
            .await
            .expect("revoke");
    }
    let ended = settle(&mut requests, &["revoked", "failed"]).await;
    let _ = stop_killing.send(true);
    killer.await.expect("the killer");
    let kills = kills.load(Ordering::SeqCst);
    assert!(kills >= 3, "the connector was killed only {kills} time(s)");

    // Every revoke reached the target, kills or not.
    loop {
        let left = roles_in(&scratch.name).await;
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "roles never revoked: {left:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut counts = BTreeMap::new();
    for request in ended.values() {
        *counts.entry(request.state.clone()).or_insert(0) += 1;
    }
    eprintln!("connector crash test: {kills} kills, {rounds} rounds, requests ended {counts:?}");
}
