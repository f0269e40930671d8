//! The approval snapshot each request stores in its `policy` column: the flow contract's
//! versioned `ApprovalPolicy` message, base64 of its bytes. Rows written before that hold the
//! JSON of [`Policy`]; they are still read, so nothing accepted is ever lost. (Base64 never
//! starts with `{`, so the two cannot be mistaken for each other.)

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latch_policy::approval::{AcrossGroups, Approval, ApproverGroup, ApproverRow, Extensions, Settings};
use latch_policy::conditions::{Attribute, Combine, Operator};
use latch_policy::duration::Span;
use latch_proto::flow::v1 as pb;
use latch_runtime::{ServiceError, ServiceResult};
use prost::Message;

use crate::domain::flows::PolicySnapshot;
use crate::domain::policy::Policy;

/// The newest `ApprovalPolicy` layout this build reads.
pub const SCHEMA_VERSION: u32 = 1;

impl Policy {
    /// A request's stored policy, in either form.
    pub fn parse(text: &str) -> ServiceResult<Self> {
        let stored = |e: String| ServiceError::Internal(format!("stored request policy: {e}"));
        if text.trim_start().starts_with('{') {
            return serde_json::from_str(text).map_err(|e| stored(e.to_string()));
        }
        let bytes = STANDARD.decode(text.trim()).map_err(|e| stored(e.to_string()))?;
        let message = pb::ApprovalPolicy::decode(bytes.as_slice()).map_err(|e| stored(e.to_string()))?;
        from_proto(&message).map_err(stored)
    }
}

/// The text stored for `message`.
pub fn encode(message: &pb::ApprovalPolicy) -> String {
    STANDARD.encode(message.encode_to_vec())
}

/// `message` read, and kept as it will be stored.
pub fn snapshot(message: &pb::ApprovalPolicy) -> Result<PolicySnapshot, String> {
    Ok(PolicySnapshot {
        policy: from_proto(message)?,
        stored: encode(message),
    })
}

/// The policy an `ApprovalPolicy` message describes; refuses a newer layout and values this
/// build does not know rather than guess at them.
pub fn from_proto(message: &pb::ApprovalPolicy) -> Result<Policy, String> {
    if message.schema_version == 0 || message.schema_version > SCHEMA_VERSION {
        return Err(format!(
            "approval policy layout {} (this build reads 1 to {SCHEMA_VERSION})",
            message.schema_version
        ));
    }
    let approval = match message.approval() {
        pb::ApprovalKind::Automatic => Approval::Automatic,
        pb::ApprovalKind::Approvers => Approval::ApprovalOf {
            groups: message.groups.iter().map(group).collect::<Result<_, _>>()?,
            across: match message.across() {
                pb::AcrossGroups::AllOf => AcrossGroups::AllOf,
                pb::AcrossGroups::AnyOf | pb::AcrossGroups::Unspecified => AcrossGroups::AnyOf,
            },
        },
        pb::ApprovalKind::Unspecified => return Err(format!("unknown approval kind {}", message.approval)),
    };
    let settings = message.settings.unwrap_or_default();
    let extensions = match &settings.extensions {
        None => None,
        Some(limits) => Some(Extensions {
            max_count: limits.max_count,
            extend_by: Span::seconds(limits.extend_by_seconds).ok_or("an extension of no time")?,
        }),
    };
    Ok(Policy {
        approval,
        settings: Settings {
            require_mfa: settings.require_mfa,
            require_justification: settings.require_justification,
            require_approver_reason: settings.require_approver_reason,
            no_self_approval: settings.no_self_approval,
            extensions,
            require_duration: settings.require_duration,
            post_use_review: settings.post_use_review,
        },
    })
}

fn group(group: &pb::ApproverGroup) -> Result<ApproverGroup, String> {
    Ok(ApproverGroup {
        combine: match group.combine() {
            pb::Combine::Or => Combine::Or,
            pb::Combine::And | pb::Combine::Unspecified => Combine::And,
        },
        rows: group.rows.iter().map(row).collect::<Result<_, _>>()?,
        min_approvers: group.min_approvers.max(1),
    })
}

fn row(row: &pb::ApproverRow) -> Result<ApproverRow, String> {
    use pb::approver_row::Row;
    Ok(match &row.row {
        Some(Row::Condition(condition)) => ApproverRow::Condition {
            attribute: match condition.attribute() {
                pb::AttributeKind::User => Attribute::User,
                pb::AttributeKind::Group => Attribute::Group,
                pb::AttributeKind::Named => Attribute::Named(condition.attribute_name.clone()),
                pb::AttributeKind::Unspecified => {
                    return Err(format!("unknown approver attribute {}", condition.attribute));
                }
            },
            operator: match condition.operator() {
                pb::Operator::Is => Operator::Is,
                pb::Operator::IsNot => Operator::IsNot,
                pb::Operator::Contains => Operator::Contains,
                pb::Operator::DoesNotContain => Operator::DoesNotContain,
                pb::Operator::StartsWith => Operator::StartsWith,
                pb::Operator::Unspecified => return Err(format!("unknown operator {}", condition.operator)),
            },
            values: condition.values.clone(),
        },
        Some(Row::Manager(_)) => ApproverRow::Manager,
        Some(Row::ResourceOwner(_)) => ApproverRow::ResourceOwner,
        Some(Row::OnCall(on_call)) => ApproverRow::OnCall {
            schedules: on_call.schedules.clone(),
        },
        None => return Err("an approver row of a kind this build does not know".into()),
    })
}

#[cfg(test)]
mod tests;
