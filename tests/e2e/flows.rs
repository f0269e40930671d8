//! Access flows over gRPC: create with validation against the catalog, evaluate with reasons,
//! templates, and flows as code.

use std::collections::HashMap;

use chrono::TimeZone;
use latch_identity::grpc::timestamp;
use latch_proto::catalog::v1 as catalog;
use latch_proto::flow::v1 as pb;
use tonic::Code;

use crate::harness::{TestServer, create_user, violated_fields};

const PROD_READ: &str = r#"
name: prod orders read
kind: self_serve
requestors:
  combine: and
  rows:
    - { attribute: department, operator: is, values: [Engineering] }
targets:
  - integration: { integration: demo, resource_type: table, permissions: [read], mode: include, tags: [{ key: env, values: [prod] }] }
grant_for: { custom: 2h }
settings: { require_duration: true }
"#;

const WEEKDAYS: &str = r#"
name: business hours
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
when: { only: { days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00", time_zone: Europe/Berlin } }
targets:
  - bundle: everything-demo
approval:
  approval_of:
    groups:
      - rows: [ manager ]
        min_approvers: 1
"#;

pub async fn world(server: &TestServer) {
    let mut catalog = server.catalog_admin().await;
    catalog
        .create_integration(catalog::CreateIntegrationRequest {
            integration: Some(catalog::Integration {
                display_name: "demo".into(),
                connector: "demo".into(),
                config: HashMap::new(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    catalog
        .sync_integration(catalog::SyncIntegrationRequest { id: "demo".into() })
        .await
        .unwrap();
    catalog
        .create_bundle(catalog::CreateBundleRequest {
            bundle: Some(catalog::Bundle {
                display_name: "everything-demo".into(),
                targets: vec![catalog::IntegrationTarget {
                    integration: "demo".into(),
                    resource_type: "table".into(),
                    permissions: vec!["read".into()],
                    selection: None,
                }],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let mut admin = server.admin().await;
    let boss = create_user(&mut admin, "boss", &[("department", "Engineering")], "").await;
    create_user(&mut admin, "ada", &[("department", "Engineering")], &boss.id).await;
    create_user(&mut admin, "dave", &[("department", "Finance")], "").await;
}

fn item(resource: &str) -> pb::Item {
    pb::Item {
        integration: "demo".into(),
        resource_id: resource.into(),
        permission: "read".into(),
    }
}

#[tokio::test]
async fn flows_are_validated_against_the_catalog() {
    let server = TestServer::start().await;
    world(&server).await;
    let mut flows = server.flows_with(Some(crate::harness::ADMIN_TOKEN)).await;
    let created = flows
        .create_flow(pb::CreateFlowRequest {
            definition: PROD_READ.into(),
            template: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.item_count, 3, "the three prod tables");
    assert!(
        created.definition.contains("require_justification: true"),
        "self-serve flows require a justification by default"
    );

    let duplicate = flows
        .create_flow(pb::CreateFlowRequest {
            definition: PROD_READ.into(),
            template: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);

    let bad = PROD_READ
        .replace("prod orders read", "bad one")
        .replace("permissions: [read]", "permissions: [fly]")
        .replace("values: [Engineering]", "values: []");
    let status = flows
        .create_flow(pb::CreateFlowRequest {
            definition: bad,
            template: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        ["requestors.rows[0].values"],
        "own rules first"
    );
    let bad = PROD_READ
        .replace("prod orders read", "bad two")
        .replace("permissions: [read]", "permissions: [fly]");
    let status = flows
        .create_flow(pb::CreateFlowRequest {
            definition: bad,
            template: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&status),
        ["targets[0].permissions[0]"],
        "then the catalog's"
    );
    let automatic_with_approval = WEEKDAYS
        .replace("kind: self_serve", "kind: automatic")
        .replace("business hours", "auto");
    let status = flows
        .create_flow(pb::CreateFlowRequest {
            definition: automatic_with_approval,
            template: String::new(),
        })
        .await
        .unwrap_err();
    assert!(violated_fields(&status).contains(&"approval".to_string()));
    let listed = flows
        .list_flows(pb::ListFlowsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.flows.len(), 1, "nothing invalid was written");

    let (_, secret) = server.user_secret("mallory").await;
    let mut mallory = server.flows_with(Some(&secret)).await;
    let status = mallory
        .create_flow(pb::CreateFlowRequest {
            definition: PROD_READ.replace("prod orders read", "mine"),
            template: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn evaluation_allows_or_says_why_not() {
    let server = TestServer::start().await;
    world(&server).await;
    let mut admin_flows = server.flows_with(Some(crate::harness::ADMIN_TOKEN)).await;
    for definition in [PROD_READ, WEEKDAYS] {
        admin_flows
            .create_flow(pb::CreateFlowRequest {
                definition: definition.into(),
                template: String::new(),
            })
            .await
            .unwrap();
    }
    let (_, ada_secret) = server.user_secret("ada2").await;
    drop(ada_secret);
    let mut admin = server.admin().await;
    let ada_token = admin
        .create_token(latch_proto::identity::v1::CreateTokenRequest {
            user_id: "ada".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .secret;
    let dave_token = admin
        .create_token(latch_proto::identity::v1::CreateTokenRequest {
            user_id: "dave".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .secret;
    let mut ada = server.flows_with(Some(&ada_token)).await;
    let mut dave = server.flows_with(Some(&dave_token)).await;
    let monday = chrono_tz::Europe::Berlin
        .with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let saturday = monday + chrono::TimeDelta::days(5);
    let ask = |duration: &str, at| pb::EvaluateRequest {
        items: vec![item("table:orders-prod/orders")],
        duration: duration.into(),
        at: Some(timestamp(at)),
        ..Default::default()
    };

    let answer = ada.evaluate(ask("30m", monday)).await.unwrap().into_inner();
    let allowed: Vec<_> = answer
        .decisions
        .iter()
        .filter(|d| d.allowed)
        .map(|d| d.flow_name.as_str())
        .collect();
    assert_eq!(allowed.len(), 2, "{answer:?}");
    assert_eq!(
        answer.chosen_flow, "prod orders read",
        "automatic approval is chosen over approval"
    );

    let answer = ada.evaluate(ask("3h", saturday)).await.unwrap().into_inner();
    assert_eq!(answer.chosen_flow, "");
    let reasons: Vec<_> = answer.decisions.iter().flat_map(|d| d.reasons.clone()).collect();
    assert!(
        reasons.contains(&"duration: 3h exceeds the flow maximum of 2h".to_string()),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"outside Mon–Fri 09:00–18:00 Europe/Berlin".to_string()),
        "{reasons:?}"
    );

    let answer = dave.evaluate(ask("30m", monday)).await.unwrap().into_inner();
    assert!(answer.decisions.iter().all(|d| !d.allowed));
    assert!(answer.decisions.iter().all(|d| {
        d.reasons.contains(
            &"you are not in a group or attribute the flow's requestors allow: department is not Engineering"
                .to_string(),
        )
    }));

    // A bundle as the thing asked for resolves through the catalog.
    let by_bundle = pb::EvaluateRequest {
        bundle: "everything-demo".into(),
        at: Some(timestamp(monday)),
        ..Default::default()
    };
    let answer = ada.evaluate(by_bundle).await.unwrap().into_inner();
    assert_eq!(answer.items.len(), 6);
    assert_eq!(answer.chosen_flow, "business hours");

    let requestable = ada
        .list_requestable(pb::ListRequestableRequest {
            at: Some(timestamp(monday)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(requestable.flows.len(), 2);
    // One flow's items, page by page, each item once and in order.
    let flow = &requestable.flows[0];
    assert!(flow.item_count > 2, "enough items for several pages");
    let (mut seen, mut page_token) = (Vec::new(), String::new());
    loop {
        let page = ada
            .list_requestable(pb::ListRequestableRequest {
                at: Some(timestamp(monday)),
                flow: flow.flow_name.clone(),
                page_size: 2,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.flows.len(), 1);
        assert!(page.flows[0].items.len() <= 2);
        assert_eq!(page.flows[0].item_count, flow.item_count);
        seen.extend(
            page.flows[0]
                .items
                .iter()
                .map(|i| (i.resource_id.clone(), i.permission.clone())),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let all: Vec<_> = flow
        .items
        .iter()
        .map(|i| (i.resource_id.clone(), i.permission.clone()))
        .collect();
    assert_eq!(seen, all, "the pages add up to the flow's items");
    assert_eq!(seen.len() as i64, flow.item_count);
    let first = ada
        .list_requestable(pb::ListRequestableRequest {
            at: Some(timestamp(monday)),
            flow: flow.flow_id.clone(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    for (other_flow, field) in [
        (requestable.flows[1].flow_id.clone(), "page_token"),
        (String::new(), "page_token"),
    ] {
        let status = ada
            .list_requestable(pb::ListRequestableRequest {
                at: Some(timestamp(monday)),
                flow: other_flow,
                page_size: 1,
                page_token: first.next_page_token.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(crate::harness::violated_fields(&status), [field]);
    }
    let explained = admin_flows
        .explain(pb::ExplainRequest {
            item: Some(item("table:orders-prod/orders")),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(explained.flows.len(), 2);
    assert!(
        explained
            .flows
            .iter()
            .all(|f| f.users.contains(&"ada".to_string()) && !f.users.contains(&"dave".to_string()))
    );
}

#[tokio::test]
async fn templates_and_flows_as_code() {
    let server = TestServer::start().await;
    world(&server).await;
    let mut flows = server.flows_with(Some(crate::harness::ADMIN_TOKEN)).await;
    let templates = flows
        .list_templates(pb::ListTemplatesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(templates.templates.len(), 4);
    let production = flows
        .create_flow(pb::CreateFlowRequest {
            definition: PROD_READ.replace("prod orders read", "prod from template"),
            template: "production".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        production.definition.contains("require_mfa: true"),
        "{}",
        production.definition
    );
    assert!(
        production.definition.contains("custom: 4h"),
        "{}",
        production.definition
    );
    flows
        .create_flow(pb::CreateFlowRequest {
            definition: WEEKDAYS.into(),
            template: String::new(),
        })
        .await
        .unwrap();

    let exported = flows
        .export_flows(pb::ExportFlowsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .document;
    let plan = flows
        .apply_flows(pb::ApplyFlowsRequest {
            space: String::new(),
            document: exported.clone(),
            prune: true,
            dry_run: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            plan.created.len(),
            plan.changed.len(),
            plan.deleted.len(),
            plan.unchanged
        ),
        (0, 0, 0, 2)
    );

    // Drop one flow, change another, add a third: the plan says so and applying does it.
    let mut document: Vec<serde_json::Value> = serde_yaml_from(&exported);
    document.retain(|f| f["name"] != "business hours");
    document[0]["active"] = serde_json::Value::Bool(false);
    let mut added = document[0].clone();
    added["name"] = "added by code".into();
    document.push(added);
    let text = serde_json::to_string(&document).unwrap();
    let plan = flows
        .apply_flows(pb::ApplyFlowsRequest {
            space: String::new(),
            document: text.clone(),
            prune: true,
            dry_run: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(plan.created, ["added by code"]);
    assert_eq!(plan.changed, ["prod from template"]);
    assert_eq!(plan.deleted, ["business hours"]);
    assert!(!plan.applied);
    assert_eq!(
        flows
            .list_flows(pb::ListFlowsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .flows
            .len(),
        2,
        "a plan changes nothing"
    );
    let applied = flows
        .apply_flows(pb::ApplyFlowsRequest {
            space: String::new(),
            document: text,
            prune: true,
            dry_run: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(applied.applied);
    let names: Vec<_> = flows
        .list_flows(pb::ListFlowsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .flows
        .into_iter()
        .map(|f| f.display_name)
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"added by code".to_string()) && !names.contains(&"business hours".to_string()));

    // One invalid flow in a document stops all of it.
    let mut broken = document.clone();
    broken[0]["targets"] = serde_json::json!([]);
    broken.push(serde_json::json!({ "name": "never", "kind": "self_serve", "requestors": { "rows": [ { "attribute": "user", "operator": "is", "values": ["ada"] } ] }, "targets": [ { "bundle": "everything-demo" } ] }));
    let status = flows
        .apply_flows(pb::ApplyFlowsRequest {
            space: String::new(),
            document: serde_json::to_string(&broken).unwrap(),
            prune: false,
            dry_run: false,
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["flows[0].targets"]);
    let names: Vec<_> = flows
        .list_flows(pb::ListFlowsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .flows
        .into_iter()
        .map(|f| f.display_name)
        .collect();
    assert!(!names.contains(&"never".to_string()), "apply is atomic");
}

fn serde_yaml_from(text: &str) -> Vec<serde_json::Value> {
    serde_yaml::from_str(text).expect("exported YAML")
}

#[tokio::test]
async fn unknown_operators_name_their_field_and_automatic_flows_list_grantees() {
    let server = TestServer::start().await;
    world(&server).await;
    let mut flows = server.flows_with(Some(crate::harness::ADMIN_TOKEN)).await;
    let status = flows
        .create_flow(pb::CreateFlowRequest {
            definition: PROD_READ.replace("operator: is", "operator: equals"),
            template: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["requestors.rows[0].operator"]);

    let automatic = r#"
name: engineers read orders
kind: automatic
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets: [ { bundle: everything-demo } ]
grant_for: indefinite
"#;
    let created = flows
        .create_flow(pb::CreateFlowRequest {
            definition: automatic.into(),
            template: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let grantees = flows
        .matching_grantees(pb::MatchingGranteesRequest {
            flow: created.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(grantees.users.len(), 2, "boss and ada, not dave");
    let granting = flows
        .flows_granting(pb::FlowsGrantingRequest { user: "dave".into() })
        .await
        .unwrap()
        .into_inner();
    assert!(granting.flows.is_empty());
    let granting = flows
        .flows_granting(pb::FlowsGrantingRequest { user: "ada".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(granting.flows, [created.id]);
}

/// Every option of a flow at once: labels, a window crossing midnight, every grantee kind,
/// every target kind, a required duration, approval groups with every row kind, ALL OF across
/// groups, minimum approvers, and every setting.
const EVERY_OPTION: &str = r#"
name: every option
kind: self_serve
active: true
labels: [prod, pci]
requestors:
  combine: or
  rows:
    - { attribute: group, operator: is, values: [sre, oncall] }
    - { attribute: department, operator: starts_with, values: [Eng] }
    - { attribute: title, operator: contains, values: [manager] }
    - { attribute: user, operator: is_not, values: [mallory] }
    - { attribute: location, operator: does_not_contain, values: [Moon] }
when: { only: { days: [fri, sat], start: "22:00", end: "06:00", time_zone: America/New_York } }
for_whom:
  themselves: true
  direct_reports: true
  others: { combine: and, rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: demo, resource_type: table, permissions: [read, write], mode: exclude, resource_names: [invoices], tags: [ { key: pii, values: ["true"] } ] }
  - bundle: everything-demo
  - scope: { scope: all-prod, permissions: [read] }
grant_for: { custom: 4h }
approval:
  approval_of:
    across: all_of
    groups:
      - combine: and
        min_approvers: 2
        rows:
          - { condition: { attribute: group, operator: is, values: [security] } }
          - manager
      - combine: or
        rows:
          - resource_owner
          - { on_call: { schedules: [payments-primary] } }
settings:
  require_mfa: true
  require_justification: true
  require_approver_reason: true
  no_self_approval: true
  require_duration: true
  extensions: { max_count: 3, extend_by: 1h }
"#;

#[tokio::test]
async fn a_flow_exercising_every_option() {
    let server = TestServer::start().await;
    world(&server).await;
    let mut catalog = server.catalog_admin().await;
    catalog
        .create_space(catalog::CreateSpaceRequest {
            space: Some(catalog::Space {
                display_name: "payments".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    catalog
        .create_integration(catalog::CreateIntegrationRequest {
            integration: Some(catalog::Integration {
                display_name: "payments-demo".into(),
                connector: "demo".into(),
                space: "payments".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    catalog
        .sync_integration(catalog::SyncIntegrationRequest {
            id: "payments-demo".into(),
        })
        .await
        .unwrap();
    catalog
        .create_bundle(catalog::CreateBundleRequest {
            bundle: Some(catalog::Bundle {
                display_name: "payments-buckets".into(),
                space: "payments".into(),
                targets: vec![catalog::IntegrationTarget {
                    integration: "payments-demo".into(),
                    resource_type: "bucket".into(),
                    permissions: vec!["read".into()],
                    selection: None,
                }],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let prod = || catalog::AccessScopeQuery {
        include_tags: vec![catalog::TagSelector {
            key: "env".into(),
            values: vec!["prod".into()],
        }],
        ..Default::default()
    };
    for (name, space) in [("payments-prod", "payments"), ("all-prod", "")] {
        catalog
            .create_access_scope(catalog::CreateAccessScopeRequest {
                scope: Some(catalog::AccessScope {
                    display_name: name.into(),
                    space: space.into(),
                    query: Some(prod()),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap();
    }
    let mut flows = server.flows_with(Some(crate::harness::ADMIN_TOKEN)).await;
    let status = flows
        .create_flow(pb::CreateFlowRequest {
            definition: EVERY_OPTION.into(),
            template: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&status),
        ["approval.approval_of.groups[1].rows[1].on_call.schedules[0]"],
        "the on-call schedule must exist"
    );
    let mut admin = server.admin().await;
    let ada = admin
        .get_user(latch_proto::identity::v1::GetUserRequest { id: "ada".into() })
        .await
        .unwrap()
        .into_inner();
    admin
        .create_schedule(latch_proto::identity::v1::CreateScheduleRequest {
            schedule: Some(latch_proto::identity::v1::Schedule {
                display_name: "payments-primary".into(),
                time_zone: "UTC".into(),
                rotation: Some(latch_proto::identity::v1::Rotation {
                    members: vec![ada.id],
                    shift_hours: 24,
                    handoff_time: "09:00".into(),
                    start_date: "2026-01-01".into(),
                }),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let created = flows
        .create_flow(pb::CreateFlowRequest {
            definition: EVERY_OPTION.into(),
            template: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.labels, ["prod", "pci"]);
    assert!(created.item_count > 0);
    // Round trip: the stored definition reads back to the same flow.
    let again = flows
        .get_flow(pb::GetFlowRequest {
            id: "every option".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.definition, created.definition);
    assert!(created.definition.contains("all_of"), "{}", created.definition);

    // A flow in a space uses the space's bundles and scopes, and those only.
    let space_flow = |name: &str, targets: &str| {
        format!(
            "name: {name}\nkind: self_serve\nspace: payments\nrequestors: {{ rows: [ {{ attribute: group, operator: is, values: [sre] }} ] }}\ntargets: {targets}\n"
        )
    };
    let in_space = flows
        .create_flow(pb::CreateFlowRequest {
            definition: space_flow(
                "payments flow",
                "[ { bundle: payments-buckets }, { scope: { scope: payments-prod, permissions: [read] } } ]",
            ),
            template: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(in_space.item_count > 0);
    let status = flows
        .create_flow(pb::CreateFlowRequest {
            definition: space_flow(
                "direct",
                "[ { integration: { integration: payments-demo, resource_type: bucket, permissions: [read] } } ]",
            ),
            template: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["targets[0]"]);
    let status = flows
        .create_flow(pb::CreateFlowRequest {
            definition: space_flow("global bundle", "[ { bundle: everything-demo } ]"),
            template: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&status),
        ["targets[0]"],
        "a space flow cannot use a global bundle"
    );

    // Applying one space's (empty) document with prune removes only that space's flows.
    let plan = flows
        .apply_flows(pb::ApplyFlowsRequest {
            document: "[]".into(),
            prune: true,
            dry_run: true,
            space: "payments".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(plan.deleted, ["payments flow"]);
}
