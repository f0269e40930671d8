//! Access requests as people read them: a table of requests, one request in full (what, for
//! whom, why it waits and on whom, decisions, history), and credentials.

use latch_proto::request::v1::{AccessRequest, Credential, Job, RequestItem, WebhookDelivery};
use serde::Serialize;

use super::optional;
use crate::output::{details, render, table};
use crate::timestamp::{format, format_optional};

#[derive(Debug, Serialize)]
pub struct ItemView {
    pub integration: String,
    pub resource_id: String,
    pub resource_name: String,
    pub resource_type: String,
    pub permission: String,
    pub state: String,
    pub grant_state: Option<String>,
    pub error: Option<String>,
    pub account: Option<String>,
}

impl From<&RequestItem> for ItemView {
    fn from(item: &RequestItem) -> Self {
        Self {
            integration: item.integration_name.clone(),
            resource_id: item.resource_id.clone(),
            resource_name: item.resource_name.clone(),
            resource_type: item.resource_type.clone(),
            permission: item.permission.clone(),
            state: item.state.clone(),
            grant_state: optional(&item.grant_state),
            error: optional(&item.error),
            account: optional(&item.account),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DecisionView {
    pub approver: String,
    pub decision: String,
    pub reason: Option<String>,
    pub time: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct EventView {
    pub time: Option<String>,
    pub actor: String,
    pub kind: String,
    pub state: String,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct RequestView {
    pub id: String,
    pub state: String,
    pub flow: String,
    pub requester_id: String,
    pub requester: Option<String>,
    pub grantee_id: String,
    pub grantee: Option<String>,
    pub duration: Option<String>,
    pub justification: Option<String>,
    pub start_time: Option<String>,
    pub grant_time: Option<String>,
    pub end_time: Option<String>,
    pub approval_deadline: Option<String>,
    pub extensions_used: i32,
    pub extensions_allowed: i32,
    pub extend_by: Option<String>,
    pub outcome: Option<String>,
    pub create_time: Option<String>,
    pub waiting: Vec<String>,
    pub can_approve: bool,
    pub items: Vec<ItemView>,
    pub decisions: Vec<DecisionView>,
    pub history: Vec<EventView>,
}

impl From<&AccessRequest> for RequestView {
    fn from(r: &AccessRequest) -> Self {
        Self {
            id: r.id.clone(),
            state: r.state.clone(),
            flow: r.flow_name.clone(),
            requester_id: r.requester_id.clone(),
            requester: optional(&r.requester_name),
            grantee_id: r.grantee_id.clone(),
            grantee: optional(&r.grantee_name),
            duration: optional(&r.duration),
            justification: optional(&r.justification),
            start_time: format_optional(r.start_time.as_ref()),
            grant_time: format_optional(r.grant_time.as_ref()),
            end_time: format_optional(r.end_time.as_ref()),
            approval_deadline: format_optional(r.approval_deadline.as_ref()),
            extensions_used: r.extensions_used,
            extensions_allowed: r.extensions_allowed,
            extend_by: optional(&r.extend_by),
            outcome: optional(&r.outcome),
            create_time: format_optional(r.create_time.as_ref()),
            waiting: r.waiting.clone(),
            can_approve: r.can_approve,
            items: r.items.iter().map(ItemView::from).collect(),
            decisions: r
                .decisions
                .iter()
                .map(|d| DecisionView {
                    approver: d.approver_name.clone(),
                    decision: d.decision.clone(),
                    reason: optional(&d.reason),
                    time: format_optional(d.decide_time.as_ref()),
                })
                .collect(),
            history: r
                .history
                .iter()
                .map(|e| EventView {
                    time: format_optional(e.time.as_ref()),
                    actor: e.actor.clone(),
                    kind: e.kind.clone(),
                    state: e.state.clone(),
                    detail: e.detail.clone(),
                })
                .collect(),
        }
    }
}

fn duration_text(r: &AccessRequest) -> String {
    if r.duration.is_empty() {
        "indefinite".into()
    } else {
        r.duration.clone()
    }
}

pub fn requests_table(requests: &[AccessRequest]) -> String {
    if requests.is_empty() {
        return "no requests".into();
    }
    let mut rows = table(["id", "state", "flow", "duration", "created", "ends"]);
    for r in requests {
        rows.add_row(vec![
            r.id.clone(),
            r.state.clone(),
            r.flow_name.clone(),
            duration_text(r),
            format(r.create_time.as_ref()),
            format(r.end_time.as_ref()),
        ]);
    }
    render(&rows)
}

/// `ada (0190…)`, or the id alone when the name is not known.
fn person(name: &str, id: &str) -> String {
    if name.is_empty() {
        id.to_string()
    } else {
        format!("{name} ({id})")
    }
}

fn item_line(item: &RequestItem) -> String {
    let mut line = format!(
        "{} {} ({} {} in {}) — {}",
        item.permission, item.resource_name, item.resource_type, item.resource_id, item.integration_name, item.state
    );
    if !item.error.is_empty() {
        line.push_str(&format!(" — last error: {}", item.error));
    }
    line
}

/// One request in full, for the requester, the grantee or an approver deciding on it.
pub fn request_details(r: &AccessRequest) -> String {
    let mut rows = vec![
        ("id", r.id.clone()),
        ("state", r.state.clone()),
        ("flow", r.flow_name.clone()),
        ("requester", person(&r.requester_name, &r.requester_id)),
        ("grantee", person(&r.grantee_name, &r.grantee_id)),
        ("duration", duration_text(r)),
    ];
    if !r.justification.is_empty() {
        rows.push(("justification", r.justification.clone()));
    }
    for (label, time) in [
        ("starts", &r.start_time),
        ("granted", &r.grant_time),
        ("ends", &r.end_time),
        ("approval deadline", &r.approval_deadline),
    ] {
        if time.is_some() {
            rows.push((label, format(time.as_ref())));
        }
    }
    if r.extensions_allowed > 0 {
        rows.push((
            "extensions",
            format!(
                "{} of {} used, {} each",
                r.extensions_used, r.extensions_allowed, r.extend_by
            ),
        ));
    }
    if !r.outcome.is_empty() {
        rows.push(("outcome", r.outcome.clone()));
    }
    let mut text = render(&details(rows));
    let mut section = |title: &str, lines: Vec<String>| {
        if !lines.is_empty() {
            text.push_str(&format!("\n\n{title}:\n"));
            text.push_str(&lines.iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n"));
        }
    };
    section("waiting", r.waiting.clone());
    section("items", r.items.iter().map(item_line).collect());
    section(
        "decisions",
        r.decisions
            .iter()
            .map(|d| {
                let reason = if d.reason.is_empty() {
                    String::new()
                } else {
                    format!(": {}", d.reason)
                };
                format!(
                    "{} {} {}{reason}",
                    format(d.decide_time.as_ref()),
                    d.approver_name,
                    d.decision
                )
            })
            .collect(),
    );
    section(
        "history",
        r.history
            .iter()
            .map(|e| format!("{} {:<18} {} — {}", format(e.time.as_ref()), e.kind, e.actor, e.detail))
            .collect(),
    );
    if r.can_approve {
        let reason = if r.require_approver_reason {
            " --reason TEXT"
        } else {
            ""
        };
        text.push_str(&format!(
            "\n\nyou may decide: latch requests approve {}{reason}  |  latch requests reject {}",
            r.id, r.id
        ));
    }
    text
}

/// Several requests in full, one after another.
pub fn requests_details(requests: &[AccessRequest], empty: &str) -> String {
    if requests.is_empty() {
        return empty.into();
    }
    requests
        .iter()
        .map(request_details)
        .collect::<Vec<_>>()
        .join("\n\n---\n\n")
}

#[derive(Debug, Serialize)]
pub struct CredentialView {
    pub item: Option<ItemView>,
    pub account: String,
    pub credentials: std::collections::BTreeMap<String, String>,
    pub expire_time: Option<String>,
}

impl From<&Credential> for CredentialView {
    fn from(c: &Credential) -> Self {
        Self {
            item: c.item.as_ref().map(ItemView::from),
            account: c.account.clone(),
            credentials: c.credentials.clone().into_iter().collect(),
            expire_time: format_optional(c.expire_time.as_ref()),
        }
    }
}

pub fn credentials_text(credentials: &[Credential]) -> String {
    if credentials.is_empty() {
        return "no credentials: the connector gives access to your existing account".into();
    }
    let mut out = Vec::new();
    for c in credentials {
        let mut rows = Vec::new();
        if let Some(item) = &c.item {
            rows.push((
                "resource",
                format!("{} {} in {}", item.permission, item.resource_id, item.integration_name),
            ));
        }
        rows.push(("account", c.account.clone()));
        let sorted: std::collections::BTreeMap<_, _> = c.credentials.iter().collect();
        for (key, value) in sorted {
            rows.push((key.as_str(), value.clone()));
        }
        rows.push(("expires", format(c.expire_time.as_ref())));
        out.push(render(&details(rows)));
    }
    out.join("\n\n")
}

#[derive(Debug, Serialize)]
pub struct JobView {
    pub id: String,
    pub kind: String,
    pub subject: String,
    pub due_time: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

impl From<&Job> for JobView {
    fn from(j: &Job) -> Self {
        Self {
            id: j.id.clone(),
            kind: j.kind.clone(),
            subject: j.subject.clone(),
            due_time: format_optional(j.due_time.as_ref()),
            attempts: j.attempts,
            last_error: optional(&j.last_error),
        }
    }
}

pub fn jobs_table(jobs: &[Job]) -> String {
    if jobs.is_empty() {
        return "no pending jobs".into();
    }
    let mut rows = table(["kind", "subject", "due", "attempts", "last error"]);
    for j in jobs {
        rows.add_row(vec![
            j.kind.clone(),
            j.subject.clone(),
            format(j.due_time.as_ref()),
            j.attempts.to_string(),
            j.last_error.clone(),
        ]);
    }
    render(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_say_why_it_waits_and_what_it_is_for() {
        let request = AccessRequest {
            id: "r1".into(),
            state: "pending_approval".into(),
            flow_name: "prod read".into(),
            duration: "30m".into(),
            justification: "INC-1".into(),
            grantee_name: "ada".into(),
            grantee_id: "u1".into(),
            waiting: vec!["waiting for approval from any one of these groups:".into()],
            items: vec![RequestItem {
                integration_name: "pg".into(),
                resource_id: "table:app/public/orders".into(),
                resource_name: "orders".into(),
                resource_type: "table".into(),
                permission: "read".into(),
                state: "pending".into(),
                ..Default::default()
            }],
            can_approve: true,
            require_approver_reason: true,
            ..Default::default()
        };
        let text = request_details(&request);
        for expected in [
            "pending_approval",
            "30m",
            "INC-1",
            "ada (u1)",
            "waiting for approval",
            "read orders (table table:app/public/orders in pg)",
            "latch requests approve r1 --reason TEXT",
        ] {
            assert!(text.contains(expected), "{expected} missing from:\n{text}");
        }
        assert_eq!(duration_text(&AccessRequest::default()), "indefinite");
    }
}

#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub time: String,
    pub sink: String,
    pub event: String,
    pub request_id: String,
    pub attempt: i32,
    pub status: i32,
    pub error: Option<String>,
    pub millis: i64,
    pub notification_id: String,
}

impl From<&WebhookDelivery> for DeliveryView {
    fn from(d: &WebhookDelivery) -> Self {
        Self {
            time: format(d.time.as_ref()),
            sink: d.sink.clone(),
            event: d.event.clone(),
            request_id: d.request_id.clone(),
            attempt: d.attempt,
            status: d.status,
            error: optional(&d.error),
            millis: d.millis,
            notification_id: d.notification_id.clone(),
        }
    }
}

/// Webhook attempts: when, where, what, and the sink's answer.
pub fn deliveries_table(deliveries: &[WebhookDelivery]) -> String {
    let mut t = table(["time", "sink", "event", "request", "attempt", "status", "error"]);
    for d in deliveries {
        t.add_row(vec![
            format(d.time.as_ref()),
            d.sink.clone(),
            d.event.clone(),
            d.request_id.clone(),
            d.attempt.to_string(),
            if d.status == 0 {
                "-".into()
            } else {
                d.status.to_string()
            },
            d.error.clone(),
        ]);
    }
    render(&t)
}
