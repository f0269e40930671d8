//! Automatic flows end to end: SCIM changes membership, the reconciler grants and revokes at
//! the target system, and never takes away access another request still holds.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use latch_connector_sdk::{Config, Connector, GrantRequest, Grantee};
use latch_proto::flow::v1 as flow;
use latch_proto::identity::v1 as identity;
use reqwest::StatusCode;
use serde_json::json;

use crate::cli::{Cli, stderr, stdout};
use crate::harness::{ADMIN_TOKEN, TestServer};
use crate::request_support::{Scripted, ask, automatic_flow, create_flow, integration, item, wait_states};
use crate::scim::{Scim, okta_user};

pub const ONCALL_PROD_READ: &str = r#"
name: on-call reads production
kind: automatic
requestors: { rows: [ { attribute: group, operator: is, values: [on-call] } ] }
targets:
  - integration: { integration: shop, resource_type: table, permissions: [read], mode: include, tags: [{ key: env, values: [prod] }] }
grant_for: indefinite
"#;

fn prod_read(tables: &[&str]) -> BTreeSet<(String, String)> {
    tables
        .iter()
        .map(|t| (format!("table:orders-prod/{t}"), "read".to_string()))
        .collect()
}

/// Waits (real time; the reconciler follows changes as they commit) until `user` holds
/// exactly `want` at the target system.
pub async fn wait_live(connector: &Scripted, user: &str, want: &BTreeSet<(String, String)>) {
    for _ in 0..200 {
        if &connector.live_for(user).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "{user} holds {:?} at the target system, expected {want:?}",
        connector.live_for(user).await
    );
}

/// Ann provisioned over SCIM and an `on-call` group holding her: (ann's id, the group's id).
pub async fn ann_on_call(scim: &Scim) -> (String, String) {
    let (status, ann) = scim.post("/Users", okta_user("ann@x.io", "Ann", "A")).await;
    assert_eq!(status, StatusCode::CREATED, "{ann}");
    let ann_id = ann["id"].as_str().unwrap().to_string();
    let (status, group) = scim
        .post(
            "/Groups",
            json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "on-call", "members": [{ "value": ann_id }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    (ann_id, group["id"].as_str().unwrap().to_string())
}

/// The same server stopped and started again on its data with no workers: nothing reconciles.
async fn without_workers(server: TestServer, connector: &Arc<Scripted>) -> TestServer {
    let (dir, url, clock) = server.stop().await;
    let options = latchd::AppOptions {
        no_workers: true,
        ..Default::default()
    };
    TestServer::start_with_options(dir, url, clock, vec![connector.clone()], options).await
}

async fn api_token(server: &TestServer, user_id: &str) -> String {
    server
        .admin()
        .await
        .create_token(identity::CreateTokenRequest {
            user_id: user_id.into(),
            description: "test".into(),
            ..Default::default()
        })
        .await
        .expect("create token")
        .into_inner()
        .secret
}

#[tokio::test]
async fn scim_membership_grants_and_revokes_without_cutting_shared_access() {
    let connector = Scripted::new();
    let server = TestServer::start_with_connectors(vec![connector.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    let scim = Scim::new(&server).await;
    let (ann_id, group_id) = ann_on_call(&scim).await;
    let (_, ben) = scim.post("/Users", okta_user("ben@x.io", "Ben", "B")).await;
    let ben_id = ben["id"].as_str().unwrap();
    let everything = prod_read(&["orders", "customers", "invoices"]);

    // Create and grant: the flow gives everyone who matches at once.
    let oncall = create_flow(&server, ONCALL_PROD_READ).await;
    wait_live(&connector, "ann@x.io", &everything).await;
    assert!(connector.live_for("ben@x.io").await.is_empty());

    // Ben joins through SCIM, and asks for orders read himself as well (a self-serve request
    // sharing one of the automatic grants).
    let (status, _) = scim
        .patch(
            &format!("/Groups/{group_id}"),
            json!([{ "op": "add", "path": "members", "value": [{ "value": ben_id }] }]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    wait_live(&connector, "ben@x.io", &everything).await;
    create_flow(&server, &automatic_flow("engineers", "shop")).await;
    let mut bens = server.requests_with(Some(&api_token(&server, ben_id).await)).await;
    let own = bens
        .submit_request(ask(vec![item("shop", "table:orders-prod/orders", "read")], "1h"))
        .await
        .expect("ben asks for orders read")
        .into_inner();
    wait_states(&server, &mut bens, std::slice::from_ref(&own.id), &["active"]).await;
    let grant_calls: u32 = connector.grant_calls().values().sum();
    assert_eq!(
        grant_calls,
        6,
        "ben's own request joined the automatic grant: {:?}",
        connector.grant_calls()
    );

    // Ann leaves on-call: her access goes; Ben's stays.
    let (status, _) = scim
        .patch(
            &format!("/Groups/{group_id}"),
            json!([{ "op": "remove", "path": format!("members[value eq \"{ann_id}\"]") }]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    wait_live(&connector, "ann@x.io", &BTreeSet::new()).await;
    assert_eq!(connector.live_for("ben@x.io").await, everything);

    // The flow is deleted: Ben loses what only the flow gave him, not what his request holds.
    server
        .flows_with(Some(ADMIN_TOKEN))
        .await
        .delete_flow(flow::DeleteFlowRequest { id: oncall.id.clone() })
        .await
        .expect("delete flow");
    wait_live(&connector, "ben@x.io", &prod_read(&["orders"])).await;

    // Ben is deactivated by the identity provider: every access of his ends, his own too.
    let (status, _) = scim
        .patch(
            &format!("/Users/{ben_id}"),
            json!([{ "op": "replace", "value": { "active": false } }]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    wait_live(&connector, "ben@x.io", &BTreeSet::new()).await;
    let mut admin = server.requests_with(Some(ADMIN_TOKEN)).await;
    let ended = wait_states(&server, &mut admin, &[own.id], &["revoked"]).await;
    assert!(
        ended[0].outcome.contains("no longer an active user"),
        "{}",
        ended[0].outcome
    );
}

#[tokio::test]
async fn a_restarted_reconciler_catches_up_from_its_stored_place_in_the_feed() {
    let connector = Scripted::new();
    let server = TestServer::start_with_connectors(vec![connector.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    create_flow(&server, ONCALL_PROD_READ).await;
    let scim = Scim::new(&server).await;
    let (ann_id, group_id) = ann_on_call(&scim).await;
    let everything = prod_read(&["orders", "customers", "invoices"]);
    wait_live(&connector, "ann@x.io", &everything).await;

    // Stopped; membership changes while no reconciler runs; started again on the same data.
    let offline = without_workers(server, &connector).await;
    let scim = Scim::new(&offline).await;
    let (status, _) = scim
        .patch(
            &format!("/Groups/{group_id}"),
            json!([{ "op": "remove", "path": format!("members[value eq \"{ann_id}\"]") }]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        connector.live_for("ann@x.io").await,
        everything,
        "nobody reconciles yet"
    );
    let (dir, url, clock) = offline.stop().await;
    let _server = TestServer::start_with(dir, url, clock, vec![connector.clone()]).await;
    wait_live(&connector, "ann@x.io", &BTreeSet::new()).await;
}

async fn flow_status(cli: &Cli, flow: &str) -> serde_json::Value {
    let out = cli
        .run(Some(ADMIN_TOKEN), &["flows", "status", flow, "-o", "json"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("json")
}

#[tokio::test]
async fn flow_status_shows_holders_pending_changes_and_drift_which_repair_mends() {
    let connector = Scripted::new();
    // No workers: nothing reconciles, so the pending changes stay visible.
    let server = TestServer::start_fresh_with(
        vec![connector.clone()],
        latchd::AppOptions {
            no_workers: true,
            ..Default::default()
        },
    )
    .await;
    integration(&server, "shop", "scripted", &[]).await;
    let scim = Scim::new(&server).await;
    ann_on_call(&scim).await;
    create_flow(&server, ONCALL_PROD_READ).await;
    let cli = Cli::new(&server);
    let status = flow_status(&cli, "on-call reads production").await;
    assert_eq!(status["to_grant"], json!(["ann@x.io"]), "{status}");
    assert_eq!(status["holders"], json!([]));

    let (dir, url, clock) = server.stop().await;
    let server = TestServer::start_with(dir, url, clock, vec![connector.clone()]).await;
    let everything = prod_read(&["orders", "customers", "invoices"]);
    wait_live(&connector, "ann@x.io", &everything).await;
    let cli = Cli::new(&server);
    let status = flow_status(&cli, "on-call reads production").await;
    assert_eq!(status["to_grant"], json!([]));
    assert_eq!(status["holders"][0]["grantee"], "ann@x.io");
    assert_eq!(status["holders"][0]["items"].as_array().unwrap().len(), 3);
    assert_eq!(status["drift"], json!([]));

    // Someone changes the target system behind Latch's back: one grant dropped, one added.
    let dropped = connector
        .live()
        .await
        .into_iter()
        .find(|g| g.resource_id == "table:orders-prod/customers")
        .unwrap();
    connector.revoke(&Config::new(), &dropped.grant_id).await.unwrap();
    connector
        .grant(
            &Config::new(),
            &GrantRequest {
                grant_id: "made-by-hand".into(),
                grantee: Grantee {
                    user_name: "mallory".into(),
                    ..Default::default()
                },
                resource_type: "table".into(),
                resource_id: "table:orders-prod/invoices".into(),
                permission: "read".into(),
                expires_at: None,
                context: Default::default(),
            },
        )
        .await
        .unwrap();
    let status = flow_status(&cli, "on-call reads production").await;
    let drift: BTreeSet<(String, String)> = status["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["resource_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        drift,
        BTreeSet::from([
            ("missing".to_string(), "table:orders-prod/customers".to_string()),
            ("orphan".to_string(), "table:orders-prod/invoices".to_string()),
        ])
    );

    // Reported without --repair; mended with it.
    let out = cli.run(Some(ADMIN_TOKEN), &["requests", "drift"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("orphan"), "{}", stdout(&out));
    assert!(connector.live().await.iter().any(|g| g.grant_id == "made-by-hand"));
    let out = cli.run(Some(ADMIN_TOKEN), &["requests", "drift", "--repair"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("repaired 2"), "{}", stdout(&out));
    assert_eq!(connector.live_for("ann@x.io").await, everything);
    assert!(!connector.live().await.iter().any(|g| g.grant_id == "made-by-hand"));
    assert_eq!(flow_status(&cli, "on-call reads production").await["drift"], json!([]));
}

/// One import both deactivates a user and adds a group (a change that may touch anyone), and
/// the reconciler reads both in one batch: the deactivated user still loses their self-serve
/// access.
#[tokio::test]
async fn a_user_deactivated_alongside_group_changes_loses_access() {
    use latch_proto::identity::v1::ImportDirectoryRequest;
    let connector = Scripted::new();
    let server = TestServer::start_with_connectors(vec![connector.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    create_flow(&server, &automatic_flow("engineers", "shop")).await;
    let mut admin = server.admin().await;
    let directory = |active: bool| {
        format!(
            "users:\n  - user_name: ben\n    active: {active}\n    attributes: {{ department: Engineering }}\ngroups:\n  - name: team\n    members: [ben]\n{}",
            if active {
                ""
            } else {
                "  - name: newcomers\n    members: []\n"
            }
        )
    };
    admin
        .import_directory(ImportDirectoryRequest {
            document: directory(true),
            dry_run: false,
        })
        .await
        .expect("import");
    let ben = admin
        .get_user(latch_proto::identity::v1::GetUserRequest { id: "ben".into() })
        .await
        .expect("ben")
        .into_inner()
        .id;
    let mut bens = server.requests_with(Some(&api_token(&server, &ben).await)).await;
    let own = bens
        .submit_request(ask(vec![item("shop", "table:orders-prod/orders", "read")], "1h"))
        .await
        .expect("ben asks")
        .into_inner();
    wait_states(&server, &mut bens, std::slice::from_ref(&own.id), &["active"]).await;
    // Written while no reconciler runs, so that it reads both changes in one batch.
    let offline = without_workers(server, &connector).await;
    offline
        .admin()
        .await
        .import_directory(ImportDirectoryRequest {
            document: directory(false),
            dry_run: false,
        })
        .await
        .expect("import");
    let (dir, url, clock) = offline.stop().await;
    let server = TestServer::start_with(dir, url, clock, vec![connector.clone()]).await;
    let mut as_admin = server.requests_with(Some(ADMIN_TOKEN)).await;
    let ended = wait_states(&server, &mut as_admin, &[own.id], &["revoked"]).await;
    assert!(
        ended[0].outcome.contains("no longer an active user"),
        "{}",
        ended[0].outcome
    );
    wait_live(&connector, "ben", &BTreeSet::new()).await;
}
