//! Who may change what: admins everything, a space's admins only their space.

use latch_runtime::{Caller, ServiceError, ServiceResult};

use super::CatalogService;
use crate::domain::principal::Principal;

/// Who is acting, as the catalog needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub user_name: String,
    pub is_admin: bool,
}

impl Actor {
    pub fn from_caller(caller: &Caller) -> Self {
        Self {
            user_id: caller.user_id.clone(),
            user_name: caller.user_name.clone(),
            is_admin: caller.is_admin(),
        }
    }

    /// Who the change feed names: `users/{id}`, or `system/{name}` for Latch itself.
    pub fn feed_name(&self) -> String {
        if self.user_id.is_empty() {
            format!("system/{}", self.user_name)
        } else {
            format!("users/{}", self.user_id)
        }
    }

    /// Latch itself (scheduled syncs).
    pub fn system(name: &str) -> Self {
        Self {
            user_id: String::new(),
            user_name: name.into(),
            is_admin: true,
        }
    }
}

impl CatalogService {
    /// Admins may change anything; otherwise only objects of a space the actor administers.
    pub(super) async fn require_manager(&self, actor: &Actor, space: Option<&str>) -> ServiceResult<()> {
        if actor.is_admin {
            return Ok(());
        }
        let denied = || {
            ServiceError::PermissionDenied(match space {
                Some(_) => format!("{} is not an admin of this space", actor.user_name),
                None => format!(
                    "{} is not an admin; global catalog objects need the admin role",
                    actor.user_name
                ),
            })
        };
        let Some(space_id) = space else { return Err(denied()) };
        let Some(space) = self.state().spaces.get(space_id).cloned() else {
            return Err(denied());
        };
        if space
            .admins
            .iter()
            .any(|a| matches!(a, Principal::User(id) if *id == actor.user_id))
        {
            return Ok(());
        }
        let groups = self.inner.directory.groups_of(&actor.user_id).await?;
        if space
            .admins
            .iter()
            .any(|a| matches!(a, Principal::Group(id) if groups.contains(id)))
        {
            return Ok(());
        }
        Err(denied())
    }
}
