//! What the catalog needs to know about people, asked of the identity context.

use latch_runtime::ServiceResult;

use crate::domain::principal::Principal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    Group,
}

/// The identity context as the catalog sees it. In one process this calls the identity service
/// directly; split deployments implement it over `latch.identity.v1`.
#[async_trait::async_trait]
pub trait PrincipalDirectory: Send + Sync + 'static {
    /// A user or group by id or name, as stored ids; `None` when there is no such principal.
    async fn resolve(&self, kind: PrincipalKind, id_or_name: &str) -> ServiceResult<Option<Principal>>;
    /// Every group the user belongs to, directly or through nesting.
    async fn groups_of(&self, user_id: &str) -> ServiceResult<Vec<String>>;
}
