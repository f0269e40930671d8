//! `latch login`, `latch logout` and `latch whoami`.

use latch_proto::identity::v1::{WhoAmIRequest, WhoAmIResponse};

use crate::client;
use crate::context::Context;
use crate::credentials::{self, Credentials};
use crate::error::CliError;
use crate::output;
use crate::render::subject::{WhoAmIView, who_am_i_text};
use crate::stdin_line;

/// Verifies the token with WhoAmI before storing it, so a typo never replaces a working login.
pub async fn login(ctx: &Context) -> Result<(), CliError> {
    let token = match &ctx.explicit_token {
        Some(token) => token.clone(),
        None => read_token_from_stdin()?,
    };
    let mut client = client::connect(&ctx.server, &token).await?;
    let who = client.who_am_i(WhoAmIRequest {}).await?.into_inner();
    let path = credentials::store_in(
        &ctx.config_dir,
        &Credentials {
            server: ctx.server.clone(),
            token,
        },
    )?;
    output::note(format!(
        "logged in to {}; credentials stored in {}",
        ctx.server,
        path.display()
    ))?;
    show(ctx, &who)
}

pub fn logout(ctx: &Context) -> Result<(), CliError> {
    let removed = credentials::remove_from(&ctx.config_dir)?;
    let path = credentials::path_in(&ctx.config_dir);
    let sentence = if removed {
        format!("logged out; removed {}", path.display())
    } else {
        "not logged in".to_string()
    };
    output::emit(ctx.output, &serde_json::json!({ "logged_out": removed }), || sentence)
}

pub async fn who_am_i(ctx: &Context) -> Result<(), CliError> {
    let mut client = ctx.client().await?;
    let who = client.who_am_i(WhoAmIRequest {}).await?.into_inner();
    show(ctx, &who)
}

fn show(ctx: &Context, who: &WhoAmIResponse) -> Result<(), CliError> {
    output::emit(ctx.output, &WhoAmIView::from(who), || who_am_i_text(who))
}

fn read_token_from_stdin() -> Result<String, CliError> {
    let line = stdin_line::read("token", "the token")?;
    let token = line.trim();
    if token.is_empty() {
        return Err(CliError::Usage(
            "no token given: pass --token, set LATCH_TOKEN or write it on stdin".into(),
        ));
    }
    Ok(token.to_string())
}
