//! The catalog's view of people, answered by the identity service in the same process.

use latch_catalog::directory::{PrincipalDirectory, PrincipalKind};
use latch_catalog::domain::principal::Principal;
use latch_identity::IdentityService;
use latch_runtime::ServiceResult;

pub struct LocalDirectory {
    identity: IdentityService,
}

impl LocalDirectory {
    pub fn new(identity: IdentityService) -> Self {
        Self { identity }
    }
}

#[async_trait::async_trait]
impl PrincipalDirectory for LocalDirectory {
    async fn resolve(&self, kind: PrincipalKind, id_or_name: &str) -> ServiceResult<Option<Principal>> {
        let directory = self.identity.directory();
        Ok(match kind {
            PrincipalKind::User => directory.find_user(id_or_name).map(|u| Principal::User(u.id.clone())),
            PrincipalKind::Group => directory.find_group(id_or_name).map(|g| Principal::Group(g.id.clone())),
        })
    }

    async fn groups_of(&self, user_id: &str) -> ServiceResult<Vec<String>> {
        Ok(self
            .identity
            .directory()
            .transitive_group_ids(user_id)
            .into_iter()
            .map(str::to_string)
            .collect())
    }
}
