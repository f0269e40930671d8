//! `latch insights`: flows whose requests are much shorter than their maximum (with a suggested
//! maximum), flows nobody uses, and approvers nobody can stand in for.

use clap::Args;
use latch_proto::request::v1 as pb;
use serde::Serialize;

use crate::context::Context;
use crate::error::CliError;
use crate::output::{self, render, table};
use crate::timestamp::format;

#[derive(Debug, Args)]
pub struct InsightsArgs {
    /// Requests of the last this many days count
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(i32).range(1..=3650))]
    days: i32,
}

#[derive(Debug, Serialize)]
struct DurationView {
    flow: String,
    requests: i32,
    median: String,
    p90: String,
    longest: String,
    maximum: String,
    recommendation: Option<String>,
    suggested_maximum: Option<String>,
}

#[derive(Debug, Serialize)]
struct InsightsView {
    window_days: i32,
    durations: Vec<DurationView>,
    unused_flows: Vec<String>,
    sole_approvers: Vec<serde_json::Value>,
}

fn text(insights: &pb::Insights) -> String {
    let mut out = format!("Requested durations, last {} days\n", insights.window_days);
    if insights.durations.is_empty() {
        out.push_str("(no requests with a duration in the window)");
    }
    let mut t = table(["flow", "requests", "median", "p90", "maximum", "recommendation"]);
    for d in &insights.durations {
        t.add_row(vec![
            d.flow_name.clone(),
            d.requests.to_string(),
            d.median.clone(),
            d.p90.clone(),
            d.maximum.clone(),
            if d.suggested_maximum.is_empty() {
                "-".into()
            } else {
                format!(
                    "excessive access duration: lower the maximum to {}",
                    d.suggested_maximum
                )
            },
        ]);
    }
    if !insights.durations.is_empty() {
        out.push_str(&render(&t));
    }
    out.push_str("\n\nFlows never used\n");
    if insights.unused_flows.is_empty() {
        out.push_str("(none)");
    } else {
        let mut t = table(["flow", "created"]);
        for u in &insights.unused_flows {
            t.add_row(vec![u.flow_name.clone(), format(u.create_time.as_ref())]);
        }
        out.push_str(&render(&t));
    }
    out.push_str("\n\nApprovers nobody can stand in for\n");
    if insights.sole_approvers.is_empty() {
        out.push_str("(none)");
    } else {
        let mut t = table(["flow", "group", "needs", "approvers"]);
        for s in &insights.sole_approvers {
            t.add_row(vec![
                s.flow_name.clone(),
                s.group.to_string(),
                s.needed.to_string(),
                if s.approvers.is_empty() {
                    "nobody: requests cannot be approved".into()
                } else {
                    s.approvers.join(", ")
                },
            ]);
        }
        out.push_str(&render(&t));
    }
    out
}

pub async fn run(ctx: &Context, args: InsightsArgs) -> Result<(), CliError> {
    let mut client = ctx.request_client().await?;
    let insights = client
        .get_insights(pb::GetInsightsRequest { days: args.days })
        .await?
        .into_inner();
    let optional = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let view = InsightsView {
        window_days: insights.window_days,
        durations: insights
            .durations
            .iter()
            .map(|d| DurationView {
                flow: d.flow_name.clone(),
                requests: d.requests,
                median: d.median.clone(),
                p90: d.p90.clone(),
                longest: d.longest.clone(),
                maximum: d.maximum.clone(),
                recommendation: optional(&d.suggested_maximum).map(|_| "excessive access duration".to_string()),
                suggested_maximum: optional(&d.suggested_maximum),
            })
            .collect(),
        unused_flows: insights.unused_flows.iter().map(|u| u.flow_name.clone()).collect(),
        sole_approvers: insights
            .sole_approvers
            .iter()
            .map(|s| serde_json::json!({ "flow": s.flow_name, "group": s.group, "needed": s.needed, "approvers": s.approvers }))
            .collect(),
    };
    output::emit(ctx.output, &view, || text(&insights))
}
