//! The flow context's view of people, answered in this process.

use latch_flow::domain::conditions::Facts;
use latch_flow::ports::People;
use latch_identity::IdentityService;
use latch_identity::domain::user::User;
use latch_runtime::ServiceResult;

pub struct LocalPeople {
    identity: IdentityService,
}

impl LocalPeople {
    pub fn new(identity: IdentityService) -> Self {
        Self { identity }
    }

    pub(crate) fn identity(&self) -> &IdentityService {
        &self.identity
    }
}

pub(crate) fn facts(directory: &latch_identity::domain::directory::Directory, user: &User) -> Facts {
    let groups = directory
        .transitive_group_ids(&user.id)
        .into_iter()
        .filter_map(|id| directory.group(id).map(|g| (g.id.clone(), g.display_name.clone())))
        .collect();
    Facts {
        user_id: user.id.clone(),
        user_name: user.user_name.clone(),
        email: user.email.clone(),
        groups,
        attributes: user.attributes.clone(),
        manager_id: user.manager_id.clone(),
    }
}

#[async_trait::async_trait]
impl People for LocalPeople {
    async fn facts(&self, user: &str) -> ServiceResult<Option<Facts>> {
        let directory = self.identity.directory();
        Ok(directory
            .find_user(user)
            .filter(|u| u.active)
            .map(|u| facts(&directory, u)))
    }

    async fn schedule_exists(&self, schedule: &str) -> ServiceResult<bool> {
        Ok(self.identity.directory().find_schedule(schedule).is_some())
    }

    async fn everyone(&self) -> ServiceResult<Vec<Facts>> {
        let directory = self.identity.directory();
        Ok(directory
            .users_sorted()
            .iter()
            .filter(|u| u.active)
            .map(|u| facts(&directory, u))
            .collect())
    }
}
