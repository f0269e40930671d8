//! `latch resources …`: what the integrations expose, with admin tags and owners.

use clap::{ArgGroup, Args, Subcommand};
use latch_proto::catalog::v1 as pb;

use super::integration_names;
use super::paging::{self, ListView, Page};
use crate::args::PageArgs;
use crate::client::CatalogClient;
use crate::context::Context;
use crate::error::CliError;
use crate::key_value::{KeyValue, to_map};
use crate::output;
use crate::principal::PrincipalArg;
use crate::render::catalog::integration_label;
use crate::render::catalog::resource::{ResourceView, resource_details, resources_table};
use crate::tag_selector::parse_tag_filter;

#[derive(Debug, Subcommand)]
pub enum ResourcesCommand {
    /// List resources (the first page unless --all)
    List(ListArgs),
    /// Show one resource with its tags and owners
    Get {
        #[arg(value_name = "INTEGRATION")]
        integration: String,
        #[arg(value_name = "RESOURCE_ID")]
        id: String,
    },
    /// Set or remove admin tags
    Tag(TagArgs),
    /// Replace a resource's owners (its approvers later)
    Owners(OwnersArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this integration (id or name)
    #[arg(long, value_name = "ID_OR_NAME")]
    integration: Option<String>,
    /// Only this resource type, e.g. table
    #[arg(long = "type", value_name = "TYPE")]
    resource_type: Option<String>,
    /// Only resources with this tag (KEY alone: any value); repeat, every one must match
    #[arg(long = "tag", value_name = "KEY=VALUE|KEY", value_parser = parse_tag_filter)]
    tags: Vec<String>,
    /// Only resources whose name or path contains this text
    #[arg(long)]
    query: Option<String>,
    /// Also resources the last sync no longer found
    #[arg(long)]
    include_missing: bool,
    #[command(flatten)]
    page: PageArgs,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("changes").required(true).multiple(true).args(["set", "remove"])))]
pub struct TagArgs {
    #[arg(value_name = "INTEGRATION")]
    integration: String,
    #[arg(value_name = "RESOURCE_ID")]
    id: String,
    /// Admin tags to set
    #[arg(value_name = "KEY=VALUE")]
    set: Vec<KeyValue>,
    /// An admin tag to remove; repeat for more
    #[arg(long, value_name = "KEY")]
    remove: Vec<String>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("owners").required(true).multiple(true).args(["users", "groups", "clear"])))]
pub struct OwnersArgs {
    #[arg(value_name = "INTEGRATION")]
    integration: String,
    #[arg(value_name = "RESOURCE_ID")]
    id: String,
    /// An owner (user id or name); repeat for more
    #[arg(long = "user", value_name = "USER")]
    users: Vec<String>,
    /// An owning group (id or name); repeat for more
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
    /// Remove every owner
    #[arg(long, conflicts_with_all = ["users", "groups"])]
    clear: bool,
}

impl TagArgs {
    fn request(self) -> Result<pb::UpdateResourceRequest, CliError> {
        let set_tags = to_map(&self.set).map_err(|error| CliError::Usage(format!("tags: {error}")))?;
        let remove_tags: Vec<String> = self.remove.iter().map(|key| key.trim().to_string()).collect();
        if let Some(key) = remove_tags.iter().find(|key| set_tags.contains_key(key.as_str())) {
            return Err(CliError::Usage(format!("tag {key:?} is both set and removed")));
        }
        if remove_tags.iter().any(String::is_empty) {
            return Err(CliError::Usage("--remove needs a tag key".into()));
        }
        Ok(pb::UpdateResourceRequest {
            integration: self.integration,
            id: self.id,
            set_tags,
            remove_tags,
            owners: Vec::new(),
            update_owners: false,
        })
    }
}

impl OwnersArgs {
    fn request(self) -> pb::UpdateResourceRequest {
        let owners = self
            .users
            .into_iter()
            .map(PrincipalArg::User)
            .chain(self.groups.into_iter().map(PrincipalArg::Group))
            .map(|owner| owner.to_proto())
            .collect();
        pb::UpdateResourceRequest {
            integration: self.integration,
            id: self.id,
            owners,
            update_owners: true,
            ..Default::default()
        }
    }
}

pub async fn run(ctx: &Context, command: ResourcesCommand) -> Result<(), CliError> {
    match command {
        ResourcesCommand::List(args) => {
            let mut client = ctx.catalog_client().await?;
            list(ctx, &mut client, args).await
        }
        ResourcesCommand::Get { integration, id } => {
            let mut client = ctx.catalog_client().await?;
            let resource = client
                .get_resource(pb::GetResourceRequest { integration, id })
                .await?
                .into_inner();
            show_resource(ctx, &mut client, &resource).await
        }
        ResourcesCommand::Tag(args) => {
            let request = args.request()?;
            let mut client = ctx.catalog_client().await?;
            let resource = client.update_resource(request).await?.into_inner();
            show_resource(ctx, &mut client, &resource).await
        }
        ResourcesCommand::Owners(args) => {
            let mut client = ctx.catalog_client().await?;
            let resource = client.update_resource(args.request()).await?.into_inner();
            show_resource(ctx, &mut client, &resource).await
        }
    }
}

async fn list(ctx: &Context, client: &mut CatalogClient, args: ListArgs) -> Result<(), CliError> {
    let template = pb::ListResourcesRequest {
        integration: args.integration.unwrap_or_default(),
        r#type: args.resource_type.unwrap_or_default(),
        tags: args.tags,
        query: args.query.unwrap_or_default(),
        page_size: args.page.page_size.unwrap_or(0),
        page_token: String::new(),
        include_missing: args.include_missing,
    };
    let page = paging::fetch(args.page.all, |page_token| {
        let mut client = client.clone();
        let request = pb::ListResourcesRequest {
            page_token,
            ..template.clone()
        };
        async move {
            let response = client.list_resources(request).await?.into_inner();
            Ok(Page {
                items: response.resources,
                next_page_token: response.next_page_token,
                total_size: response.total_size,
            })
        }
    })
    .await?;
    if ctx.json() {
        return output::json(&ListView::new("resources", &page, |resource| {
            ResourceView::from(resource)
        }));
    }
    if page.items.is_empty() {
        return output::line("no resources");
    }
    let names = integration_names::for_tables(ctx, client).await?;
    output::line(resources_table(&page.items, &names))?;
    match paging::more_note(&page, "resources") {
        Some(note) => output::line(note),
        None => Ok(()),
    }
}

async fn show_resource(ctx: &Context, client: &mut CatalogClient, resource: &pb::Resource) -> Result<(), CliError> {
    let names = integration_names::for_tables(ctx, client).await?;
    let integration = integration_label(&names, &resource.integration_id);
    output::emit(ctx.output, &ResourceView::from(resource), || {
        resource_details(resource, integration)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use latch_proto::catalog::v1::principal::Kind;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(subcommand)]
        command: ResourcesCommand,
    }

    fn parse(args: &[&str]) -> Result<ResourcesCommand, clap::Error> {
        Harness::try_parse_from(std::iter::once("resources").chain(args.iter().copied())).map(|h| h.command)
    }

    #[test]
    fn tag_sets_and_removes() {
        let Ok(ResourcesCommand::Tag(args)) = parse(&["tag", "pg", "t1", "env=prod", "team=x", "--remove", "old"])
        else {
            panic!("not a tag command");
        };
        let request = args.request().unwrap();
        assert_eq!(request.set_tags.len(), 2);
        assert_eq!(request.set_tags["env"], "prod");
        assert_eq!(request.remove_tags, ["old"]);
        assert!(!request.update_owners);
    }

    #[test]
    fn tag_needs_a_change_and_no_contradiction() {
        assert!(parse(&["tag", "pg", "t1"]).is_err());
        assert!(parse(&["tag", "pg", "t1", "env"]).is_err(), "not key=value");
        let Ok(ResourcesCommand::Tag(args)) = parse(&["tag", "pg", "t1", "env=prod", "--remove", "env"]) else {
            panic!("not a tag command");
        };
        assert!(matches!(args.request(), Err(CliError::Usage(_))));
    }

    #[test]
    fn owners_replace_with_users_and_groups_or_clear() {
        let Ok(ResourcesCommand::Owners(args)) = parse(&["owners", "pg", "t1", "--user", "ada", "--group", "dba"])
        else {
            panic!("not an owners command");
        };
        let request = args.request();
        assert!(request.update_owners);
        let owners: Vec<(i32, &str)> = request.owners.iter().map(|o| (o.kind, o.id.as_str())).collect();
        assert_eq!(owners, [(Kind::User as i32, "ada"), (Kind::Group as i32, "dba")]);

        let Ok(ResourcesCommand::Owners(args)) = parse(&["owners", "pg", "t1", "--clear"]) else {
            panic!("not an owners command");
        };
        let request = args.request();
        assert!(request.update_owners && request.owners.is_empty());

        assert!(parse(&["owners", "pg", "t1"]).is_err(), "nothing given");
        assert!(parse(&["owners", "pg", "t1", "--clear", "--user", "ada"]).is_err());
    }

    #[test]
    fn list_filters_parse() {
        let Ok(ResourcesCommand::List(args)) = parse(&[
            "list",
            "--integration",
            "pg",
            "--type",
            "table",
            "--tag",
            "env=prod",
            "--tag",
            "pii",
            "--all",
            "--include-missing",
        ]) else {
            panic!("not a list command");
        };
        assert_eq!(args.tags, ["env=prod", "pii"]);
        assert!(args.page.all && args.include_missing);
        assert!(parse(&["list", "--tag", "=x"]).is_err());
    }
}
