//! What the flow context asks of the other contexts. In one process these call the identity and
//! catalog services directly; split deployments implement them over gRPC.

use latch_runtime::ServiceResult;

use crate::domain::conditions::Facts;
use crate::domain::evaluate::Item;
use crate::domain::model::TargetSpec;

#[async_trait::async_trait]
pub trait People: Send + Sync + 'static {
    /// A user's facts by id or user name; `None` when there is no such (active) user.
    async fn facts(&self, user: &str) -> ServiceResult<Option<Facts>>;
    /// Every active user's facts (for Explain and automatic flows).
    async fn everyone(&self) -> ServiceResult<Vec<Facts>>;
    /// Whether an on-call schedule exists (by id or name).
    async fn schedule_exists(&self, schedule: &str) -> ServiceResult<bool>;
}

#[async_trait::async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// The items targets cover now; violations name `targets[i]…` fields.
    async fn resolve(&self, targets: &[TargetSpec], space: Option<&str>) -> ServiceResult<Vec<Item>>;
    /// The space a bundle or scope target belongs to (`None`: global, or not a bundle/scope).
    async fn space_of(&self, target: &TargetSpec) -> ServiceResult<Option<String>>;
    /// An integration's id by id or name; `None` when there is no such integration.
    async fn integration_id(&self, integration: &str) -> ServiceResult<Option<String>>;
    /// A space's id by id or name; `None` when there is no such space.
    async fn space_id(&self, space: &str) -> ServiceResult<Option<String>>;
    /// Whether the user administers the space.
    async fn is_space_admin(&self, user_id: &str, space_id: &str) -> ServiceResult<bool>;
    /// Whether the user administers at least one space (and so may manage some flows).
    async fn administers_any_space(&self, user_id: &str) -> ServiceResult<bool>;
    /// A counter that moves whenever resolution results may change (syncs, tags, bundles…).
    fn version(&self) -> i64;
}
