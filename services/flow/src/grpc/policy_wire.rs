//! A flow's approval policy as the versioned `ApprovalPolicy` message other contexts store.

use latch_policy::approval::{AcrossGroups, Approval, ApproverGroup, ApproverRow, Settings};
use latch_policy::conditions::{Attribute, Combine, Operator};
use latch_proto::flow::v1 as pb;

use crate::store::StoredFlow;

/// The layout [`approval_policy`] writes.
pub const APPROVAL_POLICY_SCHEMA: u32 = 1;

pub fn approval_policy(flow: &StoredFlow) -> pb::ApprovalPolicy {
    let (kind, across, groups) = match &flow.spec.approval {
        Approval::Automatic => (pb::ApprovalKind::Automatic, pb::AcrossGroups::Unspecified, Vec::new()),
        Approval::ApprovalOf { groups, across } => (
            pb::ApprovalKind::Approvers,
            match across {
                AcrossGroups::AnyOf => pb::AcrossGroups::AnyOf,
                AcrossGroups::AllOf => pb::AcrossGroups::AllOf,
            },
            groups.iter().map(group).collect(),
        ),
    };
    pb::ApprovalPolicy {
        schema_version: APPROVAL_POLICY_SCHEMA,
        flow_id: flow.id.clone(),
        flow_name: flow.spec.name.clone(),
        flow_version: flow.version,
        approval: kind.into(),
        across: across.into(),
        groups,
        settings: Some(settings(&flow.spec.settings)),
    }
}

fn group(group: &ApproverGroup) -> pb::ApproverGroup {
    pb::ApproverGroup {
        combine: match group.combine {
            Combine::And => pb::Combine::And,
            Combine::Or => pb::Combine::Or,
        }
        .into(),
        rows: group.rows.iter().map(row).collect(),
        min_approvers: group.min_approvers,
    }
}

fn row(row: &ApproverRow) -> pb::ApproverRow {
    use pb::approver_row::Row;
    let row = match row {
        ApproverRow::Condition {
            attribute,
            operator,
            values,
        } => {
            let (kind, name) = match attribute {
                Attribute::User => (pb::AttributeKind::User, String::new()),
                Attribute::Group => (pb::AttributeKind::Group, String::new()),
                Attribute::Named(name) => (pb::AttributeKind::Named, name.clone()),
            };
            Row::Condition(pb::ApproverCondition {
                attribute: kind.into(),
                attribute_name: name,
                operator: match operator {
                    Operator::Is => pb::Operator::Is,
                    Operator::IsNot => pb::Operator::IsNot,
                    Operator::Contains => pb::Operator::Contains,
                    Operator::DoesNotContain => pb::Operator::DoesNotContain,
                    Operator::StartsWith => pb::Operator::StartsWith,
                }
                .into(),
                values: values.clone(),
            })
        }
        ApproverRow::Manager => Row::Manager(pb::ApproverManager {}),
        ApproverRow::ResourceOwner => Row::ResourceOwner(pb::ApproverResourceOwner {}),
        ApproverRow::OnCall { schedules } => Row::OnCall(pb::ApproverOnCall {
            schedules: schedules.clone(),
        }),
    };
    pb::ApproverRow { row: Some(row) }
}

fn settings(settings: &Settings) -> pb::PolicySettings {
    pb::PolicySettings {
        require_mfa: settings.require_mfa,
        require_justification: settings.require_justification,
        require_approver_reason: settings.require_approver_reason,
        no_self_approval: settings.no_self_approval,
        extensions: settings.extensions.as_ref().map(|e| pb::ExtensionLimits {
            max_count: e.max_count,
            extend_by_seconds: e.extend_by.as_seconds(),
        }),
        require_duration: settings.require_duration,
        post_use_review: settings.post_use_review,
    }
}
