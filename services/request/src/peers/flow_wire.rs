//! The flow contract's messages in the request context's terms, and back.

use latch_policy::duration::Span;
use latch_proto::common::v1::Role;
use latch_proto::flow::v1 as pb;
use latch_runtime::{Caller, ServiceError, ServiceResult};

use crate::domain::flows::{
    Allowance, Asked, AutomaticFlow, Chosen, Decision, FlowKind, FlowSummary, Generation, Item, PolicySnapshot, Refusal,
};
use crate::policy_snapshot;

/// The flow service sent something this build cannot read: a bug or a version skew, never the
/// caller's fault.
fn unreadable(what: &str, error: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(format!("the flow service sent an unreadable {what}: {error}"))
}

pub fn item_to_proto(item: &Item) -> pb::Item {
    pb::Item {
        integration: item.integration_id.clone(),
        resource_id: item.resource_id.clone(),
        permission: item.permission.clone(),
    }
}

pub fn item(item: pb::Item) -> Item {
    Item {
        integration_id: item.integration,
        resource_id: item.resource_id,
        permission: item.permission,
    }
}

fn span(what: &str, seconds: Option<u64>) -> ServiceResult<Option<Span>> {
    seconds
        .map(|s| Span::seconds(s).ok_or_else(|| unreadable(what, "a span of no time")))
        .transpose()
}

pub fn decide_request(
    actor: &Caller,
    grantee: &str,
    asked: &Asked,
    duration: Option<Span>,
    at: chrono::DateTime<chrono::Utc>,
    flow: &str,
) -> pb::DecideRequest {
    pb::DecideRequest {
        actor_user_id: actor.user_id.clone(),
        actor_roles: actor.roles.iter().map(|r: &Role| *r as i32).collect(),
        grantee: grantee.to_string(),
        items: asked.items.iter().map(item_to_proto).collect(),
        bundle: asked.bundle.clone(),
        scope: asked.scope.clone(),
        scope_permissions: asked.scope_permissions.clone(),
        duration_seconds: duration.map(Span::as_seconds),
        at: Some(latch_proto::time::timestamp(at)),
        flow: flow.to_string(),
    }
}

fn policy(policy: Option<&pb::ApprovalPolicy>) -> ServiceResult<PolicySnapshot> {
    let policy = policy.ok_or_else(|| unreadable("answer", "a flow without its approval policy"))?;
    policy_snapshot::snapshot(policy).map_err(|e| unreadable("approval policy", e))
}

pub fn decision(answer: pb::DecideResponse) -> ServiceResult<Decision> {
    let chosen = match &answer.chosen {
        None => None,
        Some(chosen) => Some(Chosen {
            allowance: Allowance {
                flow_id: chosen.flow_id.clone(),
                flow_name: chosen.flow_name.clone(),
                duration: span("duration", chosen.duration_seconds)?,
                needs_approval: chosen.needs_approval,
                approvals_needed: chosen.approvals_needed,
                require_mfa: chosen.require_mfa,
                require_justification: chosen.require_justification,
                require_approver_reason: chosen.require_approver_reason,
                no_self_approval: chosen.no_self_approval,
            },
            snapshot: policy(answer.policy.as_ref())?,
        }),
    };
    Ok(Decision {
        items: answer.items.into_iter().map(item).collect(),
        chosen,
        refusals: answer
            .refusals
            .into_iter()
            .map(|r| Refusal {
                flow_id: r.flow_id,
                flow_name: r.flow_name,
                reasons: r.reasons,
            })
            .collect(),
    })
}

/// Adds one chunk to the flows read so far: a chunk naming the last flow continues it.
pub fn add_automatic_chunk(flows: &mut Vec<AutomaticFlow>, chunk: pb::AutomaticFlowChunk) -> ServiceResult<()> {
    if let Some(last) = flows.last_mut()
        && last.id == chunk.flow_id
    {
        last.items.extend(chunk.items.into_iter().map(item));
        return Ok(());
    }
    flows.push(AutomaticFlow {
        snapshot: policy(chunk.policy.as_ref())?,
        id: chunk.flow_id,
        name: chunk.flow_name,
        items: chunk.items.into_iter().map(item).collect(),
    });
    Ok(())
}

/// Adds one chunk to the grantees read so far: a chunk naming the last flow continues it.
pub fn add_grantees_chunk(flows: &mut Vec<(String, Vec<String>)>, chunk: pb::GranteesChunk) {
    if let Some((last, users)) = flows.last_mut()
        && *last == chunk.flow_id
    {
        users.extend(chunk.user_ids);
        return;
    }
    flows.push((chunk.flow_id, chunk.user_ids));
}

pub fn summary(flow: pb::FlowSummary) -> ServiceResult<FlowSummary> {
    let kind = match flow.kind() {
        pb::FlowKind::SelfServe => FlowKind::SelfServe,
        pb::FlowKind::Automatic => FlowKind::Automatic,
        pb::FlowKind::Unspecified => return Err(unreadable("flow kind", flow.kind)),
    };
    let created_at = match &flow.create_time {
        Some(at) => latch_proto::time::to_datetime(at).ok_or_else(|| unreadable("create time", "out of range"))?,
        None => return Err(unreadable("flow", "no create time")),
    };
    Ok(FlowSummary {
        maximum: span("maximum", flow.maximum_seconds)?,
        approval: policy(flow.policy.as_ref())?.policy.approval,
        id: flow.flow_id,
        name: flow.flow_name,
        kind,
        active: flow.active,
        created_at,
    })
}

pub fn generation(generation: pb::Generation) -> Generation {
    Generation {
        flow_store_version: generation.flow_store_version,
        catalog_version: generation.catalog_version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_of_one_flow_join_and_the_next_flow_starts_anew() {
        let chunk = |flow: &str, users: &[&str]| pb::GranteesChunk {
            flow_id: flow.into(),
            user_ids: users.iter().map(|u| u.to_string()).collect(),
        };
        let mut flows = Vec::new();
        for c in [
            chunk("a", &["u1"]),
            chunk("a", &["u2"]),
            chunk("b", &[]),
            chunk("c", &["u3"]),
        ] {
            add_grantees_chunk(&mut flows, c);
        }
        assert_eq!(
            flows,
            vec![
                ("a".to_string(), vec!["u1".to_string(), "u2".to_string()]),
                ("b".to_string(), vec![]),
                ("c".to_string(), vec!["u3".to_string()]),
            ]
        );
    }
}
