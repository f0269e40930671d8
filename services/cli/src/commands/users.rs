//! `latch users …`: the people in the directory.

use clap::{Args, Subcommand, ValueEnum};
use latch_proto::common::v1::Role;
use latch_proto::identity::v1 as pb;
use prost_types::Timestamp;

use super::paging::{self, ListView, Page};
use super::user_update::{self, UpdateArgs};
use crate::args::PageArgs;
use crate::client::IdentityClient;
use crate::context::Context;
use crate::error::CliError;
use crate::key_value::{KeyValue, attributes};
use crate::output;
use crate::render::subject::{SubjectView, subject_text};
use crate::render::user::{UserRefView, UserView, user_details, user_refs_table, users_table};
use crate::timestamp::parse_rfc3339;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List users (the first page unless --all)
    List(ListArgs),
    /// Show one user
    Get {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
    /// Create a user
    Create(CreateArgs),
    /// Change only the fields given
    Update(UpdateArgs),
    /// Delete a user
    Delete {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
    /// Give a user a role
    GrantRole {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
        role: RoleArg,
    },
    /// Take a role away from a user
    RevokeRole {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
        role: RoleArg,
    },
    /// List a user's direct reports
    Reports {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
    /// Everything policy sees about a user: groups, manager, reports, on-call
    Subject {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
        /// The instant for on-call resolution (RFC 3339) [default: now]
        #[arg(long, value_parser = parse_rfc3339)]
        at: Option<Timestamp>,
    },
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only users whose user name, email or display name contains this text
    #[arg(long)]
    query: Option<String>,
    /// Only users with this attribute
    #[arg(long, value_name = "KEY=VALUE")]
    attribute: Option<KeyValue>,
    #[command(flatten)]
    page: PageArgs,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[arg(long)]
    user_name: String,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    display_name: Option<String>,
    /// Create the user deactivated
    #[arg(long)]
    inactive: bool,
    /// An attribute; repeat for more keys or more values of one key
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    attributes: Vec<KeyValue>,
    #[arg(long, value_name = "ID_OR_NAME")]
    manager: Option<String>,
    #[arg(long)]
    external_id: Option<String>,
    /// Idempotency key: a retry with the same id returns the user created the first time
    #[arg(long)]
    request_id: Option<String>,
}

/// The roles that can be granted; everyone has `user` anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Admin,
    Auditor,
}

impl RoleArg {
    fn proto(self) -> Role {
        match self {
            Self::Admin => Role::Admin,
            Self::Auditor => Role::Auditor,
        }
    }
}

pub async fn run(ctx: &Context, command: UsersCommand) -> Result<(), CliError> {
    let mut client = ctx.client().await?;
    match command {
        UsersCommand::List(args) => list(ctx, &client, args).await,
        UsersCommand::Get { id } => {
            let user = client.get_user(pb::GetUserRequest { id }).await?.into_inner();
            show_user(ctx, &user)
        }
        UsersCommand::Create(args) => {
            let request = pb::CreateUserRequest {
                user: Some(pb::User {
                    user_name: args.user_name,
                    email: args.email.unwrap_or_default(),
                    display_name: args.display_name.unwrap_or_default(),
                    active: !args.inactive,
                    attributes: attributes(&args.attributes),
                    manager_id: args.manager.unwrap_or_default(),
                    external_id: args.external_id.unwrap_or_default(),
                    ..Default::default()
                }),
                request_id: args.request_id.unwrap_or_default(),
            };
            let user = client.create_user(request).await?.into_inner();
            show_user(ctx, &user)
        }
        UsersCommand::Update(args) => {
            // The etag makes the update fail (ABORTED) instead of overwriting a concurrent change.
            let current = client
                .get_user(pb::GetUserRequest { id: args.id.clone() })
                .await?
                .into_inner();
            let request = user_update::build_request(&args, &current);
            let user = client.update_user(request).await?.into_inner();
            show_user(ctx, &user)
        }
        UsersCommand::Delete { id } => {
            client
                .delete_user(pb::DeleteUserRequest {
                    id: id.clone(),
                    etag: String::new(),
                })
                .await?;
            super::done(ctx, "deleted", &id, &format!("deleted user {id}"))
        }
        UsersCommand::GrantRole { id, role } => {
            let request = pb::GrantRoleRequest {
                user_id: id,
                role: role.proto() as i32,
            };
            let user = client.grant_role(request).await?.into_inner();
            show_user(ctx, &user)
        }
        UsersCommand::RevokeRole { id, role } => {
            let request = pb::RevokeRoleRequest {
                user_id: id,
                role: role.proto() as i32,
            };
            let user = client.revoke_role(request).await?.into_inner();
            show_user(ctx, &user)
        }
        UsersCommand::Reports { id } => {
            let reports = client
                .list_direct_reports(pb::ListDirectReportsRequest { user_id: id })
                .await?
                .into_inner();
            let view = serde_json::json!({
                "users": reports.users.iter().map(UserRefView::from).collect::<Vec<_>>(),
            });
            output::emit(ctx.output, &view, || {
                if reports.users.is_empty() {
                    "no direct reports".to_string()
                } else {
                    user_refs_table(&reports.users)
                }
            })
        }
        UsersCommand::Subject { id, at } => {
            let subject = client
                .resolve_subject(pb::ResolveSubjectRequest { user_id: id, at })
                .await?
                .into_inner();
            output::emit(ctx.output, &SubjectView::from(&subject), || subject_text(&subject))
        }
    }
}

async fn list(ctx: &Context, client: &IdentityClient, args: ListArgs) -> Result<(), CliError> {
    let query = args.query.unwrap_or_default();
    let attribute = args.attribute.map(|pair| pair.to_string()).unwrap_or_default();
    let page_size = args.page.page_size.unwrap_or(0);
    let page = paging::fetch(args.page.all, |page_token| {
        let mut client = client.clone();
        let request = pb::ListUsersRequest {
            page_size,
            page_token,
            query: query.clone(),
            attribute: attribute.clone(),
        };
        async move {
            let response = client.list_users(request).await?.into_inner();
            Ok(Page {
                items: response.users,
                next_page_token: response.next_page_token,
                total_size: response.total_size,
            })
        }
    })
    .await?;
    if ctx.json() {
        return output::json(&ListView::new("users", &page, |user| UserView::from(user)));
    }
    if page.items.is_empty() {
        return output::line("no users");
    }
    output::line(users_table(&page.items))?;
    match paging::more_note(&page, "users") {
        Some(note) => output::line(note),
        None => Ok(()),
    }
}

fn show_user(ctx: &Context, user: &pb::User) -> Result<(), CliError> {
    output::emit(ctx.output, &UserView::from(user), || user_details(user))
}
