use super::*;
use crate::domain::conditions::{Combine, Condition, Operator};
use crate::domain::duration::Span;
use crate::domain::model::{ApproverGroup, Extensions, ForWhom, IntegrationTargetSpec, Settings};

fn flow() -> FlowSpec {
    FlowSpec {
        name: "prod db read".into(),
        kind: FlowKind::SelfServe,
        space: None,
        active: true,
        labels: vec![],
        requestors: Conditions {
            combine: Combine::And,
            rows: vec![Condition {
                attribute: Attribute::Group,
                operator: Operator::Is,
                values: vec!["sre".into()],
            }],
        },
        when: WhenSpec::Always,
        for_whom: ForWhom::default(),
        targets: vec![TargetSpec::Integration(IntegrationTargetSpec {
            integration: "prod-pg".into(),
            resource_type: "table".into(),
            permissions: vec!["read".into()],
            mode: SelectionModeSpec::Any,
            resource_ids: vec![],
            resource_names: vec![],
            tags: vec![],
        })],
        grant_for: GrantFor::Custom(Span::HOUR),
        approval: Approval::Automatic,
        settings: Settings::default(),
    }
    .normalized()
}

fn fields(flow: &FlowSpec) -> Vec<String> {
    validate(flow).into_iter().map(|v| v.field).collect()
}

#[test]
fn a_valid_flow_has_no_violations() {
    assert!(validate(&flow()).is_empty(), "{:?}", validate(&flow()));
}

#[test]
fn each_invalid_combination_names_its_field() {
    let mut f = flow();
    f.name = "!bad".into();
    f.requestors.rows[0].attribute = Attribute::Named("Bad Key".into());
    f.requestors.rows[0].values.clear();
    f.when = WhenSpec::Only {
        days: vec!["mon".into()],
        start: "09:00".into(),
        end: "09:00".into(),
        time_zone: "Mars/Base".into(),
    };
    f.settings.extensions = Some(Extensions {
        max_count: 11,
        extend_by: Span::HOUR.times(2),
    });
    f.settings.require_approver_reason = true;
    let found = fields(&f);
    for expected in [
        "name",
        "requestors.rows[0].attribute",
        "requestors.rows[0].values",
        "when.end",
        "when.time_zone",
        "settings.extensions.max_count",
        "settings.extensions.extend_by",
        "settings.require_approver_reason",
    ] {
        assert!(
            found.contains(&expected.to_string()),
            "{expected} missing from {found:?}"
        );
    }
}

#[test]
fn automatic_flows_refuse_approval_mfa_and_justification() {
    let mut f = flow();
    f.kind = FlowKind::Automatic;
    f.settings.require_justification = Some(true);
    f.settings.require_mfa = true;
    f.approval = Approval::ApprovalOf {
        groups: vec![ApproverGroup {
            combine: Combine::And,
            rows: vec![ApproverRow::Manager],
            min_approvers: 1,
        }],
        across: Default::default(),
    };
    let found = fields(&f);
    for expected in ["approval", "settings.require_mfa", "settings.require_justification"] {
        assert!(
            found.contains(&expected.to_string()),
            "{expected} missing from {found:?}"
        );
    }
    // Normalising an automatic flow does not turn justification on.
    let mut auto = flow();
    auto.kind = FlowKind::Automatic;
    auto.settings.require_justification = None;
    assert!(validate(&auto.normalized()).is_empty());
}

#[test]
fn durations_and_approval_groups_are_checked() {
    let mut f = flow();
    f.grant_for = GrantFor::Indefinite;
    f.settings.require_duration = true;
    f.approval = Approval::ApprovalOf {
        groups: vec![ApproverGroup {
            combine: Combine::Or,
            rows: vec![],
            min_approvers: 0,
        }],
        across: Default::default(),
    };
    let found = fields(&f);
    for expected in [
        "settings.require_duration",
        "approval.approval_of.groups[0].rows",
        "approval.approval_of.groups[0].min_approvers",
    ] {
        assert!(
            found.contains(&expected.to_string()),
            "{expected} missing from {found:?}"
        );
    }
    assert!(
        flow().requires_justification(),
        "self-serve flows require a justification by default"
    );
}

#[test]
fn a_manager_only_group_cannot_need_two_approvers() {
    let mut f = flow();
    f.approval = Approval::ApprovalOf {
        groups: vec![ApproverGroup {
            combine: Combine::Or,
            rows: vec![ApproverRow::Manager],
            min_approvers: 2,
        }],
        across: Default::default(),
    };
    assert_eq!(fields(&f), ["approval.approval_of.groups[0].min_approvers"]);
}

#[test]
fn post_use_review_is_for_flows_that_grant_without_prior_approval() {
    let mut f = flow();
    f.settings.post_use_review = true;
    assert!(validate(&f).is_empty(), "{:?}", validate(&f));
    f.approval = Approval::ApprovalOf {
        groups: vec![ApproverGroup {
            combine: Combine::Or,
            rows: vec![ApproverRow::Manager],
            min_approvers: 1,
        }],
        across: Default::default(),
    };
    assert_eq!(fields(&f), ["settings.post_use_review"]);
}
