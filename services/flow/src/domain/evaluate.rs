//! Evaluating one request against one flow: allowed with the effective settings, or the
//! reasons it does not apply.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::conditions::{Combine, Facts};
use super::duration::Span;
use super::model::{AcrossGroups, Approval, FlowKind, FlowSpec};
use super::window::When;

/// One concrete thing access is asked for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Item {
    pub integration_id: String,
    pub resource_id: String,
    pub permission: String,
}

/// A flow ready to evaluate: its window parsed and its targets resolved to items.
#[derive(Debug, Clone)]
pub struct CompiledFlow {
    pub id: String,
    pub spec: FlowSpec,
    pub when: When,
    pub items: BTreeSet<Item>,
}

#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub requester: &'a Facts,
    pub grantee: &'a Facts,
    pub items: &'a [Item],
    /// What the requestor asked for, if anything.
    pub duration: Option<Span>,
    pub at: DateTime<Utc>,
}

/// What an allowing flow imposes on the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowance {
    pub flow_id: String,
    pub flow_name: String,
    /// How long access lasts once granted; `None` for indefinite.
    pub duration: Option<Span>,
    pub needs_approval: bool,
    /// Sum over approver groups of their minimum approvers (0 when automatic).
    pub approvals_needed: u32,
    pub require_mfa: bool,
    pub require_justification: bool,
    pub require_approver_reason: bool,
    pub no_self_approval: bool,
}

/// Allowed, or every reason the flow does not apply.
pub fn evaluate(flow: &CompiledFlow, request: &Request<'_>) -> Result<Allowance, Vec<String>> {
    let spec = &flow.spec;
    let mut reasons = Vec::new();
    if !spec.active {
        reasons.push("the flow is disabled".to_string());
    }
    if spec.kind != FlowKind::SelfServe {
        reasons.push("automatic flows are not requested".to_string());
    }
    // The decision is `holds`; `failures` only words it.
    if !spec.requestors.holds(request.requester) {
        let unmet = spec.requestors.failures(request.requester);
        let joiner = match spec.requestors.combine {
            Combine::And => "; ",
            Combine::Or => " and ",
        };
        reasons.push(format!(
            "you are not in a group or attribute the flow's requestors allow: {}",
            unmet.join(joiner)
        ));
    }
    if !flow.when.contains(request.at) {
        reasons.push(format!("outside {}", flow.when.describe()));
    }
    let for_self = request.requester.user_id == request.grantee.user_id;
    let for_whom = &spec.for_whom;
    let grantee_ok = if for_self {
        for_whom.themselves
    } else {
        (for_whom.direct_reports && request.grantee.manager_id.as_deref() == Some(request.requester.user_id.as_str()))
            || for_whom
                .others
                .as_ref()
                .is_some_and(|others| others.holds(request.grantee))
    };
    if !grantee_ok {
        reasons.push(if for_self {
            "grantee: this flow does not let requestors ask for themselves".to_string()
        } else {
            format!(
                "grantee: {} may not be requested for under this flow",
                request.grantee.user_name
            )
        });
    }
    if request.items.is_empty() {
        reasons.push("nothing requested".to_string());
    }
    for item in request.items {
        if !flow.items.contains(item) {
            reasons.push(format!(
                "does not cover {} {} on {}",
                item.permission, item.resource_id, item.integration_id
            ));
        }
    }
    let duration = duration_for(spec, request.duration).unwrap_or_else(|rule| {
        reasons.push(format!("duration: {rule}"));
        None
    });
    if !reasons.is_empty() {
        return Err(reasons);
    }
    let (needs_approval, approvals_needed) = match &spec.approval {
        Approval::Automatic => (false, 0),
        // Any of: the cheapest group decides; all of: every group must be satisfied.
        Approval::ApprovalOf {
            groups,
            across: AcrossGroups::AnyOf,
        } => (true, groups.iter().map(|g| g.min_approvers).min().unwrap_or(0)),
        Approval::ApprovalOf {
            groups,
            across: AcrossGroups::AllOf,
        } => (true, groups.iter().map(|g| g.min_approvers).sum()),
    };
    Ok(Allowance {
        flow_id: flow.id.clone(),
        flow_name: spec.name.clone(),
        duration,
        needs_approval,
        approvals_needed,
        require_mfa: spec.settings.require_mfa,
        require_justification: spec.requires_justification(),
        require_approver_reason: spec.settings.require_approver_reason,
        no_self_approval: spec.settings.no_self_approval,
    })
}

/// The flow's one duration rule: how long access lasts for what was asked (`None`: indefinite),
/// or the rule the asked duration breaks, naming the maximum.
pub fn duration_for(spec: &FlowSpec, asked: Option<Span>) -> Result<Option<Span>, String> {
    match (spec.settings.require_duration, asked, spec.maximum()) {
        (true, None, Some(max)) => Err(format!("required, up to {max}")),
        (_, Some(asked), Some(max)) if asked > max => Err(format!("{asked} exceeds the flow maximum of {max}")),
        (_, Some(asked), _) => Ok(Some(asked)),
        (_, None, max) => Ok(max),
    }
}

/// The one rule for choosing among several allowing flows (when the request names none): the
/// least friction first — automatic approval before approval, fewer approvals, no MFA before
/// MFA — then the longest access, then the flow name, so the choice is deterministic.
pub fn choose(mut allowed: Vec<Allowance>) -> Option<Allowance> {
    allowed.sort_by(|a, b| {
        (a.needs_approval, a.approvals_needed, a.require_mfa)
            .cmp(&(b.needs_approval, b.approvals_needed, b.require_mfa))
            .then_with(|| match (a.duration, b.duration) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => std::cmp::Ordering::Less,
                (Some(_), None) => std::cmp::Ordering::Greater,
                (Some(x), Some(y)) => y.cmp(&x),
            })
            .then_with(|| a.flow_name.cmp(&b.flow_name))
    });
    allowed.into_iter().next()
}

#[cfg(test)]
mod tests;
