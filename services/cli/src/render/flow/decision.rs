//! What `flows evaluate` answers: the chosen flow, one row per flow with its effective settings,
//! then why each denied flow does not apply.

use latch_proto::flow::v1::{Decision, EvaluateResponse};
use serde::Serialize;

use super::{ItemView, count, yes_no};
use crate::output::{details, render, table};
use crate::render::optional;

#[derive(Debug, Serialize)]
pub struct EvaluationView {
    /// The flow a request without a flow name would use; null when none allows it.
    pub chosen_flow: Option<String>,
    pub allowed: bool,
    pub decisions: Vec<DecisionView>,
    /// The concrete items evaluated (a bundle or scope resolved).
    pub items: Vec<ItemView>,
}

#[derive(Debug, Serialize)]
pub struct DecisionView {
    pub flow_id: String,
    pub flow_name: String,
    pub allowed: bool,
    pub reasons: Vec<String>,
    pub duration: Option<String>,
    pub needs_approval: bool,
    pub approvals_needed: u32,
    pub require_mfa: bool,
    pub require_justification: bool,
    pub require_approver_reason: bool,
    pub no_self_approval: bool,
}

impl From<&Decision> for DecisionView {
    fn from(decision: &Decision) -> Self {
        Self {
            flow_id: decision.flow_id.clone(),
            flow_name: decision.flow_name.clone(),
            allowed: decision.allowed,
            reasons: decision.reasons.clone(),
            duration: optional(&decision.duration),
            needs_approval: decision.needs_approval,
            approvals_needed: decision.approvals_needed,
            require_mfa: decision.require_mfa,
            require_justification: decision.require_justification,
            require_approver_reason: decision.require_approver_reason,
            no_self_approval: decision.no_self_approval,
        }
    }
}

impl From<&EvaluateResponse> for EvaluationView {
    fn from(response: &EvaluateResponse) -> Self {
        Self {
            chosen_flow: optional(&response.chosen_flow),
            allowed: any_allowed(response),
            decisions: response.decisions.iter().map(DecisionView::from).collect(),
            items: response.items.iter().map(ItemView::from).collect(),
        }
    }
}

/// Whether some flow allows the request: the exit code of `flows evaluate` depends on it.
pub fn any_allowed(response: &EvaluateResponse) -> bool {
    response.decisions.iter().any(|decision| decision.allowed)
}

/// `automatic`, `1 approval`, `2 approvals, not self`; blank for a denied flow.
fn approval_text(decision: &Decision) -> String {
    if !decision.allowed {
        return String::new();
    }
    if !decision.needs_approval {
        return "automatic".to_string();
    }
    let mut text = count(i64::from(decision.approvals_needed.max(1)), "approval");
    if decision.no_self_approval {
        text.push_str(", not self");
    }
    if decision.require_approver_reason {
        text.push_str(", with reason");
    }
    text
}

/// A setting cell: only an allowing flow has effective settings.
fn setting(decision: &Decision, value: bool) -> String {
    if decision.allowed { yes_no(value) } else { String::new() }
}

pub fn evaluation_text(response: &EvaluateResponse) -> String {
    let chosen = if response.chosen_flow.is_empty() {
        "none".to_string()
    } else {
        response.chosen_flow.clone()
    };
    let header = render(&details(vec![
        ("chosen flow", chosen),
        ("items", response.items.len().to_string()),
    ]));
    if response.decisions.is_empty() {
        return format!("{header}\n\nno flow covers these items");
    }
    let mut rows = table(["flow", "allowed", "duration", "approval", "mfa", "justification"]);
    for decision in &response.decisions {
        rows.add_row(vec![
            decision.flow_name.clone(),
            yes_no(decision.allowed),
            decision.duration.clone(),
            approval_text(decision),
            setting(decision, decision.require_mfa),
            setting(decision, decision.require_justification),
        ]);
    }
    let mut text = format!("{header}\n\n{}", render(&rows));
    let denied: Vec<String> = response
        .decisions
        .iter()
        .filter(|decision| !decision.allowed)
        .map(|decision| {
            let reasons = if decision.reasons.is_empty() {
                vec!["  - (no reason given)".to_string()]
            } else {
                decision.reasons.iter().map(|reason| format!("  - {reason}")).collect()
            };
            format!("{} denied:\n{}", decision.flow_name, reasons.join("\n"))
        })
        .collect();
    if !denied.is_empty() {
        text.push_str("\n\n");
        text.push_str(&denied.join("\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use latch_proto::flow::v1::Item;

    fn allowed() -> Decision {
        Decision {
            flow_id: "f-1".into(),
            flow_name: "prod orders read".into(),
            allowed: true,
            duration: "2h".into(),
            require_justification: true,
            ..Default::default()
        }
    }

    fn denied() -> Decision {
        Decision {
            flow_id: "f-2".into(),
            flow_name: "business hours".into(),
            allowed: false,
            reasons: vec![
                "outside mon-fri 09:00-18:00 Europe/Berlin".into(),
                "requestor: department is not Engineering".into(),
            ],
            ..Default::default()
        }
    }

    fn response(decisions: Vec<Decision>, chosen: &str) -> EvaluateResponse {
        EvaluateResponse {
            chosen_flow: chosen.into(),
            decisions,
            items: vec![Item {
                integration: "demo".into(),
                resource_id: "table:orders-prod/orders".into(),
                permission: "read".into(),
            }],
        }
    }

    #[test]
    fn shows_the_chosen_flow_a_row_per_flow_and_the_reasons_indented() {
        let answer = response(vec![allowed(), denied()], "prod orders read");
        assert!(any_allowed(&answer));
        let text = evaluation_text(&answer);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("chosen flow:") && lines[0].ends_with("prod orders read"),
            "{text}"
        );
        assert!(lines[1].starts_with("items:") && lines[1].ends_with('1'), "{text}");
        let header = lines.iter().position(|line| line.starts_with("FLOW")).unwrap();
        for column in ["ALLOWED", "DURATION", "APPROVAL", "MFA", "JUSTIFICATION"] {
            assert!(lines[header].contains(column), "{text}");
        }
        let allowed_row = lines[header + 1];
        assert!(allowed_row.starts_with("prod orders read"), "{text}");
        for cell in ["yes", "2h", "automatic", "no"] {
            assert!(allowed_row.contains(cell), "{cell}: {text}");
        }
        let denied_row = lines[header + 2];
        assert!(denied_row.starts_with("business hours"), "{text}");
        assert!(denied_row.trim_end().ends_with("no"), "settings stay blank: {text}");
        assert!(
            text.ends_with(
                "business hours denied:\n  - outside mon-fri 09:00-18:00 Europe/Berlin\n  - requestor: department is not Engineering"
            ),
            "{text}"
        );
    }

    #[test]
    fn none_allowed_says_so() {
        let answer = response(vec![denied()], "");
        assert!(!any_allowed(&answer));
        let text = evaluation_text(&answer);
        assert!(text.lines().next().is_some_and(|line| line.ends_with("none")), "{text}");
        let json = serde_json::to_value(EvaluationView::from(&answer)).unwrap();
        assert_eq!(json["chosen_flow"], serde_json::Value::Null);
        assert_eq!(json["allowed"], false);
        assert_eq!(json["decisions"][0]["reasons"].as_array().map(Vec::len), Some(2));
        assert_eq!(json["decisions"][0]["duration"], serde_json::Value::Null);
        assert_eq!(json["items"][0]["spec"], "demo/table:orders-prod/orders:read");
    }

    #[test]
    fn no_covering_flow_at_all() {
        let text = evaluation_text(&response(Vec::new(), ""));
        assert!(text.ends_with("no flow covers these items"), "{text}");
    }

    #[test]
    fn approval_reads_as_a_count_with_its_conditions() {
        let mut decision = allowed();
        assert_eq!(approval_text(&decision), "automatic");
        decision.needs_approval = true;
        decision.approvals_needed = 2;
        decision.no_self_approval = true;
        assert_eq!(approval_text(&decision), "2 approvals, not self");
        decision.approvals_needed = 1;
        decision.no_self_approval = false;
        decision.require_approver_reason = true;
        assert_eq!(approval_text(&decision), "1 approval, with reason");
        assert_eq!(approval_text(&denied()), "");
    }
}
