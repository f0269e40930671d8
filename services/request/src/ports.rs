//! What the request context needs from the others: flows evaluate, identity knows people and
//! verifies MFA, the catalog knows resources and which connector serves them. Flows are reached
//! over their gRPC contracts ([`crate::peers`]), in this process or another.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use latch_connector_sdk::Connector;
use latch_policy::conditions::Facts;
use latch_policy::duration::Span;
use latch_runtime::audit::outbox::OutboxEntry;
use latch_runtime::{Caller, ServiceResult};

use crate::domain::flows::{Asked, AutomaticFlow, Decision, FlowSummary, Generation};

#[async_trait::async_trait]
pub trait Flows: Send + Sync {
    /// Every covering flow's decision for `actor` asking for `grantee` (empty: themselves), and
    /// the chosen flow's approval policy from the same evaluation.
    async fn decide(
        &self,
        actor: &Caller,
        grantee: &str,
        asked: &Asked,
        duration: Option<Span>,
        at: DateTime<Utc>,
        flow: &str,
    ) -> ServiceResult<Decision>;

    /// Automatic flows in force now, with the items each grants and its policy.
    async fn automatic(&self) -> ServiceResult<Vec<AutomaticFlow>>;

    /// The automatic flows granting to `user` now (none for an unknown or inactive user).
    async fn automatic_for(&self, user: &str) -> ServiceResult<Vec<String>>;

    /// Every automatic flow in force and the users it grants to now.
    async fn automatic_grantees(&self) -> ServiceResult<Vec<(String, Vec<String>)>>;

    /// The users one automatic flow grants to now (none when it is not in force).
    async fn grantees_of(&self, flow_id: &str) -> ServiceResult<Vec<String>>;

    /// Moves whenever flows, or what their targets resolve to, change.
    async fn generation(&self) -> ServiceResult<Generation>;

    /// Every flow as stored now (for insights and flow status).
    async fn all(&self) -> ServiceResult<Vec<FlowSummary>>;

    /// Brings the flow service up to date with what other replicas wrote.
    async fn catch_up(&self) -> ServiceResult<()>;
}

/// A change in the directory, as the reconciler and the audit log read it.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryChange {
    pub sequence: i64,
    pub at: DateTime<Utc>,
    /// `user_upserted`, `member_added`, …
    pub kind: String,
    /// `users/{id}`, `groups/{id}`, `schedules/{id}`.
    pub resource: String,
    pub actor: String,
    /// Users whose facts this change may have changed.
    pub users: Vec<String>,
    /// Whether it may change the facts of users it does not name (a group renamed, deleted or
    /// nested into another).
    pub broad: bool,
    /// The state after the change (before, for deletions).
    pub payload: serde_json::Value,
}

#[async_trait::async_trait]
pub trait People: Send + Sync {
    /// An active user's facts, by id or user name.
    async fn facts(&self, user: &str) -> ServiceResult<Option<Facts>>;
    /// Active users, for naming who may approve.
    async fn everyone(&self) -> ServiceResult<Vec<Facts>>;
    /// Visits active users ordered by user name until `visit` returns false (no copies).
    async fn scan(&self, visit: &mut (dyn for<'f> FnMut(&'f Facts) -> bool + Send)) -> ServiceResult<()>;
    /// The active users `manager_id` manages directly.
    async fn reports_of(&self, manager_id: &str) -> ServiceResult<Vec<String>>;
    /// Who is on call for a schedule (id or name) at `at`.
    async fn on_call(&self, schedule: &str, at: DateTime<Utc>) -> ServiceResult<Vec<String>>;
    /// Checks a TOTP code of `user_id` (counts failures, refuses replays).
    async fn verify_mfa(&self, user_id: &str, code: &str) -> ServiceResult<bool>;
    /// Brings this process's directory up to date with what other replicas wrote.
    async fn catch_up(&self) -> ServiceResult<()>;
    /// Admins and auditors (who review break-glass use).
    async fn reviewers(&self) -> ServiceResult<Vec<Facts>>;
    /// Every directory change after `after`, in order and without gaps, then live ones.
    fn watch(&self, after: i64) -> BoxStream<'static, ServiceResult<DirectoryChange>>;
}

/// A requested resource as the catalog knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceInfo {
    pub integration_name: String,
    pub resource_type: String,
    pub name: String,
    /// Owners: user ids and group ids.
    pub owners: Vec<String>,
}

#[async_trait::async_trait]
pub trait Targets: Send + Sync {
    async fn resource(&self, integration_id: &str, resource_id: &str) -> ServiceResult<ResourceInfo>;
    /// An integration's (id, name), by id or name; NOT_FOUND when there is none.
    async fn integration(&self, id_or_name: &str) -> ServiceResult<(String, String)>;
    /// The connector serving an integration, reached through the catalog: calls take an empty
    /// config (the catalog supplies the integration's config and secrets, which the request
    /// context never holds).
    async fn connector(&self, integration_id: &str) -> ServiceResult<Arc<dyn Connector>>;
}

/// A context's audit outbox (`ListAuditOutbox` on its internal service).
#[async_trait::async_trait]
pub trait AuditOutbox: Send + Sync {
    /// Up to `limit` entries after `after`, in order and without gaps. Asking after `after`
    /// tells the context every entry up to it is in the log and may be deleted.
    async fn audit_outbox(&self, after: i64, limit: u32) -> ServiceResult<Vec<OutboxEntry>>;
}

/// One context whose audit outbox the log follows.
#[derive(Clone)]
pub struct AuditSource {
    /// `identity`, `catalog`, `flow`: names the cursor (`audit:outbox:{name}`).
    pub name: &'static str,
    pub outbox: Arc<dyn AuditOutbox>,
}

#[derive(Clone)]
pub struct Ports {
    pub flows: Arc<dyn Flows>,
    pub people: Arc<dyn People>,
    pub targets: Arc<dyn Targets>,
    /// The contexts that record admin changes in an outbox.
    pub audit_sources: Vec<AuditSource>,
}
