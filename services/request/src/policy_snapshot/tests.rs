use latch_policy::approval::{AcrossGroups, Approval, ApproverGroup, ApproverRow, Extensions, Settings};
use latch_policy::conditions::{Attribute, Combine, Operator};
use latch_policy::duration::Span;
use latch_proto::flow::v1 as pb;

use super::*;

fn message() -> pb::ApprovalPolicy {
    use pb::approver_row::Row;
    pb::ApprovalPolicy {
        schema_version: 1,
        flow_id: "f1".into(),
        flow_name: "prod-db".into(),
        flow_version: 3,
        approval: pb::ApprovalKind::Approvers.into(),
        across: pb::AcrossGroups::AllOf.into(),
        groups: vec![
            pb::ApproverGroup {
                combine: pb::Combine::Or.into(),
                rows: vec![
                    pb::ApproverRow {
                        row: Some(Row::Manager(pb::ApproverManager {})),
                    },
                    pb::ApproverRow {
                        row: Some(Row::Condition(pb::ApproverCondition {
                            attribute: pb::AttributeKind::Named.into(),
                            attribute_name: "department".into(),
                            operator: pb::Operator::Is.into(),
                            values: vec!["SRE".into()],
                        })),
                    },
                ],
                min_approvers: 2,
            },
            pb::ApproverGroup {
                combine: pb::Combine::And.into(),
                rows: vec![pb::ApproverRow {
                    row: Some(Row::OnCall(pb::ApproverOnCall {
                        schedules: vec!["sre-primary".into()],
                    })),
                }],
                min_approvers: 1,
            },
        ],
        settings: Some(pb::PolicySettings {
            require_mfa: true,
            require_justification: Some(false),
            require_approver_reason: true,
            no_self_approval: true,
            extensions: Some(pb::ExtensionLimits {
                max_count: 2,
                extend_by_seconds: 1800,
            }),
            require_duration: false,
            post_use_review: true,
        }),
    }
}

fn policy() -> Policy {
    Policy {
        approval: Approval::ApprovalOf {
            groups: vec![
                ApproverGroup {
                    combine: Combine::Or,
                    rows: vec![
                        ApproverRow::Manager,
                        ApproverRow::Condition {
                            attribute: Attribute::Named("department".into()),
                            operator: Operator::Is,
                            values: vec!["SRE".into()],
                        },
                    ],
                    min_approvers: 2,
                },
                ApproverGroup {
                    combine: Combine::And,
                    rows: vec![ApproverRow::OnCall {
                        schedules: vec!["sre-primary".into()],
                    }],
                    min_approvers: 1,
                },
            ],
            across: AcrossGroups::AllOf,
        },
        settings: Settings {
            require_mfa: true,
            require_justification: Some(false),
            require_approver_reason: true,
            no_self_approval: true,
            extensions: Some(Extensions {
                max_count: 2,
                extend_by: Span::MINUTE.times(30),
            }),
            require_duration: false,
            post_use_review: true,
        },
    }
}

#[test]
fn a_snapshot_is_stored_as_the_proto_message_and_reads_back() {
    let stored = encode(&message());
    assert!(!stored.starts_with('{'), "not JSON: {stored}");
    let bytes = STANDARD.decode(&stored).unwrap();
    assert_eq!(pb::ApprovalPolicy::decode(bytes.as_slice()).unwrap(), message());
    assert_eq!(Policy::parse(&stored).unwrap(), policy());
    let snapshot = snapshot(&message()).unwrap();
    assert_eq!(snapshot.stored, stored);
    assert_eq!(snapshot.policy, policy());
}

#[test]
fn a_snapshot_written_as_json_before_still_reads() {
    // Exactly what rows held when the snapshot was the flow's serde model.
    let old = r#"{"approval":{"approval_of":{"groups":[{"combine":"or","rows":["manager",{"condition":{"attribute":"department","operator":"is","values":["SRE"]}}],"min_approvers":2},{"combine":"and","rows":[{"on_call":{"schedules":["sre-primary"]}}],"min_approvers":1}],"across":"all_of"}},"settings":{"require_mfa":true,"require_justification":false,"require_approver_reason":true,"no_self_approval":true,"extensions":{"max_count":2,"extend_by":"30m"},"require_duration":false,"post_use_review":true}}"#;
    assert_eq!(Policy::parse(old).unwrap(), policy());
    let automatic = r#"{"approval":"automatic","settings":{"require_mfa":false,"require_justification":null,"require_approver_reason":false,"no_self_approval":false,"extensions":null,"require_duration":false}}"#;
    let read = Policy::parse(automatic).unwrap();
    assert!(!read.needs_approval());
    assert_eq!(read.settings, Settings::default());
}

#[test]
fn an_automatic_policy_round_trips() {
    let message = pb::ApprovalPolicy {
        schema_version: 1,
        approval: pb::ApprovalKind::Automatic.into(),
        settings: Some(pb::PolicySettings::default()),
        ..Default::default()
    };
    let read = Policy::parse(&encode(&message)).unwrap();
    assert_eq!(read.approval, Approval::Automatic);
    assert_eq!(read.settings, Settings::default());
}

#[test]
fn a_newer_layout_or_an_unknown_value_is_refused_not_guessed() {
    let newer = pb::ApprovalPolicy {
        schema_version: SCHEMA_VERSION + 1,
        ..message()
    };
    assert!(Policy::parse(&encode(&newer)).is_err());
    let mut unknown_row = message();
    unknown_row.groups[0].rows.push(pb::ApproverRow { row: None });
    assert!(Policy::parse(&encode(&unknown_row)).is_err());
    let unknown_kind = pb::ApprovalPolicy {
        approval: 7,
        ..message()
    };
    assert!(Policy::parse(&encode(&unknown_kind)).is_err());
    assert!(Policy::parse("not base64 at all!").is_err());
}
