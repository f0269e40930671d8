//! What a new user meets first through the `latch` binary: invalid input is exit 3 naming the
//! field, listings name people, refusals read as sentences and say each thing once.

use std::collections::HashMap;

use latch_proto::catalog::v1 as catalog;

use crate::cli::{Cli, stderr, stdout};
use crate::harness::{ADMIN_TOKEN, TestServer};
use crate::request_support::{create_flow, integration, person};

const ORDERS: &str = "shop/table:orders-prod/invoices:read";

const FLOW: &str = r#"
name: prod tables
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: shop, resource_type: table, permissions: [read], mode: include, tags: [{ key: env, values: [prod] }] }
grant_for: { custom: 2h }
settings: { require_justification: false, require_duration: true }
"#;

async fn world() -> (TestServer, Cli) {
    let server = TestServer::start().await;
    integration(&server, "shop", "demo", &[]).await;
    create_flow(&server, FLOW).await;
    let cli = Cli::new(&server);
    (server, cli)
}

#[tokio::test]
async fn a_duration_the_named_flow_cannot_grant_is_invalid_input_naming_the_field() {
    let (server, cli) = world().await;
    let (_ada, token) = person(&server, "ada", "Engineering", "").await;
    let ada = Some(token.as_str());
    let ask = |duration: Option<&'static str>| {
        let mut args = vec!["request", "--item", ORDERS, "--flow", "prod tables"];
        if let Some(duration) = duration {
            args.extend(["--duration", duration]);
        }
        args
    };

    let over = cli.run(ada, &ask(Some("3h"))).await;
    assert_eq!(over.status.code(), Some(3), "{}", stderr(&over));
    assert!(
        stderr(&over).contains("duration: 3h exceeds the flow maximum of 2h"),
        "{}",
        stderr(&over)
    );
    let missing = cli.run(ada, &ask(None)).await;
    assert_eq!(missing.status.code(), Some(3), "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("duration: required, up to 2h"),
        "{}",
        stderr(&missing)
    );
    // As invalid as a zero duration, which always was.
    let zero = cli.run(ada, &ask(Some("0m"))).await;
    assert_eq!(zero.status.code(), Some(3), "{}", stderr(&zero));
    let fine = cli.run(ada, &ask(Some("1h"))).await;
    assert_eq!(fine.status.code(), Some(0), "{}", stderr(&fine));
}

#[tokio::test]
async fn requests_list_names_the_requester_and_the_grantee() {
    let (server, cli) = world().await;
    let (_ada, token) = person(&server, "ada", "Engineering", "").await;
    let ada = Some(token.as_str());
    let asked = cli.run(ada, &["request", "--item", ORDERS, "--duration", "1h"]).await;
    assert_eq!(asked.status.code(), Some(0), "{}", stderr(&asked));

    let listed = cli.run(ada, &["-o", "json", "requests", "list"]).await;
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    let json: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    let first = &json.as_array().expect("a list")[0];
    assert_eq!(first["requester"], "ada", "{json}");
    assert_eq!(first["grantee"], "ada", "{json}");
}

#[tokio::test]
async fn a_refused_requestor_reads_a_sentence() {
    let (server, cli) = world().await;
    let (_dave, token) = person(&server, "dave", "Finance", "").await;
    let refused = cli
        .run(Some(&token), &["request", "--item", ORDERS, "--duration", "1h"])
        .await;
    assert_eq!(refused.status.code(), Some(5), "{}", stderr(&refused));
    assert!(
        stderr(&refused)
            .contains("you are not in a group or attribute the flow's requestors allow: department is not Engineering"),
        "{}",
        stderr(&refused)
    );
}

#[tokio::test]
async fn a_space_refusal_says_each_violation_once() {
    let server = TestServer::start().await;
    let mut admin = server.catalog_admin().await;
    admin
        .create_space(catalog::CreateSpaceRequest {
            space: Some(catalog::Space {
                display_name: "payments".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    admin
        .create_integration(catalog::CreateIntegrationRequest {
            integration: Some(catalog::Integration {
                display_name: "global-demo".into(),
                connector: "demo".into(),
                config: HashMap::new(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let cli = Cli::new(&server);
    let refused = cli
        .run(
            Some(ADMIN_TOKEN),
            &[
                "bundles",
                "create",
                "outside",
                "--space",
                "payments",
                "--target",
                "global-demo/bucket:read",
            ],
        )
        .await;
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    let rule = "integration global-demo is global; a space's bundles use the space's integrations";
    assert_eq!(
        stderr(&refused).matches(rule).count(),
        1,
        "said once: {}",
        stderr(&refused)
    );
    assert!(
        stderr(&refused).contains("bundle.targets[0].integration"),
        "{}",
        stderr(&refused)
    );
}
