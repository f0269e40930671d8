//! Every invalid flow is refused with the field path and the rule. This checks the flow on its
//! own; references to the catalog (integrations, permissions, bundles, scopes) and name
//! uniqueness are checked by the service, which has them.

use latch_runtime::FieldViolation;

use super::conditions::{Attribute, Conditions};
use super::model::{Approval, ApproverRow, FlowKind, FlowSpec, GrantFor, SelectionModeSpec, TargetSpec, WhenSpec};
use super::window::When;

pub const MAX_EXTENSIONS: u32 = 10;
pub const MAX_MIN_APPROVERS: u32 = 10;
pub use latch_policy::approval::MAX_APPROVER_REASON;

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
}

fn is_valid_attribute_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'))
}

fn check_conditions(field: &str, conditions: &Conditions, out: &mut Vec<FieldViolation>) {
    if conditions.rows.is_empty() {
        out.push(FieldViolation::new(
            format!("{field}.rows"),
            "at least one row is required",
        ));
    }
    for (i, row) in conditions.rows.iter().enumerate() {
        if let Attribute::Named(key) = &row.attribute
            && !is_valid_attribute_key(key)
        {
            out.push(FieldViolation::new(
                format!("{field}.rows[{i}].attribute"),
                format!("unknown attribute {key:?}: use user, group or an identity attribute key (lowercase)"),
            ));
        }
        if row.values.is_empty() {
            out.push(FieldViolation::new(
                format!("{field}.rows[{i}].values"),
                "at least one value is required",
            ));
        } else if row.values.iter().any(|v| v.trim().is_empty()) {
            out.push(FieldViolation::new(
                format!("{field}.rows[{i}].values"),
                "values must not be empty",
            ));
        }
    }
}

/// The parsed window, or the violations of `when`.
pub fn parse_when(when: &WhenSpec) -> Result<When, Vec<FieldViolation>> {
    match when {
        WhenSpec::Always => Ok(When::Always),
        WhenSpec::Only {
            days,
            start,
            end,
            time_zone,
        } => When::parse(days, start, end, time_zone).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| FieldViolation::new(e.field, e.message))
                .collect()
        }),
    }
}

pub fn validate(flow: &FlowSpec) -> Vec<FieldViolation> {
    let mut out = Vec::new();
    if !is_valid_name(&flow.name) {
        out.push(FieldViolation::new(
            "name",
            "must be 1–64 letters, digits, spaces, '-', '_' or '.', starting with a letter or digit",
        ));
    }
    for (i, label) in flow.labels.iter().enumerate() {
        if label.trim().is_empty() || label.len() > 64 || label.chars().any(char::is_control) {
            out.push(FieldViolation::new(
                format!("labels[{i}]"),
                "must be 1–64 printable characters",
            ));
        }
    }
    check_conditions("requestors", &flow.requestors, &mut out);
    if let Err(violations) = parse_when(&flow.when) {
        out.extend(violations);
    }

    let automatic = flow.kind == FlowKind::Automatic;
    if automatic {
        if flow.for_whom.direct_reports || flow.for_whom.others.is_some() {
            out.push(FieldViolation::new(
                "for_whom",
                "automatic flows grant to their grantees only",
            ));
        }
    } else {
        if !flow.for_whom.themselves && !flow.for_whom.direct_reports && flow.for_whom.others.is_none() {
            out.push(FieldViolation::new(
                "for_whom",
                "choose at least one of themselves, direct reports or others",
            ));
        }
        if let Some(others) = &flow.for_whom.others {
            check_conditions("for_whom.others", others, &mut out);
        }
    }

    if flow.targets.is_empty() {
        out.push(FieldViolation::new("targets", "at least one target is required"));
    }
    for (i, target) in flow.targets.iter().enumerate() {
        let field = format!("targets[{i}]");
        if flow.space.is_some() && matches!(target, TargetSpec::Integration(_)) {
            out.push(FieldViolation::new(
                &field,
                "a flow in a space uses only that space's bundles and access scopes",
            ));
        }
        match target {
            TargetSpec::Integration(t) => {
                if t.integration.trim().is_empty() {
                    out.push(FieldViolation::new(
                        format!("{field}.integration.integration"),
                        "is required",
                    ));
                }
                if t.resource_type.trim().is_empty() {
                    out.push(FieldViolation::new(
                        format!("{field}.integration.resource_type"),
                        "is required",
                    ));
                }
                if t.permissions.is_empty() {
                    out.push(FieldViolation::new(
                        format!("{field}.integration.permissions"),
                        "at least one permission is required",
                    ));
                }
                if t.mode != SelectionModeSpec::Any
                    && t.resource_ids.is_empty()
                    && t.resource_names.is_empty()
                    && t.tags.is_empty()
                {
                    out.push(FieldViolation::new(
                        format!("{field}.integration.mode"),
                        "include and exclude need at least one id, name or tag",
                    ));
                }
                for (j, tag) in t.tags.iter().enumerate() {
                    if tag.key.trim().is_empty() || tag.values.iter().any(|v| v.trim().is_empty()) {
                        out.push(FieldViolation::new(
                            format!("{field}.integration.tags[{j}]"),
                            "a tag selector needs a key and non-empty values",
                        ));
                    }
                }
            }
            TargetSpec::Bundle(name) if name.trim().is_empty() => {
                out.push(FieldViolation::new(format!("{field}.bundle"), "is required"));
            }
            TargetSpec::Bundle(_) => {}
            TargetSpec::Scope { scope, permissions } => {
                if scope.trim().is_empty() {
                    out.push(FieldViolation::new(format!("{field}.scope.scope"), "is required"));
                }
                if permissions.is_empty() {
                    out.push(FieldViolation::new(
                        format!("{field}.scope.permissions"),
                        "at least one permission is required",
                    ));
                }
            }
        }
    }

    let maximum = flow.maximum();
    let settings = &flow.settings;
    if settings.require_duration && maximum.is_none() {
        out.push(FieldViolation::new(
            "settings.require_duration",
            "needs a maximum: grant_for must be a duration, not indefinite",
        ));
    }
    if let Some(extensions) = &settings.extensions {
        if !(1..=MAX_EXTENSIONS).contains(&extensions.max_count) {
            out.push(FieldViolation::new(
                "settings.extensions.max_count",
                format!("must be from 1 to {MAX_EXTENSIONS}"),
            ));
        }
        match maximum {
            Some(max) if extensions.extend_by > max => out.push(FieldViolation::new(
                "settings.extensions.extend_by",
                format!("must not exceed the flow maximum of {max}"),
            )),
            None => out.push(FieldViolation::new(
                "settings.extensions",
                "indefinite grants cannot be extended",
            )),
            _ => {}
        }
    }

    match &flow.approval {
        Approval::Automatic => {
            if settings.require_approver_reason {
                out.push(FieldViolation::new(
                    "settings.require_approver_reason",
                    "needs approval: the flow approves automatically",
                ));
            }
        }
        Approval::ApprovalOf { groups, .. } => {
            if automatic {
                out.push(FieldViolation::new("approval", "automatic flows have no approval"));
            }
            if groups.is_empty() {
                out.push(FieldViolation::new(
                    "approval.approval_of.groups",
                    "at least one approver group is required",
                ));
            }
            for (g, group) in groups.iter().enumerate() {
                let field = format!("approval.approval_of.groups[{g}]");
                if group.rows.is_empty() {
                    out.push(FieldViolation::new(
                        format!("{field}.rows"),
                        "at least one row is required",
                    ));
                }
                // The grantee has one manager: a group of only `manager` rows cannot supply two.
                let only_manager =
                    !group.rows.is_empty() && group.rows.iter().all(|r| matches!(r, ApproverRow::Manager));
                if only_manager && group.min_approvers > 1 {
                    out.push(FieldViolation::new(
                        format!("{field}.min_approvers"),
                        "a group whose only approver is the grantee's manager can supply one approver",
                    ));
                }
                if !(1..=MAX_MIN_APPROVERS).contains(&group.min_approvers) {
                    out.push(FieldViolation::new(
                        format!("{field}.min_approvers"),
                        format!("must be from 1 to {MAX_MIN_APPROVERS}"),
                    ));
                }
                for (r, row) in group.rows.iter().enumerate() {
                    match row {
                        ApproverRow::Condition { attribute, values, .. } => {
                            if let Attribute::Named(key) = attribute
                                && !is_valid_attribute_key(key)
                            {
                                out.push(FieldViolation::new(
                                    format!("{field}.rows[{r}].attribute"),
                                    format!("unknown attribute {key:?}"),
                                ));
                            }
                            if values.is_empty() || values.iter().any(|v| v.trim().is_empty()) {
                                out.push(FieldViolation::new(
                                    format!("{field}.rows[{r}].values"),
                                    "at least one non-empty value is required",
                                ));
                            }
                        }
                        ApproverRow::OnCall { schedules } if schedules.is_empty() => {
                            out.push(FieldViolation::new(
                                format!("{field}.rows[{r}].schedules"),
                                "name at least one schedule",
                            ));
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    if settings.post_use_review && (automatic || !matches!(flow.approval, Approval::Automatic)) {
        out.push(FieldViolation::new(
            "settings.post_use_review",
            "reviews access granted without prior approval: only self-serve flows that approve automatically",
        ));
    }
    if automatic {
        if settings.require_mfa {
            out.push(FieldViolation::new(
                "settings.require_mfa",
                "automatic flows have no MFA step",
            ));
        }
        if settings.require_justification == Some(true) {
            out.push(FieldViolation::new(
                "settings.require_justification",
                "automatic flows have no justification",
            ));
        }
        if settings.require_duration {
            out.push(FieldViolation::new(
                "settings.require_duration",
                "automatic flows grant while the grantee matches",
            ));
        }
        if settings.extensions.is_some() {
            out.push(FieldViolation::new(
                "settings.extensions",
                "automatic flows grant while the grantee matches",
            ));
        }
        if settings.no_self_approval {
            out.push(FieldViolation::new(
                "settings.no_self_approval",
                "automatic flows have no approval",
            ));
        }
    }
    if matches!(flow.grant_for, GrantFor::Indefinite) && automatic {
        // Automatic flows are standing by nature; indefinite is their natural setting: fine.
    }
    out
}

#[cfg(test)]
mod tests;
