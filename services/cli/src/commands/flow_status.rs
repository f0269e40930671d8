//! `latch flows status NAME` (who holds what through a flow, what the reconciler has still to
//! do, drift) and `latch requests drift` (Latch's grants against the target systems).

use latch_proto::request::v1 as pb;
use serde::Serialize;

use crate::context::Context;
use crate::error::CliError;
use crate::output::{self, details, render, table};
use crate::timestamp::format;

#[derive(Debug, Serialize)]
struct HolderView {
    grantee: String,
    request_id: String,
    state: String,
    items: Vec<String>,
    since: String,
    until: String,
}

#[derive(Debug, Serialize)]
struct DriftView {
    kind: String,
    integration: String,
    resource_id: String,
    permission: String,
    who: String,
}

impl From<&pb::DriftEntry> for DriftView {
    fn from(d: &pb::DriftEntry) -> Self {
        Self {
            kind: d.kind.clone(),
            integration: d.integration.clone(),
            resource_id: d.resource_id.clone(),
            permission: d.permission.clone(),
            who: d.who.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct StatusView {
    flow: String,
    automatic: bool,
    in_force: bool,
    holders: Vec<HolderView>,
    to_grant: Vec<String>,
    to_revoke: Vec<String>,
    to_replace: Vec<String>,
    drift: Vec<DriftView>,
    unchecked: Vec<String>,
}

fn drift_table(entries: &[pb::DriftEntry]) -> String {
    let mut t = table(["drift", "integration", "resource", "permission", "who"]);
    for d in entries {
        t.add_row(vec![
            d.kind.clone(),
            d.integration.clone(),
            d.resource_id.clone(),
            d.permission.clone(),
            d.who.clone(),
        ]);
    }
    render(&t)
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn status_text(s: &pb::FlowStatus) -> String {
    let mut out = render(&details(vec![
        ("flow", s.flow_name.clone()),
        ("kind", if s.automatic { "automatic" } else { "self-serve" }.into()),
        ("in force", if s.in_force { "yes" } else { "no" }.into()),
        ("holders", s.holders.len().to_string()),
    ]));
    out.push_str("\n\n");
    if s.holders.is_empty() {
        out.push_str("nobody holds access through this flow");
    } else {
        let mut t = table(["grantee", "state", "items", "since", "until", "request"]);
        for h in &s.holders {
            t.add_row(vec![
                h.grantee_name.clone(),
                h.state.clone(),
                h.items.join(", "),
                format(h.grant_time.as_ref()),
                if h.end_time.is_none() {
                    "revoked".into()
                } else {
                    format(h.end_time.as_ref())
                },
                h.request_id.clone(),
            ]);
        }
        out.push_str(&render(&t));
    }
    if s.automatic {
        out.push_str(&format!(
            "\n\npending: grant to {}; revoke from {}; replace for {}",
            list(&s.to_grant),
            list(&s.to_revoke),
            list(&s.to_replace)
        ));
    }
    out.push_str("\n\n");
    if s.drift.is_empty() {
        out.push_str("no drift: the target systems hold exactly what Latch gave");
    } else {
        out.push_str(&drift_table(&s.drift));
    }
    for unchecked in &s.unchecked {
        out.push_str(&format!("\nnot checked: {unchecked}"));
    }
    out
}

pub async fn status(ctx: &Context, flow: &str) -> Result<(), CliError> {
    let mut client = ctx.request_client().await?;
    let s = client
        .get_flow_status(pb::GetFlowStatusRequest { flow: flow.to_string() })
        .await?
        .into_inner();
    let view = StatusView {
        flow: s.flow_name.clone(),
        automatic: s.automatic,
        in_force: s.in_force,
        holders: s
            .holders
            .iter()
            .map(|h| HolderView {
                grantee: h.grantee_name.clone(),
                request_id: h.request_id.clone(),
                state: h.state.clone(),
                items: h.items.clone(),
                since: format(h.grant_time.as_ref()),
                until: format(h.end_time.as_ref()),
            })
            .collect(),
        to_grant: s.to_grant.clone(),
        to_revoke: s.to_revoke.clone(),
        to_replace: s.to_replace.clone(),
        drift: s.drift.iter().map(DriftView::from).collect(),
        unchecked: s.unchecked.clone(),
    };
    output::emit(ctx.output, &view, || status_text(&s))
}

pub async fn drift(ctx: &Context, integration: Option<String>, repair: bool) -> Result<(), CliError> {
    let mut client = ctx.request_client().await?;
    let found = client
        .check_drift(pb::CheckDriftRequest {
            integration: integration.unwrap_or_default(),
            repair,
        })
        .await?
        .into_inner()
        .integrations;
    let view: Vec<serde_json::Value> = found
        .iter()
        .map(|d| {
            serde_json::json!({
                "integration": d.integration_name,
                "entries": d.entries.iter().map(DriftView::from).collect::<Vec<_>>(),
                "repaired": d.repaired,
                "error": d.error,
            })
        })
        .collect();
    output::emit(ctx.output, &view, || {
        let entries: Vec<pb::DriftEntry> = found.iter().flat_map(|d| d.entries.clone()).collect();
        let mut out = if entries.is_empty() {
            format!("no drift at {} integration(s)", found.len())
        } else {
            drift_table(&entries)
        };
        for d in &found {
            if d.repaired > 0 {
                out.push_str(&format!("\n{}: repaired {}", d.integration_name, d.repaired));
            }
            if !d.error.is_empty() {
                out.push_str(&format!("\n{}: not checked: {}", d.integration_name, d.error));
            }
        }
        out
    })
}
