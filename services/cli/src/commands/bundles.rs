//! `latch bundles …`: named sets of integration targets, requested as one.

use clap::Subcommand;
use latch_proto::catalog::v1 as pb;

use crate::context::Context;
use crate::error::CliError;
use crate::output;
use crate::render::catalog::bundle::{BundleView, bundle_details, bundles_table};
use crate::target_spec::TargetSpec;

#[derive(Debug, Subcommand)]
pub enum BundlesCommand {
    /// Create a bundle
    Create {
        /// Unique name, e.g. analyst
        name: String,
        /// What the bundle is for
        #[arg(long)]
        description: Option<String>,
        /// The space it belongs to (id or name) [default: the account level]
        #[arg(long)]
        space: Option<String>,
        /// INTEGRATION/TYPE:PERM[,PERM...][@SELECTION]; repeat for more
        ///
        /// SELECTION is `any` (the default), `only:ITEMS` or `except:ITEMS`, ITEMS being
        /// `;`-separated `id=ID`, `name=NAME` or `tag=KEY[=V1|V2...]`.
        /// Example: prod-pg/table:read@only:tag=env=prod|staging;name=orders
        #[arg(long = "target", value_name = "SPEC", required = true)]
        targets: Vec<TargetSpec>,
        /// Idempotency key: a retry with the same id returns the bundle created the first time
        #[arg(long)]
        request_id: Option<String>,
    },
    /// List bundles
    List {
        /// Only this space (id or name)
        #[arg(long)]
        space: Option<String>,
    },
    /// Show one bundle with its targets
    Get {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
    /// The concrete (integration, resource, permission) items the bundle covers now
    Preview {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
    /// Delete a bundle
    Delete {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
}

pub async fn run(ctx: &Context, command: BundlesCommand) -> Result<(), CliError> {
    let mut client = ctx.catalog_client().await?;
    match command {
        BundlesCommand::Create {
            name,
            description,
            space,
            targets,
            request_id,
        } => {
            let bundle = pb::Bundle {
                display_name: name,
                description: description.unwrap_or_default(),
                space: space.unwrap_or_default(),
                targets: targets.iter().map(TargetSpec::to_proto).collect(),
                ..Default::default()
            };
            let request = pb::CreateBundleRequest {
                bundle: Some(bundle),
                request_id: request_id.unwrap_or_default(),
            };
            let bundle = client.create_bundle(request).await?.into_inner();
            show_bundle(ctx, &bundle)
        }
        BundlesCommand::List { space } => {
            let request = pb::ListBundlesRequest {
                space: space.unwrap_or_default(),
            };
            let bundles = client.list_bundles(request).await?.into_inner().bundles;
            let view = serde_json::json!({
                "bundles": bundles.iter().map(BundleView::from).collect::<Vec<_>>(),
            });
            output::emit(ctx.output, &view, || {
                if bundles.is_empty() {
                    "no bundles".to_string()
                } else {
                    bundles_table(&bundles)
                }
            })
        }
        BundlesCommand::Get { id } => {
            let bundle = client.get_bundle(pb::GetBundleRequest { id }).await?.into_inner();
            show_bundle(ctx, &bundle)
        }
        BundlesCommand::Preview { id } => {
            let bundle = client.get_bundle(pb::GetBundleRequest { id }).await?.into_inner();
            let request = pb::ResolveTargetsRequest {
                targets: vec![pb::Target {
                    kind: Some(pb::target::Kind::Bundle(bundle.id.clone())),
                }],
                space: bundle.space.clone(),
            };
            let items = client.resolve_targets(request).await?.into_inner().items;
            super::targets::show_items(ctx, &mut client, &items).await
        }
        BundlesCommand::Delete { id } => {
            client.delete_bundle(pb::DeleteBundleRequest { id: id.clone() }).await?;
            super::done(ctx, "deleted", &id, &format!("deleted bundle {id}"))
        }
    }
}

fn show_bundle(ctx: &Context, bundle: &pb::Bundle) -> Result<(), CliError> {
    output::emit(ctx.output, &BundleView::from(bundle), || bundle_details(bundle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(subcommand)]
        command: BundlesCommand,
    }

    #[test]
    fn create_needs_a_valid_target() {
        assert!(Harness::try_parse_from(["b", "create", "analyst"]).is_err());
        let error = Harness::try_parse_from(["b", "create", "analyst", "--target", "prod-pg/table"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        let message = error.to_string();
        assert!(
            message.contains("no ':'") && message.contains("expected INTEGRATION/TYPE:PERM"),
            "{message}"
        );
        let parsed = Harness::try_parse_from([
            "b",
            "create",
            "analyst",
            "--target",
            "prod-pg/table:read@only:name=orders",
            "--target",
            "prod-pg/database:connect",
        ])
        .unwrap();
        let BundlesCommand::Create { targets, .. } = parsed.command else {
            panic!("not create");
        };
        assert_eq!(targets.len(), 2);
    }
}
