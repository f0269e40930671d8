//! Templates from the reference's duration and approval recommendations, so a flow can start from
//! that guidance (`latch flows create --template production`) and be adjusted.

use super::conditions::Combine;
use super::duration::Span;
use super::model::{Approval, ApproverGroup, ApproverRow, FlowKind, FlowSpec, GrantFor, Settings};

/// Name, what it is for, typical requested duration, maximum.
pub const TEMPLATES: &[(&str, &str, &str, &str)] = &[
    (
        "sensitive-data",
        "PII, financial and customer data: approval with a reason, no self-approval",
        "1h",
        "2h",
    ),
    (
        "break-glass",
        "Emergencies: granted at once with MFA, reviewed after the incident",
        "1h",
        "2h",
    ),
    (
        "development",
        "Development, sandbox, staging and QA: automatic, long-lived",
        "13w",
        "13w",
    ),
    (
        "production",
        "Production systems: approval (or on-call), MFA, no self-approval",
        "2h",
        "4h",
    ),
];

fn manager_approval() -> Approval {
    Approval::ApprovalOf {
        groups: vec![ApproverGroup {
            combine: Combine::Or,
            rows: vec![ApproverRow::Manager],
            min_approvers: 1,
        }],
        across: Default::default(),
    }
}

/// Applies a template's grant duration, approval and settings to `base` (which brings the name,
/// requestors and targets). A template that needs approval starts with the grantee's manager as
/// approver when `base` approves automatically; admins then name the real approvers.
pub fn apply(template: &str, mut base: FlowSpec) -> Result<FlowSpec, String> {
    let (_, _, _, maximum) = TEMPLATES
        .iter()
        .find(|(name, ..)| *name == template)
        .ok_or_else(|| format!("unknown template {template:?}; templates: {}", names().join(", ")))?;
    let maximum = Span::parse(maximum).map_err(|e| format!("template {template}: {e}"))?;
    base.kind = FlowKind::SelfServe;
    base.grant_for = GrantFor::Custom(maximum);
    let needs_approval = matches!(template, "sensitive-data" | "production");
    if needs_approval && matches!(base.approval, Approval::Automatic) {
        base.approval = manager_approval();
    }
    if !needs_approval {
        base.approval = Approval::Automatic;
    }
    base.settings = match template {
        "sensitive-data" => Settings {
            require_duration: true,
            require_approver_reason: true,
            no_self_approval: true,
            require_justification: Some(true),
            ..Settings::default()
        },
        "break-glass" => Settings {
            require_mfa: true,
            require_duration: true,
            require_justification: Some(true),
            post_use_review: true,
            ..Settings::default()
        },
        "production" => Settings {
            require_mfa: true,
            no_self_approval: true,
            require_duration: true,
            require_justification: Some(true),
            ..Settings::default()
        },
        _ => Settings {
            require_justification: Some(false),
            ..Settings::default()
        },
    };
    Ok(base)
}

pub fn names() -> Vec<&'static str> {
    TEMPLATES.iter().map(|(name, ..)| *name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::conditions::{Attribute, Condition, Conditions, Operator};
    use crate::domain::model::{ForWhom, TargetSpec, WhenSpec};
    use crate::domain::validate::validate;

    fn base() -> FlowSpec {
        FlowSpec {
            name: "orders".into(),
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
            targets: vec![TargetSpec::Bundle("orders-db".into())],
            grant_for: GrantFor::default(),
            approval: Approval::Automatic,
            settings: Settings::default(),
        }
    }

    #[test]
    fn every_template_gives_a_valid_flow_with_its_guidance() {
        for name in names() {
            let flow = apply(name, base()).unwrap().normalized();
            assert!(validate(&flow).is_empty(), "{name}: {:?}", validate(&flow));
        }
        let production = apply("production", base()).unwrap();
        assert_eq!(production.maximum(), Some(Span::HOUR.times(4)));
        assert!(production.settings.require_mfa && production.settings.no_self_approval);
        assert!(matches!(production.approval, Approval::ApprovalOf { .. }));
        let sensitive = apply("sensitive-data", base()).unwrap();
        assert!(sensitive.settings.require_approver_reason);
        let glass = apply("break-glass", base()).unwrap();
        assert!(matches!(glass.approval, Approval::Automatic) && glass.settings.require_mfa);
        assert!(glass.settings.post_use_review, "break-glass use is reviewed afterwards");
        assert!(apply("yolo", base()).is_err());
    }
}
