use std::collections::BTreeMap;

use chrono::TimeZone;

use super::*;
use crate::domain::conditions::{Attribute, Combine, Condition, Conditions, Operator};
use crate::domain::model::{ApproverGroup, ApproverRow, ForWhom, GrantFor, Settings, TargetSpec, WhenSpec};
use crate::domain::validate::parse_when;

fn item(resource: &str) -> Item {
    Item {
        integration_id: "pg".into(),
        resource_id: resource.into(),
        permission: "read".into(),
    }
}

fn facts(id: &str, department: &str, manager: Option<&str>) -> Facts {
    Facts {
        user_id: id.into(),
        user_name: id.into(),
        email: format!("{id}@example.com"),
        groups: vec![],
        attributes: BTreeMap::from([("department".into(), vec![department.into()])]),
        manager_id: manager.map(Into::into),
    }
}

fn compiled(when: WhenSpec, settings: Settings, approval: Approval) -> CompiledFlow {
    let spec = FlowSpec {
        name: "prod".into(),
        kind: FlowKind::SelfServe,
        space: None,
        active: true,
        labels: vec![],
        requestors: Conditions {
            combine: Combine::And,
            rows: vec![Condition {
                attribute: Attribute::Named("department".into()),
                operator: Operator::Is,
                values: vec!["Engineering".into()],
            }],
        },
        when: when.clone(),
        for_whom: ForWhom {
            themselves: true,
            direct_reports: true,
            others: None,
        },
        targets: vec![TargetSpec::Bundle("b".into())],
        grant_for: GrantFor::Custom(Span::HOUR.times(2)),
        approval,
        settings,
    }
    .normalized();
    CompiledFlow {
        id: "f1".into(),
        when: parse_when(&when).unwrap(),
        spec,
        items: [item("orders")].into_iter().collect(),
    }
}

fn monday_noon_berlin() -> DateTime<Utc> {
    chrono_tz::Europe::Berlin
        .with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn reasons_name_each_failing_condition() {
    let flow = compiled(
        WhenSpec::Only {
            days: vec!["mon".into(), "tue".into(), "wed".into(), "thu".into(), "fri".into()],
            start: "09:00".into(),
            end: "18:00".into(),
            time_zone: "Europe/Berlin".into(),
        },
        Settings {
            require_duration: true,
            ..Settings::default()
        },
        Approval::Automatic,
    );
    let finance = facts("dave", "Finance", None);
    let saturday = monday_noon_berlin() + chrono::TimeDelta::days(5);
    let items = [item("customers")];
    let reasons = evaluate(
        &flow,
        &Request {
            requester: &finance,
            grantee: &finance,
            items: &items,
            duration: None,
            at: saturday,
        },
    )
    .unwrap_err();
    assert_eq!(
        reasons,
        [
            "you are not in a group or attribute the flow's requestors allow: department is not Engineering",
            "outside Mon–Fri 09:00–18:00 Europe/Berlin",
            "does not cover read customers on pg",
            "duration: required, up to 2h",
        ]
    );
}

#[test]
fn durations_are_bounded_by_the_maximum() {
    let flow = compiled(
        WhenSpec::Always,
        Settings {
            require_duration: true,
            ..Settings::default()
        },
        Approval::Automatic,
    );
    let ada = facts("ada", "Engineering", None);
    let items = [item("orders")];
    let request = |duration| Request {
        requester: &ada,
        grantee: &ada,
        items: &items,
        duration,
        at: monday_noon_berlin(),
    };
    assert_eq!(
        evaluate(&flow, &request(Some(Span::MINUTE.times(30))))
            .unwrap()
            .duration,
        Some(Span::MINUTE.times(30))
    );
    let reasons = evaluate(&flow, &request(Some(Span::HOUR.times(3)))).unwrap_err();
    assert_eq!(reasons, ["duration: 3h exceeds the flow maximum of 2h"]);
}

#[test]
fn direct_reports_but_not_strangers() {
    let flow = compiled(WhenSpec::Always, Settings::default(), Approval::Automatic);
    let boss = facts("boss", "Engineering", None);
    let report = facts("report", "Engineering", Some("boss"));
    let stranger = facts("stranger", "Engineering", None);
    let items = [item("orders")];
    let at = monday_noon_berlin();
    assert!(
        evaluate(
            &flow,
            &Request {
                requester: &boss,
                grantee: &report,
                items: &items,
                duration: None,
                at
            }
        )
        .is_ok()
    );
    let reasons = evaluate(
        &flow,
        &Request {
            requester: &boss,
            grantee: &stranger,
            items: &items,
            duration: None,
            at,
        },
    )
    .unwrap_err();
    assert_eq!(reasons, ["grantee: stranger may not be requested for under this flow"]);
}

#[test]
fn the_choice_prefers_least_friction_then_longest_access() {
    let allowance = |name: &str, approval: bool, mfa: bool, hours: Option<u64>| Allowance {
        flow_id: name.into(),
        flow_name: name.into(),
        duration: hours.map(|h| Span::HOUR.times(h)),
        needs_approval: approval,
        approvals_needed: u32::from(approval),
        require_mfa: mfa,
        require_justification: true,
        require_approver_reason: false,
        no_self_approval: false,
    };
    let chosen = choose(vec![
        allowance("needs-approval", true, false, Some(8)),
        allowance("mfa", false, true, Some(8)),
        allowance("short", false, false, Some(1)),
        allowance("long", false, false, Some(4)),
    ])
    .unwrap();
    assert_eq!(chosen.flow_name, "long");
    let with_approval = compiled(
        WhenSpec::Always,
        Settings::default(),
        Approval::ApprovalOf {
            groups: vec![ApproverGroup {
                combine: Combine::And,
                rows: vec![ApproverRow::Manager],
                min_approvers: 2,
            }],
            across: Default::default(),
        },
    );
    let ada = facts("ada", "Engineering", None);
    let items = [item("orders")];
    let allowed = evaluate(
        &with_approval,
        &Request {
            requester: &ada,
            grantee: &ada,
            items: &items,
            duration: None,
            at: monday_noon_berlin(),
        },
    )
    .unwrap();
    assert!(allowed.needs_approval);
    assert_eq!(allowed.approvals_needed, 2);
    assert!(allowed.require_justification);
}

#[test]
fn a_requestor_refusal_reads_as_one_sentence_for_either_combination() {
    let mut flow = compiled(WhenSpec::Always, Settings::default(), Approval::Automatic);
    flow.spec.requestors.rows.push(Condition {
        attribute: Attribute::Group,
        operator: Operator::Is,
        values: vec!["sre".into()],
    });
    let finance = facts("dave", "Finance", None);
    let items = [item("orders")];
    let ask = Request {
        requester: &finance,
        grantee: &finance,
        items: &items,
        duration: None,
        at: monday_noon_berlin(),
    };
    assert_eq!(
        evaluate(&flow, &ask).unwrap_err(),
        [
            "you are not in a group or attribute the flow's requestors allow: department is not Engineering; not in group sre"
        ]
    );
    flow.spec.requestors.combine = Combine::Or;
    assert_eq!(
        evaluate(&flow, &ask).unwrap_err(),
        [
            "you are not in a group or attribute the flow's requestors allow: department is not Engineering and not in group sre"
        ]
    );
}

#[test]
fn a_named_flows_duration_rule_names_the_maximum() {
    let flow = compiled(
        WhenSpec::Always,
        Settings {
            require_duration: true,
            ..Settings::default()
        },
        Approval::Automatic,
    );
    assert_eq!(duration_for(&flow.spec, None), Err("required, up to 2h".to_string()));
    assert_eq!(
        duration_for(&flow.spec, Some(Span::HOUR.times(3))),
        Err("3h exceeds the flow maximum of 2h".to_string())
    );
    assert_eq!(duration_for(&flow.spec, Some(Span::HOUR)), Ok(Some(Span::HOUR)));
}
