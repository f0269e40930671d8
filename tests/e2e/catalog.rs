//! The catalog over gRPC with the built-in demo connector.

use std::collections::HashMap;

use latch_proto::catalog::v1 as pb;
use tonic::Code;

use crate::harness::{CatalogClient, TestServer, violated_fields};

async fn demo_integration(client: &mut CatalogClient, name: &str, space: &str) -> pb::Integration {
    client
        .create_integration(pb::CreateIntegrationRequest {
            integration: Some(pb::Integration {
                display_name: name.into(),
                connector: "demo".into(),
                config: HashMap::from([("latency_ms".into(), "0".into())]),
                space: space.into(),
                ..Default::default()
            }),
            secrets: HashMap::from([("api_key".into(), "s3cr3t-demo-key".into())]),
            request_id: String::new(),
        })
        .await
        .expect("create integration")
        .into_inner()
}

fn target(
    integration: &str,
    kind: &str,
    permissions: &[&str],
    mode: pb::selection::Mode,
    tags: &[(&str, &[&str])],
) -> pb::IntegrationTarget {
    pb::IntegrationTarget {
        integration: integration.into(),
        resource_type: kind.into(),
        permissions: permissions.iter().map(|p| p.to_string()).collect(),
        selection: Some(pb::Selection {
            mode: mode as i32,
            resource_ids: vec![],
            resource_names: vec![],
            tags: tags
                .iter()
                .map(|(k, v)| pb::TagSelector {
                    key: k.to_string(),
                    values: v.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
        }),
    }
}

#[tokio::test]
async fn integrations_keep_secrets_sealed_and_sync_resources() {
    let server = TestServer::start().await;
    let mut catalog = server.catalog_admin().await;
    let connectors = catalog
        .list_connectors(pb::ListConnectorsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(connectors.connectors.iter().any(|c| c.name == "demo"));

    let created = demo_integration(&mut catalog, "demo-prod", "").await;
    assert_eq!(created.secrets_set, ["api_key"]);
    assert!(!created.config.contains_key("api_key"));
    assert_eq!(
        created.status.as_ref().unwrap().state,
        pb::integration_status::State::Ok as i32
    );
    let fetched = catalog
        .get_integration(pb::GetIntegrationRequest { id: "demo-prod".into() })
        .await
        .unwrap()
        .into_inner();
    assert!(!format!("{fetched:?}").contains("s3cr3t"), "secrets are never returned");
    assert!(fetched.resource_types.iter().any(|t| t.name == "table"));

    let synced = catalog
        .sync_integration(pb::SyncIntegrationRequest { id: created.id.clone() })
        .await
        .unwrap()
        .into_inner();
    let summary = synced.summary.unwrap();
    assert_eq!((summary.resources, summary.added, summary.removed), (10, 10, 0));
    let prod = catalog
        .list_resources(pb::ListResourcesRequest {
            tags: vec!["env=prod".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        prod.total_size, 5,
        "the prod database, its three tables and the prod bucket"
    );

    // Admin tags and owners survive a re-sync.
    let (bob, _) = server.user_with_token("bob").await;
    let tagged = catalog
        .update_resource(pb::UpdateResourceRequest {
            integration: "demo-prod".into(),
            id: "table:orders-prod/orders".into(),
            set_tags: HashMap::from([("tier".into(), "1".into()), ("env".into(), "production".into())]),
            remove_tags: vec![],
            owners: vec![pb::Principal {
                kind: pb::principal::Kind::User as i32,
                id: "bob".into(),
            }],
            update_owners: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tagged.tags["env"], "production", "admin tags override the system's");
    assert_eq!(tagged.owners[0].id, bob.id, "owners are stored by id");
    let again = catalog
        .sync_integration(pb::SyncIntegrationRequest { id: "demo-prod".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.summary.unwrap().added, 0);
    let kept = catalog
        .get_resource(pb::GetResourceRequest {
            integration: "demo-prod".into(),
            id: "table:orders-prod/orders".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.admin_tags["tier"], "1");
    assert_eq!(kept.owners.len(), 1);
}

#[tokio::test]
async fn invalid_integrations_name_the_field_and_rule() {
    let server = TestServer::start().await;
    let mut catalog = server.catalog_admin().await;
    let status = catalog
        .create_integration(pb::CreateIntegrationRequest {
            integration: Some(pb::Integration {
                display_name: "x".into(),
                connector: "mainframe".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["integration.connector"]);
    let status = catalog
        .create_integration(pb::CreateIntegrationRequest {
            integration: Some(pb::Integration {
                display_name: "x".into(),
                connector: "demo".into(),
                config: HashMap::from([("api_key".into(), "plain".into()), ("colour".into(), "red".into())]),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let fields = violated_fields(&status);
    assert!(fields.contains(&"integration.config.api_key".to_string()), "{fields:?}");
    assert!(fields.contains(&"integration.config.colour".to_string()), "{fields:?}");
    let list = catalog
        .list_integrations(pb::ListIntegrationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(list.integrations.is_empty(), "nothing was written");

    let (_, secret) = server.user_secret("mallory").await;
    let mut mallory = server.catalog_with(Some(&secret)).await;
    let status = mallory
        .create_integration(pb::CreateIntegrationRequest {
            integration: Some(pb::Integration {
                display_name: "m".into(),
                connector: "demo".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn bundles_scopes_and_targets_resolve_to_concrete_items() {
    let server = TestServer::start().await;
    let mut catalog = server.catalog_admin().await;
    demo_integration(&mut catalog, "demo", "").await;
    catalog
        .sync_integration(pb::SyncIntegrationRequest { id: "demo".into() })
        .await
        .unwrap();

    let status = catalog
        .create_bundle(pb::CreateBundleRequest {
            bundle: Some(pb::Bundle {
                display_name: "broken".into(),
                targets: vec![target("demo", "table", &["fly"], pb::selection::Mode::Any, &[])],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["bundle.targets[0].permissions[0]"]);

    catalog
        .create_bundle(pb::CreateBundleRequest {
            bundle: Some(pb::Bundle {
                display_name: "pii-readers".into(),
                targets: vec![target(
                    "demo",
                    "table",
                    &["read"],
                    pb::selection::Mode::Include,
                    &[("pii", &["true"])],
                )],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let resolve = |targets: Vec<pb::Target>| pb::ResolveTargetsRequest {
        targets,
        space: String::new(),
    };
    let items = catalog
        .resolve_targets(resolve(vec![pb::Target {
            kind: Some(pb::target::Kind::Bundle("pii-readers".into())),
        }]))
        .await
        .unwrap()
        .into_inner()
        .items;
    let paths: Vec<_> = items
        .iter()
        .map(|i| (i.resource_path.as_str(), i.permission.as_str()))
        .collect();
    assert_eq!(
        paths,
        [("orders-prod/customers", "read"), ("orders-staging/customers", "read")]
    );

    let query = pb::AccessScopeQuery {
        resource_types: vec!["table".into()],
        include_tags: vec![pb::TagSelector {
            key: "env".into(),
            values: vec!["prod".into()],
        }],
        exclude_tags: vec![pb::TagSelector {
            key: "pii".into(),
            values: vec!["true".into()],
        }],
        ..Default::default()
    };
    let preview = catalog
        .preview_access_scope(pb::PreviewAccessScopeRequest {
            source: Some(pb::preview_access_scope_request::Source::Query(query.clone())),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(preview.total_size, 2, "orders and invoices of prod");
    catalog
        .create_access_scope(pb::CreateAccessScopeRequest {
            scope: Some(pb::AccessScope {
                display_name: "prod-non-pii".into(),
                query: Some(query),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let scope_target = pb::Target {
        kind: Some(pb::target::Kind::Scope(pb::ScopeTarget {
            scope: "prod-non-pii".into(),
            permissions: vec!["write".into(), "admin".into()],
        })),
    };
    let items = catalog
        .resolve_targets(resolve(vec![scope_target]))
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(items.len(), 2, "tables have write but no admin permission: {items:?}");

    // Excluding by tag and combining targets stays sorted and without duplicates.
    let any_tables = pb::Target {
        kind: Some(pb::target::Kind::Integration(target(
            "demo",
            "table",
            &["read"],
            pb::selection::Mode::Exclude,
            &[("env", &["staging"])],
        ))),
    };
    let bundle = pb::Target {
        kind: Some(pb::target::Kind::Bundle("pii-readers".into())),
    };
    let items = catalog
        .resolve_targets(resolve(vec![any_tables, bundle]))
        .await
        .unwrap()
        .into_inner()
        .items;
    let paths: Vec<_> = items.iter().map(|i| i.resource_path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "orders-prod/customers",
            "orders-prod/invoices",
            "orders-prod/orders",
            "orders-staging/customers"
        ]
    );
}

#[tokio::test]
async fn integrations_in_use_by_bundles_or_scopes_cannot_be_deleted() {
    let server = TestServer::start().await;
    let mut catalog = server.catalog_admin().await;
    demo_integration(&mut catalog, "demo", "").await;
    catalog
        .create_access_scope(pb::CreateAccessScopeRequest {
            scope: Some(pb::AccessScope {
                display_name: "demo-tables".into(),
                query: Some(pb::AccessScopeQuery {
                    integrations: vec!["demo".into()],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let status = catalog
        .delete_integration(pb::DeleteIntegrationRequest { id: "demo".into() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("access scope demo-tables"),
        "{}",
        status.message()
    );
    catalog
        .delete_access_scope(pb::DeleteAccessScopeRequest {
            id: "demo-tables".into(),
        })
        .await
        .unwrap();
    catalog
        .delete_integration(pb::DeleteIntegrationRequest { id: "demo".into() })
        .await
        .expect("no longer used");
}

#[tokio::test]
async fn space_admins_manage_only_their_space_and_flows_stay_in_theirs() {
    let server = TestServer::start().await;
    let mut catalog = server.catalog_admin().await;
    let (_, secret) = server.user_secret("pat").await;
    catalog
        .create_space(pb::CreateSpaceRequest {
            space: Some(pb::Space {
                display_name: "payments".into(),
                admins: vec![pb::Principal {
                    kind: pb::principal::Kind::User as i32,
                    id: "pat".into(),
                }],
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    demo_integration(&mut catalog, "shared-demo", "payments").await;
    demo_integration(&mut catalog, "global-demo", "").await;
    catalog
        .sync_integration(pb::SyncIntegrationRequest {
            id: "shared-demo".into(),
        })
        .await
        .unwrap();
    let mut pat = server.catalog_with(Some(&secret)).await;
    let bundle = |space: &str, name: &str| pb::CreateBundleRequest {
        bundle: Some(pb::Bundle {
            display_name: name.into(),
            space: space.into(),
            targets: vec![target(
                "shared-demo",
                "bucket",
                &["read"],
                pb::selection::Mode::Any,
                &[],
            )],
            ..Default::default()
        }),
        request_id: String::new(),
    };
    pat.create_bundle(bundle("payments", "payments-buckets"))
        .await
        .expect("a space admin manages the space");
    // A space's bundle may not reach a global integration: the space admin stays inside.
    let mut outside = bundle("payments", "outside");
    outside.bundle.as_mut().unwrap().targets[0].integration = "global-demo".into();
    let status = pat.create_bundle(outside).await.unwrap_err();
    assert_eq!(violated_fields(&status), ["bundle.targets[0].integration"]);
    let status = pat.create_bundle(bundle("", "global-buckets")).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    let by_bundle = |space: &str| pb::ResolveTargetsRequest {
        targets: vec![pb::Target {
            kind: Some(pb::target::Kind::Bundle("payments-buckets".into())),
        }],
        space: space.into(),
    };
    assert_eq!(
        catalog
            .resolve_targets(by_bundle("payments"))
            .await
            .unwrap()
            .into_inner()
            .items
            .len(),
        2
    );
    let status = catalog.resolve_targets(by_bundle("")).await.unwrap_err();
    assert_eq!(
        violated_fields(&status),
        ["targets[0]"],
        "a global flow cannot use a space's bundle"
    );
}

#[tokio::test]
async fn an_integration_with_active_grants_cannot_be_deleted() {
    let server = TestServer::start().await;
    let mut catalog = server.catalog_admin().await;
    let integration = demo_integration(&mut catalog, "demo", "").await;
    let connector = server
        .catalog
        .as_ref()
        .unwrap()
        .connectors()
        .resolve("demo", "")
        .await
        .unwrap();
    let config = latch_connector_sdk::Config::new();
    let request = latch_connector_sdk::GrantRequest {
        grant_id: "g-1".into(),
        grantee: Default::default(),
        resource_type: "bucket".into(),
        resource_id: "bucket:exports-prod".into(),
        permission: "read".into(),
        expires_at: None,
        context: Default::default(),
    };
    connector.grant(&config, &request).await.unwrap();
    let status = catalog
        .delete_integration(pb::DeleteIntegrationRequest {
            id: integration.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    connector.revoke(&config, "g-1").await.unwrap();
    catalog
        .delete_integration(pb::DeleteIntegrationRequest { id: integration.id })
        .await
        .expect("no grants left");
}
