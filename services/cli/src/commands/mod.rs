//! One module per command group; `run` dispatches the parsed command line.

pub mod audit;
mod audit_checkpoint_file;
pub mod bench;
pub mod bundles;
pub mod connectors;
mod flow_evaluate;
mod flow_status;
pub mod flows;
pub mod groups;
pub mod identity;
pub mod insights;
mod integration_config;
mod integration_names;
mod integration_update;
pub mod integrations;
pub mod login;
pub mod mfa;
mod paging;
pub mod requests;
pub mod resources;
pub mod reviews;
pub mod schedules;
mod scope_query;
pub mod scopes;
pub mod spaces;
pub mod targets;
pub mod tokens;
mod user_update;
pub mod users;

use crate::args::Command;
use crate::context::Context;
use crate::error::CliError;
use crate::output;

pub async fn run(ctx: &Context, command: Command) -> Result<(), CliError> {
    match command {
        Command::Login => login::login(ctx).await,
        Command::Bench(args) => bench::run(ctx, args).await,
        Command::Logout => login::logout(ctx),
        Command::WhoAmI => login::who_am_i(ctx).await,
        Command::Users(command) => users::run(ctx, command).await,
        Command::Groups(command) => groups::run(ctx, command).await,
        Command::Schedules(command) => schedules::run(ctx, command).await,
        Command::Tokens(command) => tokens::run(ctx, command).await,
        Command::Identity(command) => identity::run(ctx, command).await,
        Command::Mfa(command) => mfa::run(ctx, command).await,
        Command::Connectors(command) => connectors::run(ctx, command).await,
        Command::Integrations(command) => integrations::run(ctx, command).await,
        Command::Resources(command) => resources::run(ctx, command).await,
        Command::Bundles(command) => bundles::run(ctx, command).await,
        Command::Scopes(command) => scopes::run(ctx, command).await,
        Command::Spaces(command) => spaces::run(ctx, command).await,
        Command::Targets(command) => targets::run(ctx, command).await,
        Command::Flows(command) => flows::run(ctx, command).await,
        Command::Request(args) => requests::ask(ctx, args).await,
        Command::Requests(command) => requests::run(ctx, command).await,
        Command::Approvals => requests::approvals(ctx).await,
        Command::Audit(command) => audit::run(ctx, command).await,
        Command::Insights(args) => insights::run(ctx, args).await,
        Command::Reviews(command) => reviews::run(ctx, command).await,
    }
}

/// Confirms an action that returns nothing: `{"<verb>": "<id>"}` in JSON, a sentence otherwise.
fn done(ctx: &Context, verb: &str, id: &str, sentence: &str) -> Result<(), CliError> {
    output::emit(ctx.output, &serde_json::json!({ verb: id }), || sentence.to_string())
}
