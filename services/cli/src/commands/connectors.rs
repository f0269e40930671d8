//! `latch connectors …`: the connectors the server has built in.

use clap::Subcommand;
use latch_proto::catalog::v1::ListConnectorsRequest;

use crate::context::Context;
use crate::error::CliError;
use crate::output;
use crate::render::catalog::connector::{ConnectorView, connectors_text};

#[derive(Debug, Subcommand)]
pub enum ConnectorsCommand {
    /// List connectors with their resource types, permissions and config fields
    List,
}

pub async fn run(ctx: &Context, command: ConnectorsCommand) -> Result<(), CliError> {
    let mut client = ctx.catalog_client().await?;
    match command {
        ConnectorsCommand::List => {
            let connectors = client
                .list_connectors(ListConnectorsRequest {})
                .await?
                .into_inner()
                .connectors;
            let view = serde_json::json!({
                "connectors": connectors.iter().map(ConnectorView::from).collect::<Vec<_>>(),
            });
            output::emit(ctx.output, &view, || {
                if connectors.is_empty() {
                    "no connectors".to_string()
                } else {
                    connectors_text(&connectors)
                }
            })
        }
    }
}
