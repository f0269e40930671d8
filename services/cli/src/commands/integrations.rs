//! `latch integrations …`: connected target systems.

use clap::{Args, Subcommand};
use latch_proto::catalog::v1 as pb;
use serde::Serialize;

use super::integration_config::ConfigArgs;
use super::integration_update::{self, UpdateArgs};
use crate::context::Context;
use crate::error::CliError;
use crate::output;
use crate::principal::PrincipalArg;
use crate::render::catalog::integration::{
    IntegrationView, SyncSummaryView, integration_details, integrations_table, is_unhealthy, sync_text,
};

#[derive(Debug, Subcommand)]
pub enum IntegrationsCommand {
    /// Connect a target system: a connector with its config
    Add(AddArgs),
    /// List integrations
    List {
        /// Only this space (id or name)
        #[arg(long)]
        space: Option<String>,
    },
    /// Show one integration: config, status, resource types and last sync
    Get {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
    /// Check the config against the real system; exits 1 when it does not work
    Validate {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
    /// Read the integration's resources now
    Sync {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
    /// Change config values, secrets, the owner or the name
    Update(UpdateArgs),
    /// Delete an integration (refused while grants made through it remain)
    Delete {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Unique name, e.g. prod-postgres
    name: String,
    /// A built-in connector (see `latch connectors list`), or remote with --endpoint
    #[arg(long, value_name = "postgres|demo|remote")]
    connector: String,
    /// For --connector remote: http://host:port serving latch.connector.v1.ConnectorService
    #[arg(long, value_name = "URL", required_if_eq("connector", "remote"))]
    endpoint: Option<String>,
    #[command(flatten)]
    values: ConfigArgs,
    /// Who answers for the integration
    #[arg(long, value_name = "USER|group:GROUP")]
    owner: Option<PrincipalArg>,
    /// The space it belongs to (id or name) [default: the account level]
    #[arg(long)]
    space: Option<String>,
    /// Idempotency key: a retry with the same id returns the integration created the first time
    #[arg(long)]
    request_id: Option<String>,
}

#[derive(Debug, Serialize)]
struct SyncView<'a> {
    integration: &'a str,
    summary: SyncSummaryView,
}

pub async fn run(ctx: &Context, command: IntegrationsCommand) -> Result<(), CliError> {
    match command {
        IntegrationsCommand::Add(args) => add(ctx, args).await,
        IntegrationsCommand::List { space } => {
            let mut client = ctx.catalog_client().await?;
            let request = pb::ListIntegrationsRequest {
                space: space.unwrap_or_default(),
            };
            let integrations = client.list_integrations(request).await?.into_inner().integrations;
            let view = serde_json::json!({
                "integrations": integrations.iter().map(IntegrationView::from).collect::<Vec<_>>(),
            });
            output::emit(ctx.output, &view, || {
                if integrations.is_empty() {
                    "no integrations".to_string()
                } else {
                    integrations_table(&integrations)
                }
            })
        }
        IntegrationsCommand::Get { id } => {
            let mut client = ctx.catalog_client().await?;
            let integration = client
                .get_integration(pb::GetIntegrationRequest { id })
                .await?
                .into_inner();
            show_integration(ctx, &integration)
        }
        IntegrationsCommand::Validate { id } => {
            let mut client = ctx.catalog_client().await?;
            let integration = client
                .validate_integration(pb::ValidateIntegrationRequest { id })
                .await?
                .into_inner();
            show_integration(ctx, &integration)?;
            if !is_unhealthy(&integration) {
                return Ok(());
            }
            Err(CliError::IntegrationUnhealthy {
                integration: integration.display_name.clone(),
                problems: integration.status.map(|status| status.problems).unwrap_or_default(),
            })
        }
        IntegrationsCommand::Sync { id } => {
            let mut client = ctx.catalog_client().await?;
            let summary = client
                .sync_integration(pb::SyncIntegrationRequest { id: id.clone() })
                .await?
                .into_inner()
                .summary
                .unwrap_or_default();
            let view = SyncView {
                integration: &id,
                summary: SyncSummaryView::from(&summary),
            };
            output::emit(ctx.output, &view, || format!("synced {id}: {}", sync_text(&summary)))?;
            if summary.error.is_empty() {
                return Ok(());
            }
            Err(CliError::Other(format!("sync of {id} failed: {}", summary.error)))
        }
        IntegrationsCommand::Update(args) => {
            // Read every value (stdin included) before the first call.
            let config = args.values.config()?;
            let secrets = args.values.secrets()?;
            let mut client = ctx.catalog_client().await?;
            let current = client
                .get_integration(pb::GetIntegrationRequest { id: args.id.clone() })
                .await?
                .into_inner();
            let request = integration_update::build_request(&args, &current, config, secrets);
            let integration = client.update_integration(request).await?.into_inner();
            show_integration(ctx, &integration)
        }
        IntegrationsCommand::Delete { id } => {
            let mut client = ctx.catalog_client().await?;
            client
                .delete_integration(pb::DeleteIntegrationRequest { id: id.clone() })
                .await?;
            super::done(ctx, "deleted", &id, &format!("deleted integration {id}"))
        }
    }
}

async fn add(ctx: &Context, args: AddArgs) -> Result<(), CliError> {
    // Read every value (stdin included) before connecting.
    let config = args.values.config()?;
    let secrets = args.values.secrets()?;
    let integration = pb::Integration {
        display_name: args.name,
        connector: args.connector,
        endpoint: args.endpoint.unwrap_or_default(),
        config,
        owner: args.owner.as_ref().map(PrincipalArg::to_proto),
        space: args.space.unwrap_or_default(),
        ..Default::default()
    };
    let request = pb::CreateIntegrationRequest {
        integration: Some(integration),
        secrets,
        request_id: args.request_id.unwrap_or_default(),
    };
    let mut client = ctx.catalog_client().await?;
    let integration = client.create_integration(request).await?.into_inner();
    show_integration(ctx, &integration)
}

fn show_integration(ctx: &Context, integration: &pb::Integration) -> Result<(), CliError> {
    output::emit(ctx.output, &IntegrationView::from(integration), || {
        integration_details(integration)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        add: AddArgs,
    }

    fn parse(args: &[&str]) -> Result<AddArgs, clap::Error> {
        Harness::try_parse_from(std::iter::once("add").chain(args.iter().copied())).map(|h| h.add)
    }

    #[test]
    fn remote_connectors_need_an_endpoint() {
        assert!(parse(&["ext", "--connector", "remote"]).is_err());
        let args = parse(&["ext", "--connector", "remote", "--endpoint", "http://c:9000"]).unwrap();
        assert_eq!(args.endpoint.as_deref(), Some("http://c:9000"));
        assert!(parse(&["pg", "--connector", "postgres"]).is_ok());
    }

    #[test]
    fn owner_takes_user_or_group() {
        let args = parse(&["pg", "--connector", "postgres", "--owner", "group:dba"]).unwrap();
        assert_eq!(args.owner, Some(PrincipalArg::Group("dba".into())));
        assert!(parse(&["pg", "--connector", "postgres", "--owner", "role:dba"]).is_err());
    }
}
