//! `latch flows evaluate`: which flows would allow a request, with their effective settings,
//! and why the others do not. Exits 1 when no flow allows it, so scripts can test the answer.

use clap::Args;
use latch_proto::flow::v1 as pb;
use prost_types::Timestamp;

use crate::client::FlowClient;
use crate::context::Context;
use crate::error::CliError;
use crate::flow_item::ItemArg;
use crate::output;
use crate::render::flow::decision::{EvaluationView, any_allowed, evaluation_text};
use crate::timestamp::parse_rfc3339;

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// For whom (user id or name) [default: you]
    #[arg(long, value_name = "USER")]
    grantee: Option<String>,
    /// A concrete item; repeat for more. Splits at the first `/` and the last `:`,
    /// e.g. demo/table:orders-prod/orders:read
    #[arg(long = "item", value_name = "INTEGRATION/RESOURCE_ID:PERMISSION")]
    items: Vec<ItemArg>,
    /// A bundle (id or name) whose items to request
    #[arg(long, value_name = "ID_OR_NAME")]
    bundle: Option<String>,
    /// An access scope (id or name) whose items to request, with --scope-permission
    #[arg(long, value_name = "ID_OR_NAME")]
    scope: Option<String>,
    /// A permission to request on what the scope matches; repeat or separate with commas
    #[arg(
        long = "scope-permission",
        value_name = "PERMISSION",
        value_delimiter = ',',
        requires = "scope"
    )]
    scope_permissions: Vec<String>,
    /// How long, e.g. 30m, 2h or 2h30m [default: the flow's]
    #[arg(long)]
    duration: Option<String>,
    /// Evaluate as of this RFC 3339 time [default: now]
    #[arg(long, value_parser = parse_rfc3339)]
    at: Option<Timestamp>,
    /// Only this flow (id or name)
    #[arg(long, value_name = "ID_OR_NAME")]
    flow: Option<String>,
}

impl EvaluateArgs {
    fn request(&self) -> pb::EvaluateRequest {
        pb::EvaluateRequest {
            grantee: self.grantee.clone().unwrap_or_default(),
            items: self.items.iter().map(ItemArg::to_proto).collect(),
            bundle: self.bundle.clone().unwrap_or_default(),
            scope: self.scope.clone().unwrap_or_default(),
            scope_permissions: self.scope_permissions.clone(),
            duration: self.duration.clone().unwrap_or_default(),
            at: self.at,
            flow: self.flow.clone().unwrap_or_default(),
        }
    }
}

pub async fn evaluate(ctx: &Context, client: &mut FlowClient, args: &EvaluateArgs) -> Result<(), CliError> {
    let response = client.evaluate(args.request()).await?.into_inner();
    output::emit(ctx.output, &EvaluationView::from(&response), || {
        evaluation_text(&response)
    })?;
    if any_allowed(&response) {
        Ok(())
    } else {
        Err(CliError::NoFlowAllows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        evaluate: EvaluateArgs,
    }

    fn parse(args: &[&str]) -> Result<EvaluateArgs, clap::Error> {
        Harness::try_parse_from(std::iter::once("evaluate").chain(args.iter().copied())).map(|h| h.evaluate)
    }

    #[test]
    fn every_option_goes_into_the_request() {
        let args = parse(&[
            "--grantee",
            "ada",
            "--item",
            "demo/table:orders-prod/orders:read",
            "--item",
            "demo/table:orders-prod/users:read",
            "--bundle",
            "everything-demo",
            "--scope",
            "prod-tables",
            "--scope-permission",
            "read,write",
            "--scope-permission",
            "admin",
            "--duration",
            "30m",
            "--at",
            "2025-03-03T10:00:00Z",
            "--flow",
            "business hours",
        ])
        .unwrap();
        let request = args.request();
        assert_eq!(request.grantee, "ada");
        assert_eq!(request.items.len(), 2);
        assert_eq!(request.items[0].resource_id, "table:orders-prod/orders");
        assert_eq!(request.items[1].permission, "read");
        assert_eq!(request.bundle, "everything-demo");
        assert_eq!(request.scope, "prod-tables");
        assert_eq!(request.scope_permissions, ["read", "write", "admin"]);
        assert_eq!(request.duration, "30m");
        assert_eq!(request.at.map(|at| at.seconds), Some(1_740_996_000));
        assert_eq!(request.flow, "business hours");
    }

    #[test]
    fn defaults_leave_the_request_empty() {
        let request = parse(&[]).unwrap().request();
        assert_eq!(request, pb::EvaluateRequest::default());
    }

    #[test]
    fn bad_items_times_and_lone_scope_permissions_are_usage_errors() {
        for bad in [
            &["--item", "demo/orders"][..],
            &["--item", "orders:read"],
            &["--at", "tomorrow"],
            &["--scope-permission", "read"],
        ] {
            let error = parse(bad).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{bad:?}");
        }
    }
}
