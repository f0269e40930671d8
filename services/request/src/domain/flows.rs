//! Flows as the request context sees them, in its own terms: what the flow service decides on a
//! request, and what it says of automatic flows and every flow. The flow service sends these
//! over its contract; nothing here is the flow context's own model.

use chrono::{DateTime, Utc};
use latch_policy::approval::Approval;
use latch_policy::duration::Span;

use super::policy::Policy;

/// One concrete thing access is asked for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Item {
    pub integration_id: String,
    pub resource_id: String,
    pub permission: String,
}

/// What a request asks for before the catalog resolves it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asked {
    pub items: Vec<Item>,
    pub bundle: String,
    pub scope: String,
    pub scope_permissions: Vec<String>,
}

/// What the allowing flow imposes on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowance {
    pub flow_id: String,
    pub flow_name: String,
    /// How long access lasts once granted; `None` for indefinite.
    pub duration: Option<Span>,
    pub needs_approval: bool,
    pub approvals_needed: u32,
    pub require_mfa: bool,
    pub require_justification: bool,
    pub require_approver_reason: bool,
    pub no_self_approval: bool,
}

/// The approval policy a request carries, as read and as it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySnapshot {
    pub policy: Policy,
    /// The text the request's `policy` column holds (see [`crate::policy_snapshot`]).
    pub stored: String,
}

/// The flow a request goes under and its policy, both from one evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub allowance: Allowance,
    pub snapshot: PolicySnapshot,
}

/// A covering flow that does not allow the request, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub flow_id: String,
    pub flow_name: String,
    pub reasons: Vec<String>,
}

/// The flow service's answer on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The concrete items, bundles and scopes resolved.
    pub items: Vec<Item>,
    pub chosen: Option<Chosen>,
    pub refusals: Vec<Refusal>,
}

/// An automatic flow in force, the items it grants and the policy its requests carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomaticFlow {
    pub id: String,
    pub name: String,
    pub items: Vec<Item>,
    pub snapshot: PolicySnapshot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    SelfServe,
    Automatic,
}

/// A flow as stored now, for insights and flow status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSummary {
    pub id: String,
    pub name: String,
    pub kind: FlowKind,
    pub active: bool,
    /// The longest grant; `None` for indefinite.
    pub maximum: Option<Span>,
    pub approval: Approval,
    pub created_at: DateTime<Utc>,
}

/// Where flows stand: moves whenever flows, or what their targets resolve to, change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Generation {
    pub flow_store_version: i64,
    pub catalog_version: i64,
}
