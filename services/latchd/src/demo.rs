//! `latchd --demo`: besides the demo directory, an integration of the demo connector, synced,
//! and one self-serve flow, so a first look shows every context working.

use latch_catalog::CatalogService;
use latch_catalog::service::{Actor, IntegrationDraft};
use latch_flow::FlowService;
use latch_identity::IdentityService;
use latch_identity::service::BOOTSTRAP_ADMIN;
use latch_proto::common::v1::Role;
use latch_runtime::{Caller, TokenScope};

const DEMO_FLOW: &str = r#"
name: engineering reads demo data
kind: self_serve
labels: [demo]
requestors:
  rows:
    - { attribute: group, operator: is, values: [engineering] }
targets:
  - integration: { integration: demo, resource_type: table, permissions: [read], mode: exclude, tags: [ { key: pii, values: ["true"] } ] }
grant_for: { custom: 2h }
approval:
  approval_of:
    groups:
      - rows: [ manager ]
settings:
  require_duration: true
  extensions: { max_count: 2, extend_by: 30m }
"#;

pub async fn load_catalog_and_flow(
    identity: &IdentityService,
    catalog: &CatalogService,
    flow: &FlowService,
) -> anyhow::Result<()> {
    let actor = Actor::system("demo");
    if catalog.state().integration("demo").is_none() {
        let draft = IntegrationDraft {
            name: "demo".into(),
            connector: "demo".into(),
            ..IntegrationDraft::default()
        };
        catalog.create_integration(&actor, draft, "").await?;
        catalog.sync_integration(&actor, "demo").await?;
    }
    if flow.flow("engineering reads demo data").is_err() {
        let admin = identity.get_user(BOOTSTRAP_ADMIN)?;
        let caller = Caller {
            user_id: admin.id.clone(),
            user_name: admin.user_name.clone(),
            token_id: String::new(),
            roles: vec![Role::User, Role::Admin],
            scope: TokenScope::Api,
            source: String::new(),
        };
        flow.create(&caller, DEMO_FLOW, "").await?;
    }
    tracing::info!("demo integration and flow loaded");
    Ok(())
}
