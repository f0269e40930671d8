//! The command line: global options and the top-level commands. Each command group declares its
//! own subcommands next to the code that runs them.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands::{
    audit, bundles, connectors, flows, groups, identity, insights, integrations, mfa, requests, resources, reviews,
    schedules, scopes, spaces, targets, tokens, users,
};

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7070";

#[derive(Debug, Parser)]
#[command(name = "latch", version, about = "Command-line client of Latch, just-in-time access")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// latchd's gRPC address [default: the server of `latch login`, else http://127.0.0.1:7070]
    #[arg(long, env = "LATCH_SERVER", global = true)]
    pub server: Option<String>,
    /// API token [default: the token stored by `latch login`]
    #[arg(long, env = "LATCH_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// PEM authorities to trust for an https:// server [default: the public web roots]
    #[arg(long, env = "LATCH_CA_FILE", global = true)]
    pub ca_file: Option<std::path::PathBuf>,
    /// How to print results
    #[arg(long, short = 'o', value_enum, env = "LATCH_OUTPUT", default_value_t = OutputFormat::Table, global = true)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable tables
    Table,
    /// JSON (one object per line for `identity watch`)
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Drive a running Latch with load over its public API and report throughput and latency
    ///
    /// Sets up its own users, groups, integration and flows (needs an admin token), then runs
    /// the phases. Use --server-pid to report the server's CPU and memory.
    Bench(crate::commands::bench::BenchArgs),
    /// Verify a token and store it with the server for later commands
    ///
    /// The token comes from --token, LATCH_TOKEN, or one line on stdin.
    Login,
    /// Forget the stored login
    Logout,
    /// Show who the token belongs to
    #[command(name = "whoami")]
    WhoAmI,
    /// People in the directory
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Groups and their members
    #[command(subcommand)]
    Groups(groups::GroupsCommand),
    /// On-call schedules
    #[command(subcommand)]
    Schedules(schedules::SchedulesCommand),
    /// API tokens
    #[command(subcommand)]
    Tokens(tokens::TokensCommand),
    /// Directory import and the change feed
    #[command(subcommand)]
    Identity(identity::IdentityCommand),
    /// TOTP multi-factor authentication for yourself
    #[command(subcommand)]
    Mfa(mfa::MfaCommand),
    /// The connectors built into the server
    #[command(subcommand)]
    Connectors(connectors::ConnectorsCommand),
    /// Connected target systems: a connector with its config
    #[command(subcommand)]
    Integrations(integrations::IntegrationsCommand),
    /// What the integrations expose, with tags and owners
    #[command(subcommand)]
    Resources(resources::ResourcesCommand),
    /// Named sets of targets, requested as one
    #[command(subcommand)]
    Bundles(bundles::BundlesCommand),
    /// Access scopes: saved queries over resources
    #[command(subcommand)]
    Scopes(scopes::ScopesCommand),
    /// Spaces and their admins
    #[command(subcommand)]
    Spaces(spaces::SpacesCommand),
    /// What targets cover, item by item
    #[command(subcommand)]
    Targets(targets::TargetsCommand),
    /// Access flows: who may request what, when, for how long, approved by whom
    #[command(subcommand)]
    Flows(flows::FlowsCommand),
    /// Ask for access: items, a bundle or a scope, for how long and why
    Request(requests::AskArgs),
    /// Follow, decide on, extend and end access requests
    #[command(subcommand)]
    Requests(requests::RequestsCommand),
    /// Requests waiting for your approval, with what you decide on
    Approvals,
    /// The audit log: list, verify the hash chain, export (admins and auditors)
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Admins: flows whose requests are much shorter than allowed, unused flows, sole approvers
    Insights(insights::InsightsArgs),
    /// Break-glass uses to review after the fact: list, approve, flag
    #[command(subcommand)]
    Reviews(reviews::ReviewsCommand),
}

/// `--page-size` and `--all`, shared by the paged list commands.
#[derive(Debug, Clone, Args)]
pub struct PageArgs {
    /// Results per page [default: the server's]
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
    pub page_size: Option<i32>,
    /// Follow every page instead of showing the first
    #[arg(long)]
    pub all: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_follow_subcommands() {
        let cli = Cli::try_parse_from(["latch", "whoami", "--output", "json", "--server", "http://h:1"]).unwrap();
        assert_eq!(cli.global.output, OutputFormat::Json);
        assert_eq!(cli.global.server.as_deref(), Some("http://h:1"));
    }

    #[test]
    fn unknown_output_format_is_a_usage_error() {
        let error = Cli::try_parse_from(["latch", "whoami", "--output", "yaml"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
    }
}
