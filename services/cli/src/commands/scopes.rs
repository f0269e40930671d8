//! `latch scopes …`: access scopes, saved queries over the catalog's resources.

use clap::{ArgGroup, Args, Subcommand};
use latch_proto::catalog::v1 as pb;
use latch_proto::catalog::v1::preview_access_scope_request::Source;
use serde::Serialize;

use super::integration_names;
use super::scope_query::{QUERY_ARG_IDS, QueryArgs};
use crate::context::Context;
use crate::error::CliError;
use crate::output;
use crate::render::catalog::resource::{ResourceView, resources_table};
use crate::render::catalog::scope::{ScopeView, scope_details, scopes_table};

#[derive(Debug, Subcommand)]
pub enum ScopesCommand {
    /// Save a query as an access scope
    Create(CreateArgs),
    /// List access scopes
    List {
        /// Only this space (id or name)
        #[arg(long)]
        space: Option<String>,
    },
    /// Show one access scope
    Get {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
    /// Delete an access scope
    Delete {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
    /// The resources a saved scope, or a query given by flags, matches now
    Preview(PreviewArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Unique name, e.g. prod-tables
    name: String,
    /// What the scope is for
    #[arg(long)]
    description: Option<String>,
    /// The space it belongs to (id or name) [default: the account level]
    #[arg(long)]
    space: Option<String>,
    #[command(flatten)]
    query: QueryArgs,
    /// Idempotency key: a retry with the same id returns the scope created the first time
    #[arg(long)]
    request_id: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("source")
        .required(true)
        .multiple(true)
        .args(["id", "integrations", "types", "name_patterns", "include_tags", "exclude_tags"])
))]
pub struct PreviewArgs {
    /// A saved scope (id or name), instead of the query flags
    #[arg(value_name = "ID_OR_NAME", conflicts_with_all = QUERY_ARG_IDS)]
    id: Option<String>,
    #[command(flatten)]
    query: QueryArgs,
    /// At most this many resources [default: the server's]
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
    limit: Option<i32>,
}

impl PreviewArgs {
    fn request(&self) -> pb::PreviewAccessScopeRequest {
        let source = match &self.id {
            Some(id) => Source::Scope(id.clone()),
            None => Source::Query(self.query.to_proto()),
        };
        pb::PreviewAccessScopeRequest {
            source: Some(source),
            limit: self.limit.unwrap_or(0),
        }
    }
}

#[derive(Debug, Serialize)]
struct PreviewView {
    resources: Vec<ResourceView>,
    total_size: i64,
}

pub async fn run(ctx: &Context, command: ScopesCommand) -> Result<(), CliError> {
    let mut client = ctx.catalog_client().await?;
    match command {
        ScopesCommand::Create(args) => {
            let scope = pb::AccessScope {
                display_name: args.name,
                description: args.description.unwrap_or_default(),
                space: args.space.unwrap_or_default(),
                query: Some(args.query.to_proto()),
                ..Default::default()
            };
            let request = pb::CreateAccessScopeRequest {
                scope: Some(scope),
                request_id: args.request_id.unwrap_or_default(),
            };
            let scope = client.create_access_scope(request).await?.into_inner();
            show_scope(ctx, &scope)
        }
        ScopesCommand::List { space } => {
            let request = pb::ListAccessScopesRequest {
                space: space.unwrap_or_default(),
            };
            let scopes = client.list_access_scopes(request).await?.into_inner().scopes;
            let view = serde_json::json!({
                "scopes": scopes.iter().map(ScopeView::from).collect::<Vec<_>>(),
            });
            output::emit(ctx.output, &view, || {
                if scopes.is_empty() {
                    "no access scopes".to_string()
                } else {
                    scopes_table(&scopes)
                }
            })
        }
        ScopesCommand::Get { id } => {
            let scope = client
                .get_access_scope(pb::GetAccessScopeRequest { id })
                .await?
                .into_inner();
            show_scope(ctx, &scope)
        }
        ScopesCommand::Delete { id } => {
            client
                .delete_access_scope(pb::DeleteAccessScopeRequest { id: id.clone() })
                .await?;
            super::done(ctx, "deleted", &id, &format!("deleted access scope {id}"))
        }
        ScopesCommand::Preview(args) => {
            let preview = client.preview_access_scope(args.request()).await?.into_inner();
            let view = PreviewView {
                resources: preview.resources.iter().map(ResourceView::from).collect(),
                total_size: preview.total_size,
            };
            if ctx.json() {
                return output::json(&view);
            }
            let names = integration_names::for_tables(ctx, &mut client).await?;
            output::line(preview_text(&preview, &names))
        }
    }
}

/// The matching resources, then how many match in all (more than shown when --limit cut).
fn preview_text(
    preview: &pb::PreviewAccessScopeResponse,
    integration_names: &std::collections::HashMap<String, String>,
) -> String {
    let shown = preview.resources.len() as i64;
    let total = preview.total_size.max(shown);
    if total == 0 {
        return "no resources match".to_string();
    }
    let footer = if shown < total {
        format!("showing {shown} of {total} matching resources")
    } else {
        format!("{total} matching resources")
    };
    format!("{}\n\n{footer}", resources_table(&preview.resources, integration_names))
}

fn show_scope(ctx: &Context, scope: &pb::AccessScope) -> Result<(), CliError> {
    output::emit(ctx.output, &ScopeView::from(scope), || scope_details(scope))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::collections::HashMap;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        preview: PreviewArgs,
    }

    fn parse(args: &[&str]) -> Result<PreviewArgs, clap::Error> {
        Harness::try_parse_from(std::iter::once("preview").chain(args.iter().copied())).map(|h| h.preview)
    }

    #[test]
    fn preview_takes_a_saved_scope_or_a_query_not_both() {
        let saved = parse(&["prod-tables", "--limit", "5"]).unwrap().request();
        assert_eq!(saved.source, Some(Source::Scope("prod-tables".into())));
        assert_eq!(saved.limit, 5);

        let adhoc = parse(&["--type", "table", "--include-tag", "env=prod"])
            .unwrap()
            .request();
        let Some(Source::Query(query)) = adhoc.source else {
            panic!("not a query");
        };
        assert_eq!(query.resource_types, ["table"]);

        assert!(parse(&[]).is_err(), "neither");
        assert!(parse(&["--limit", "5"]).is_err(), "a limit alone");
        assert!(parse(&["prod-tables", "--type", "table"]).is_err(), "both");
        assert!(parse(&["prod-tables", "--limit", "0"]).is_err());
    }

    #[test]
    fn preview_text_says_how_many_match() {
        let preview = pb::PreviewAccessScopeResponse {
            resources: vec![pb::Resource {
                id: "t1".into(),
                present: true,
                ..Default::default()
            }],
            total_size: 40,
        };
        let text = preview_text(&preview, &HashMap::new());
        assert!(text.ends_with("showing 1 of 40 matching resources"), "{text}");
        let empty = pb::PreviewAccessScopeResponse::default();
        assert_eq!(preview_text(&empty, &HashMap::new()), "no resources match");
    }
}
