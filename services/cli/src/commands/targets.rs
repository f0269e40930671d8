//! `latch targets resolve`: what a set of targets covers now, item by item.

use clap::{ArgGroup, Args, Subcommand};
use latch_proto::catalog::v1 as pb;
use latch_proto::catalog::v1::target::Kind;
use serde::Serialize;

use super::integration_names;
use crate::context::Context;
use crate::error::CliError;
use crate::output;
use crate::render::catalog::resolved::{ResolvedItemView, resolved_text};
use crate::target_spec::{ScopeTargetSpec, TargetSpec};

#[derive(Debug, Subcommand)]
pub enum TargetsCommand {
    /// List the (integration, resource, permission) items targets cover now
    Resolve(ResolveArgs),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("targets_given").required(true).multiple(true).args(["targets", "bundles", "scopes"])))]
pub struct ResolveArgs {
    /// INTEGRATION/TYPE:PERM[,PERM...][@SELECTION]; repeat for more
    ///
    /// SELECTION is `any` (the default), `only:ITEMS` or `except:ITEMS`, ITEMS being
    /// `;`-separated `id=ID`, `name=NAME` or `tag=KEY[=V1|V2...]`.
    /// Example: prod-pg/table:read@only:tag=env=prod|staging;name=orders
    #[arg(long = "target", value_name = "SPEC")]
    targets: Vec<TargetSpec>,
    /// A bundle (id or name); repeat for more
    #[arg(long = "bundle", value_name = "ID_OR_NAME")]
    bundles: Vec<String>,
    /// An access scope and the permissions to grant on what it matches; repeat for more
    #[arg(long = "scope", value_name = "SCOPE:PERM[,PERM...]")]
    scopes: Vec<ScopeTargetSpec>,
    /// Resolve as a flow of this space would (bundles and scopes of other spaces are refused)
    #[arg(long)]
    space: Option<String>,
}

impl ResolveArgs {
    /// Integration targets first, then bundles, then scopes; the server sorts the result anyway.
    fn request(&self) -> pb::ResolveTargetsRequest {
        let integration_targets = self.targets.iter().map(|spec| Kind::Integration(spec.to_proto()));
        let bundles = self.bundles.iter().map(|bundle| Kind::Bundle(bundle.clone()));
        let scopes = self.scopes.iter().map(|scope| Kind::Scope(scope.to_proto()));
        pb::ResolveTargetsRequest {
            targets: integration_targets
                .chain(bundles)
                .chain(scopes)
                .map(|kind| pb::Target { kind: Some(kind) })
                .collect(),
            space: self.space.clone().unwrap_or_default(),
        }
    }
}

#[derive(Debug, Serialize)]
struct ResolvedView {
    items: Vec<ResolvedItemView>,
    count: usize,
}

pub async fn run(ctx: &Context, command: TargetsCommand) -> Result<(), CliError> {
    let mut client = ctx.catalog_client().await?;
    match command {
        TargetsCommand::Resolve(args) => {
            let items = client.resolve_targets(args.request()).await?.into_inner().items;
            show_items(ctx, &mut client, &items).await
        }
    }
}

/// Prints resolved items (as a table, or JSON with their count).
pub(crate) async fn show_items(
    ctx: &Context,
    client: &mut crate::client::CatalogClient,
    items: &[pb::ResolvedItem],
) -> Result<(), CliError> {
    if ctx.json() {
        return output::json(&ResolvedView {
            items: items.iter().map(ResolvedItemView::from).collect(),
            count: items.len(),
        });
    }
    let names = integration_names::for_tables(ctx, client).await?;
    output::line(resolved_text(items, &names))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        resolve: ResolveArgs,
    }

    fn parse(args: &[&str]) -> Result<ResolveArgs, clap::Error> {
        Harness::try_parse_from(std::iter::once("resolve").chain(args.iter().copied())).map(|h| h.resolve)
    }

    #[test]
    fn every_kind_of_target_goes_into_the_request() {
        let args = parse(&[
            "--target",
            "prod-pg/table:read",
            "--bundle",
            "analyst",
            "--scope",
            "prod-tables:read,write",
            "--space",
            "payments",
        ])
        .unwrap();
        let request = args.request();
        assert_eq!(request.space, "payments");
        let kinds: Vec<Kind> = request.targets.into_iter().filter_map(|target| target.kind).collect();
        assert!(matches!(&kinds[0], Kind::Integration(target) if target.integration == "prod-pg"));
        assert_eq!(kinds[1], Kind::Bundle("analyst".into()));
        assert!(matches!(&kinds[2], Kind::Scope(scope) if scope.permissions == ["read", "write"]));
    }

    #[test]
    fn needs_a_target_and_checks_each_spec() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["--space", "payments"]).is_err());
        assert!(parse(&["--scope", "prod-tables"]).is_err());
        assert!(parse(&["--target", "prod-pg:read"]).is_err());
    }
}
