//! `latch tokens …`: API tokens of the caller (or, for admins, everyone's).

use chrono::Utc;
use clap::{Subcommand, ValueEnum};
use latch_proto::identity::v1 as pb;
use latch_proto::identity::v1::api_token::Scope;
use serde::Serialize;

use crate::context::Context;
use crate::duration::RelativeDuration;
use crate::error::CliError;
use crate::output::{self, details, render};
use crate::render::token::{TokenView, token_details, tokens_table};
use crate::timestamp;

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// List your tokens (everyone's with --all, for admins)
    List {
        #[arg(long)]
        all: bool,
    },
    /// Create a token; its secret is shown once
    Create {
        #[arg(long)]
        description: Option<String>,
        #[arg(long, value_enum, default_value_t = ScopeArg::Api)]
        scope: ScopeArg,
        /// Lifetime such as 30d, 12h or 90m [default: never expires]
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<RelativeDuration>,
        /// Create the token for another user (admins only)
        #[arg(long, value_name = "USER")]
        user: Option<String>,
    },
    /// Revoke a token
    Revoke { id: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    /// The gRPC API, with the owner's roles
    Api,
    /// Only the SCIM endpoint, for an identity provider
    Scim,
}

impl ScopeArg {
    fn proto(self) -> Scope {
        match self {
            Self::Api => Scope::Api,
            Self::Scim => Scope::Scim,
        }
    }
}

#[derive(Debug, Serialize)]
struct CreatedTokenView {
    token: Option<TokenView>,
    secret: String,
}

pub async fn run(ctx: &Context, command: TokensCommand) -> Result<(), CliError> {
    let mut client = ctx.client().await?;
    match command {
        TokensCommand::List { all } => {
            let tokens = client
                .list_tokens(pb::ListTokensRequest { all_users: all })
                .await?
                .into_inner()
                .tokens;
            let view = serde_json::json!({ "tokens": tokens.iter().map(TokenView::from).collect::<Vec<_>>() });
            output::emit(ctx.output, &view, || {
                if tokens.is_empty() {
                    "no tokens".to_string()
                } else {
                    tokens_table(&tokens)
                }
            })
        }
        TokensCommand::Create {
            description,
            scope,
            expires_in,
            user,
        } => {
            let expire_time = expires_in.map(|lifetime| timestamp::to_proto(Utc::now() + lifetime.as_time_delta()));
            let request = pb::CreateTokenRequest {
                description: description.unwrap_or_default(),
                scope: scope.proto() as i32,
                expire_time,
                user_id: user.unwrap_or_default(),
            };
            let created = client.create_token(request).await?.into_inner();
            let view = CreatedTokenView {
                token: created.token.as_ref().map(TokenView::from),
                secret: created.secret.clone(),
            };
            output::emit(ctx.output, &view, || {
                let token = created.token.as_ref().map(token_details).unwrap_or_default();
                format!(
                    "{token}\n\n{}",
                    render(&details(vec![("secret", created.secret.clone())]))
                )
            })?;
            output::note("warning: this secret will not be shown again; store it now")
        }
        TokensCommand::Revoke { id } => {
            let token = client.revoke_token(pb::RevokeTokenRequest { id }).await?.into_inner();
            output::emit(ctx.output, &TokenView::from(&token), || {
                format!("revoked token {}\n\n{}", token.id, token_details(&token))
            })
        }
    }
}
