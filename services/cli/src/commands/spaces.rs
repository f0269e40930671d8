//! `latch spaces …`: spaces and their admins.

use clap::Subcommand;
use latch_proto::catalog::v1 as pb;

use crate::context::Context;
use crate::error::CliError;
use crate::output;
use crate::principal::PrincipalArg;
use crate::render::catalog::space::{SpaceView, space_details, spaces_table};

#[derive(Debug, Subcommand)]
pub enum SpacesCommand {
    /// Create a space
    Create {
        /// Unique name, e.g. payments
        name: String,
        /// Who manages the space's integrations, bundles and scopes; repeat for more
        #[arg(long = "admin", value_name = "USER|group:GROUP")]
        admins: Vec<PrincipalArg>,
    },
    /// List spaces
    List,
    /// Delete a space
    Delete {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
}

pub async fn run(ctx: &Context, command: SpacesCommand) -> Result<(), CliError> {
    let mut client = ctx.catalog_client().await?;
    match command {
        SpacesCommand::Create { name, admins } => {
            let space = pb::Space {
                display_name: name,
                admins: admins.iter().map(PrincipalArg::to_proto).collect(),
                ..Default::default()
            };
            let space = client
                .create_space(pb::CreateSpaceRequest { space: Some(space) })
                .await?
                .into_inner();
            output::emit(ctx.output, &SpaceView::from(&space), || space_details(&space))
        }
        SpacesCommand::List => {
            let spaces = client.list_spaces(pb::ListSpacesRequest {}).await?.into_inner().spaces;
            let view = serde_json::json!({
                "spaces": spaces.iter().map(SpaceView::from).collect::<Vec<_>>(),
            });
            output::emit(ctx.output, &view, || {
                if spaces.is_empty() {
                    "no spaces".to_string()
                } else {
                    spaces_table(&spaces)
                }
            })
        }
        SpacesCommand::Delete { id } => {
            client.delete_space(pb::DeleteSpaceRequest { id: id.clone() }).await?;
            super::done(ctx, "deleted", &id, &format!("deleted space {id}"))
        }
    }
}
