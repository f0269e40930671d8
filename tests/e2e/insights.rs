//! `latch insights` on a real history: a flow whose requests are always short gets a shorter
//! maximum suggested, an unused flow is named, and a group only one person can approve for.

use crate::cli::{Cli, stderr, stdout};
use crate::harness::ADMIN_TOKEN;
use crate::harness::TestServer;
use crate::request_support::{Scripted, ask, automatic_flow, create_flow, integration, item, person, wait_states};

const ONLY_BOSS_APPROVES: &str = r#"
name: writes need boss
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: shop, resource_type: table, permissions: [write], mode: include, tags: [{ key: env, values: [staging] }] }
grant_for: { custom: 1h }
approval: { approval_of: { groups: [ { rows: [ { condition: { attribute: user, operator: is, values: [boss] } } ] } ] } }
"#;

#[tokio::test]
async fn always_short_requests_get_a_shorter_maximum_suggested() {
    let connector = Scripted::new();
    let server = TestServer::start_with_connectors(vec![connector.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    create_flow(
        &server,
        &automatic_flow("prod reads", "shop").replace("custom: 2h", "custom: 8h"),
    )
    .await;
    create_flow(&server, ONLY_BOSS_APPROVES).await;
    let (_boss, _) = person(&server, "boss", "Engineering", "").await;
    let (_ada, ada_token) = person(&server, "ada", "Engineering", "").await;
    let mut ada = server.requests_with(Some(&ada_token)).await;
    let mut ids = Vec::new();
    for n in 0..12 {
        let duration = if n < 11 { "30m" } else { "20m" };
        let request = ada
            .submit_request(ask(vec![item("shop", "table:orders-prod/orders", "read")], duration))
            .await
            .expect("submit")
            .into_inner();
        ids.push(request.id);
    }
    wait_states(&server, &mut ada, &ids, &["active"]).await;

    let cli = Cli::new(&server);
    let out = cli.run(Some(ADMIN_TOKEN), &["insights"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("excessive access duration: lower the maximum to 30m"),
        "{text}"
    );
    let out = cli.run(Some(ADMIN_TOKEN), &["insights", "-o", "json"]).await;
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let prod = json["durations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["flow"] == "prod reads")
        .expect("the used flow");
    assert_eq!(prod["requests"], 12);
    assert_eq!(prod["maximum"], "8h");
    assert_eq!(prod["p90"], "30m");
    assert_eq!(prod["suggested_maximum"], "30m");
    assert_eq!(json["unused_flows"], serde_json::json!(["writes need boss"]));
    let sole = &json["sole_approvers"][0];
    assert_eq!(sole["flow"], "writes need boss");
    assert_eq!(sole["approvers"], serde_json::json!(["boss"]));

    // Insights are for admins.
    let out = cli.run(Some(&ada_token), &["insights"]).await;
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
}
