//! How a request is approved and what it allows afterwards: approver groups, extensions and
//! the settings a request carries with it. Flows write these; requests keep a copy.

use serde::{Deserialize, Serialize};

use crate::conditions::{Combine, Operator};
use crate::duration::Span;

/// The longest reason an approver may give (the reference product allows 124 characters).
pub const MAX_APPROVER_REASON: usize = 124;

/// Who may approve, as one row of an approver group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApproverRow {
    /// People or groups (by id or name), or an identity attribute, with an operator.
    Condition {
        attribute: crate::conditions::Attribute,
        operator: Operator,
        values: Vec<String>,
    },
    /// The grantee's manager in the identity provider.
    Manager,
    /// An owner of each requested resource (from the catalog).
    ResourceOwner,
    /// Whoever is on call for one of these schedules when they act.
    OnCall { schedules: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApproverGroup {
    #[serde(default)]
    pub combine: Combine,
    pub rows: Vec<ApproverRow>,
    /// Distinct approvers this group needs (beyond the reference product; default 1).
    #[serde(default = "one")]
    pub min_approvers: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcrossGroups {
    /// One approver from any group.
    #[default]
    AnyOf,
    /// One approver (or `min_approvers`) from every group.
    AllOf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    #[default]
    Automatic,
    ApprovalOf {
        groups: Vec<ApproverGroup>,
        #[serde(default)]
        across: AcrossGroups,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extensions {
    /// 1 to 10.
    pub max_count: u32,
    /// Each extension's length; 30 minutes by default, at most the flow's maximum.
    #[serde(default = "half_hour")]
    pub extend_by: Span,
}

fn half_hour() -> Span {
    Span::MINUTE.times(30)
}

impl Span {
    pub fn times(self, n: u64) -> Span {
        Span::seconds(self.as_seconds().saturating_mul(n.max(1))).unwrap_or(self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Settings {
    #[serde(default)]
    pub require_mfa: bool,
    /// Defaults to true for self-serve flows (see [`FlowSpec::normalized`]).
    #[serde(default)]
    pub require_justification: Option<bool>,
    #[serde(default)]
    pub require_approver_reason: bool,
    #[serde(default)]
    pub no_self_approval: bool,
    #[serde(default)]
    pub extensions: Option<Extensions>,
    /// Requestors state a duration up to the maximum.
    #[serde(default)]
    pub require_duration: bool,
    /// Break-glass: access granted without prior approval is reviewed afterwards; Latch lists
    /// and reminds about unreviewed uses until a reviewer signs off or flags them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub post_use_review: bool,
}
