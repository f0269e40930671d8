//! The bench's own world, made through the public API: users in groups, each group led by a
//! manager; a demo-connector integration with `--resources` tables; a flow that approves reads
//! at once and one that sends writes to the manager; a token for each requester and manager.

use std::collections::BTreeMap;

use latch_proto::catalog::v1 as catalog;
use latch_proto::flow::v1 as flow;
use latch_proto::identity::v1 as identity;

use super::BenchArgs;
use crate::client::{self, CatalogClient, FlowClient, IdentityClient, RequestClient};
use crate::context::Context;
use crate::error::CliError;

/// Users per directory import (each document stays well under the 4 MiB import limit).
const IMPORT_CHUNK: u32 = 2_000;

/// A user who submits, and the manager who approves for them.
#[derive(Clone)]
pub struct Requester {
    pub requests: RequestClient,
    pub flows: FlowClient,
    /// Index into `World::managers`.
    pub manager: usize,
}

pub struct World {
    pub integration: String,
    pub requesters: Vec<Requester>,
    /// One client per manager (group leader), in group order.
    pub managers: Vec<RequestClient>,
    pub resources: u32,
    pub run: String,
}

/// A run name: letters and digits, so it can stand in user, group and flow names.
pub fn check_run_name(name: &str) -> Result<String, CliError> {
    if (1..=16).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(CliError::Usage("--run: 1 to 16 letters or digits".into()))
    }
}

fn user_name(run: &str, n: u32) -> String {
    format!("bench-{run}-u{n}")
}

/// User `n`'s group; the group's first user (n < groups) leads it.
fn group_of(n: u32, groups: u32) -> u32 {
    n % groups
}

/// The directory document for users `from..to`: each with its group's leader as manager.
fn directory(run: &str, args: &BenchArgs, from: u32, to: u32) -> String {
    let mut document = String::from("users:\n");
    for n in from..to {
        let group = group_of(n, args.groups);
        document.push_str(&format!(
            "  - user_name: {}\n    email: {}@bench.example\n    attributes: {{ bench_run: {run}, team: t{group} }}\n",
            user_name(run, n),
            user_name(run, n),
        ));
        if n >= args.groups {
            document.push_str(&format!("    manager: {}\n", user_name(run, group)));
        }
    }
    document
}

fn groups_document(run: &str, args: &BenchArgs) -> String {
    let mut members: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for n in 0..args.users {
        members
            .entry(group_of(n, args.groups))
            .or_default()
            .push(user_name(run, n));
    }
    let mut document = String::from("groups:\n");
    for (group, names) in members {
        document.push_str(&format!(
            "  - name: bench-{run}-g{group}\n    members: [{}]\n",
            names.join(", ")
        ));
    }
    document
}

fn flow_documents(run: &str, integration: &str) -> [String; 2] {
    [
        format!(
            r#"
name: bench {run} automatic
kind: self_serve
requestors: {{ rows: [ {{ attribute: bench_run, operator: is, values: ["{run}"] }} ] }}
targets:
  - integration: {{ integration: "{integration}", resource_type: table, permissions: [read], mode: any }}
grant_for: {{ custom: 2h }}
settings: {{ require_justification: false, extensions: {{ max_count: 10, extend_by: 30m }} }}
"#
        ),
        format!(
            r#"
name: bench {run} manager
kind: self_serve
requestors: {{ rows: [ {{ attribute: bench_run, operator: is, values: ["{run}"] }} ] }}
targets:
  - integration: {{ integration: "{integration}", resource_type: table, permissions: [write], mode: any }}
grant_for: {{ custom: 2h }}
approval:
  approval_of:
    groups:
      - rows: [ manager ]
settings: {{ require_justification: false, extensions: {{ max_count: 10, extend_by: 30m }} }}
"#
        ),
    ]
}

async fn token_for(admin: &mut IdentityClient, user_name: &str) -> Result<String, CliError> {
    let user = admin
        .get_user(identity::GetUserRequest {
            id: user_name.to_string(),
        })
        .await?
        .into_inner();
    Ok(admin
        .create_token(identity::CreateTokenRequest {
            user_id: user.id,
            description: "latch bench".into(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .secret)
}

impl World {
    pub async fn build(ctx: &Context, args: &BenchArgs, run: &str) -> Result<Self, CliError> {
        let token = ctx.token()?;
        let mut admin = client::connect(&ctx.server, token).await?;
        let mut from = 0;
        while from < args.users {
            let to = (from + IMPORT_CHUNK).min(args.users);
            admin
                .import_directory(identity::ImportDirectoryRequest {
                    document: directory(run, args, from, to),
                    dry_run: false,
                })
                .await?;
            from = to;
        }
        admin
            .import_directory(identity::ImportDirectoryRequest {
                document: groups_document(run, args),
                dry_run: false,
            })
            .await?;

        let mut catalog_client: CatalogClient = client::connect_catalog(&ctx.server, token).await?;
        let integration = catalog_client
            .create_integration(catalog::CreateIntegrationRequest {
                integration: Some(catalog::Integration {
                    display_name: format!("bench {run}"),
                    connector: "demo".into(),
                    config: [("resource_count".to_string(), args.resources.to_string())].into(),
                    ..Default::default()
                }),
                request_id: format!("bench-{run}-integration"),
                ..Default::default()
            })
            .await?
            .into_inner()
            .id;
        catalog_client
            .sync_integration(catalog::SyncIntegrationRequest {
                id: integration.clone(),
            })
            .await?;
        let mut flows = client::connect_flow(&ctx.server, token).await?;
        for definition in flow_documents(run, &integration) {
            flows
                .create_flow(flow::CreateFlowRequest {
                    definition,
                    ..Default::default()
                })
                .await?;
        }

        let mut managers = Vec::new();
        for group in 0..args.groups {
            let secret = token_for(&mut admin, &user_name(run, group)).await?;
            managers.push(client::connect_request(&ctx.server, &secret).await?);
        }
        let mut requesters = Vec::new();
        // Requesters are the users after the leaders, so each has a manager who is not them.
        for n in args.groups..args.groups + args.requesters {
            let secret = token_for(&mut admin, &user_name(run, n)).await?;
            requesters.push(Requester {
                requests: client::connect_request(&ctx.server, &secret).await?,
                flows: client::connect_flow(&ctx.server, &secret).await?,
                manager: group_of(n, args.groups) as usize,
            });
        }
        Ok(Self {
            integration,
            requesters,
            managers,
            resources: args.resources,
            run: run.to_string(),
        })
    }

    /// The demo connector's table `n` (as its generated estate names them).
    pub fn table(&self, n: u32) -> String {
        let n = n % self.resources;
        format!("table:db-{}/t-{n}", n % 100)
    }
}
