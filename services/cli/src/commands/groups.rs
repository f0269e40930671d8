//! `latch groups …`: groups and their members.

use clap::{ArgGroup, Args, Subcommand};
use latch_proto::identity::v1 as pb;
use latch_proto::identity::v1::group_member::Kind;

use super::paging::{self, ListView, Page};
use crate::args::PageArgs;
use crate::client::IdentityClient;
use crate::context::Context;
use crate::error::CliError;
use crate::output;
use crate::render::group::{GroupView, group_details, groups_table};

#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// List groups (the first page unless --all)
    List {
        /// Only groups whose name contains this text
        #[arg(long)]
        query: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one group with its members
    Get {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
    /// Create a group
    Create {
        name: String,
        /// A user member (id or user name); repeat for more
        #[arg(long = "user", value_name = "USER")]
        users: Vec<String>,
        /// A nested group member (id or name); repeat for more
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        #[arg(long)]
        external_id: Option<String>,
        /// Idempotency key: a retry with the same id returns the group created the first time
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Delete a group
    Delete {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
    /// Add a user or a group to a group
    AddMember(MemberArgs),
    /// Remove a user or a group from a group
    RemoveMember(MemberArgs),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("member").required(true).args(["user", "group"])))]
pub struct MemberArgs {
    #[arg(value_name = "GROUP")]
    group_id: String,
    /// The user (id or user name)
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// The nested group (id or name)
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
}

impl MemberArgs {
    fn member(&self) -> pb::GroupMember {
        let (kind, id) = match (&self.user, &self.group) {
            (Some(user), _) => (Kind::User, user.clone()),
            (None, Some(group)) => (Kind::Group, group.clone()),
            // clap's ArgGroup requires exactly one; the server rejects KIND_UNSPECIFIED anyway.
            (None, None) => (Kind::Unspecified, String::new()),
        };
        member(kind, id)
    }
}

fn member(kind: Kind, id: String) -> pb::GroupMember {
    pb::GroupMember {
        kind: kind as i32,
        id,
        display: String::new(),
    }
}

pub async fn run(ctx: &Context, command: GroupsCommand) -> Result<(), CliError> {
    let mut client = ctx.client().await?;
    match command {
        GroupsCommand::List { query, page } => list(ctx, &client, query.unwrap_or_default(), page).await,
        GroupsCommand::Get { id } => {
            let group = client.get_group(pb::GetGroupRequest { id }).await?.into_inner();
            show_group(ctx, &group)
        }
        GroupsCommand::Create {
            name,
            users,
            groups,
            external_id,
            request_id,
        } => {
            let members = users
                .into_iter()
                .map(|id| member(Kind::User, id))
                .chain(groups.into_iter().map(|id| member(Kind::Group, id)))
                .collect();
            let group = pb::Group {
                display_name: name,
                external_id: external_id.unwrap_or_default(),
                members,
                ..Default::default()
            };
            let request = pb::CreateGroupRequest {
                group: Some(group),
                request_id: request_id.unwrap_or_default(),
            };
            let group = client.create_group(request).await?.into_inner();
            show_group(ctx, &group)
        }
        GroupsCommand::Delete { id } => {
            client.delete_group(pb::DeleteGroupRequest { id: id.clone() }).await?;
            super::done(ctx, "deleted", &id, &format!("deleted group {id}"))
        }
        GroupsCommand::AddMember(args) => {
            let request = pb::AddGroupMemberRequest {
                group_id: args.group_id.clone(),
                member: Some(args.member()),
            };
            let group = client.add_group_member(request).await?.into_inner();
            show_group(ctx, &group)
        }
        GroupsCommand::RemoveMember(args) => {
            let request = pb::RemoveGroupMemberRequest {
                group_id: args.group_id.clone(),
                member: Some(args.member()),
            };
            let group = client.remove_group_member(request).await?.into_inner();
            show_group(ctx, &group)
        }
    }
}

async fn list(ctx: &Context, client: &IdentityClient, query: String, page: PageArgs) -> Result<(), CliError> {
    let page_size = page.page_size.unwrap_or(0);
    let page = paging::fetch(page.all, |page_token| {
        let mut client = client.clone();
        let request = pb::ListGroupsRequest {
            page_size,
            page_token,
            query: query.clone(),
        };
        async move {
            let response = client.list_groups(request).await?.into_inner();
            Ok(Page {
                items: response.groups,
                next_page_token: response.next_page_token,
                total_size: response.total_size,
            })
        }
    })
    .await?;
    if ctx.json() {
        return output::json(&ListView::new("groups", &page, |group| GroupView::from(group)));
    }
    if page.items.is_empty() {
        return output::line("no groups");
    }
    output::line(groups_table(&page.items))?;
    match paging::more_note(&page, "groups") {
        Some(note) => output::line(note),
        None => Ok(()),
    }
}

fn show_group(ctx: &Context, group: &pb::Group) -> Result<(), CliError> {
    output::emit(ctx.output, &GroupView::from(group), || group_details(group))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        member: MemberArgs,
    }

    #[test]
    fn member_needs_exactly_one_of_user_or_group() {
        assert!(Harness::try_parse_from(["x", "g1"]).is_err());
        assert!(Harness::try_parse_from(["x", "g1", "--user", "ada", "--group", "ops"]).is_err());
        let parsed = Harness::try_parse_from(["x", "g1", "--group", "ops"]).unwrap();
        assert_eq!(parsed.member.member().kind, Kind::Group as i32);
        assert_eq!(parsed.member.member().id, "ops");
    }
}
