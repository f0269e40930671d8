//! What the request context needs from the others: flows evaluate, identity knows people and
//! verifies MFA, the catalog knows resources and which connector serves them. `latchd` answers
//! these in-process; tests answer them with the real services too.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use latch_connector_sdk::{Config, Connector};
use latch_flow::domain::conditions::Facts;
use latch_flow::domain::duration::Span;
use latch_flow::domain::model::FlowSpec;
use latch_flow::service::EvaluationAnswer;
use latch_flow::service::queries_public::Asked;
use latch_runtime::{Caller, ServiceResult};

#[async_trait::async_trait]
pub trait Flows: Send + Sync {
    /// Every covering flow's decision for `caller` asking for `grantee` (empty: themselves).
    async fn evaluate(
        &self,
        caller: &Caller,
        grantee: &str,
        asked: &Asked,
        duration: Option<Span>,
        at: DateTime<Utc>,
        flow: &str,
    ) -> ServiceResult<EvaluationAnswer>;

    /// The flow as it is now (approval policy and settings are copied into each request).
    fn spec(&self, flow_id: &str) -> ServiceResult<FlowSpec>;
}

#[async_trait::async_trait]
pub trait People: Send + Sync {
    /// An active user's facts, by id or user name.
    async fn facts(&self, user: &str) -> ServiceResult<Option<Facts>>;
    /// Active users, for naming who may approve.
    async fn everyone(&self) -> ServiceResult<Vec<Facts>>;
    /// Who is on call for a schedule (id or name) at `at`.
    async fn on_call(&self, schedule: &str, at: DateTime<Utc>) -> ServiceResult<Vec<String>>;
    /// Checks a TOTP code of `user_id` (counts failures, refuses replays).
    async fn verify_mfa(&self, user_id: &str, code: &str) -> ServiceResult<bool>;
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
    /// The connector serving an integration and the full config its calls need.
    async fn connector(&self, integration_id: &str) -> ServiceResult<(Arc<dyn Connector>, Config)>;
}

#[derive(Clone)]
pub struct Ports {
    pub flows: Arc<dyn Flows>,
    pub people: Arc<dyn People>,
    pub targets: Arc<dyn Targets>,
}
