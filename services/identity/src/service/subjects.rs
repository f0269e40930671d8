//! What other contexts ask of the directory about people: active users a page at a time,
//! reviewers, and answers no older than a sequence they have already seen in the feed.

use std::sync::Arc;

use latch_runtime::ServiceResult;

use super::IdentityService;
use crate::domain::directory::RoleName;
use crate::domain::user::User;

impl IdentityService {
    /// Brings the directory up to `sequence` first when it is behind (a consumer that saw a
    /// change in the feed, read from the table, must not get facts from before it).
    pub async fn reach_sequence(&self, sequence: i64) -> ServiceResult<i64> {
        if self.directory().sequence() < sequence {
            self.catch_up().await?;
        }
        Ok(self.directory().sequence())
    }

    /// Up to `limit` active users with ids after `after` (all when `None`), ordered by id.
    pub fn active_users_after(&self, after: Option<&str>, limit: usize) -> Vec<Arc<User>> {
        let directory = self.directory();
        let mut users: Vec<Arc<User>> = directory
            .users_sorted()
            .into_iter()
            .filter(|u| u.active && after.is_none_or(|after| u.id.as_str() > after))
            .collect();
        users.sort_by(|a, b| a.id.cmp(&b.id));
        users.truncate(limit);
        users
    }

    /// Active users holding the admin or auditor role (who review break-glass use).
    pub fn reviewers(&self) -> Vec<Arc<User>> {
        let directory = self.directory();
        directory
            .users_sorted()
            .into_iter()
            .filter(|u| u.active)
            .filter(|u| {
                directory
                    .roles_of(&u.id)
                    .iter()
                    .any(|r| matches!(r, RoleName::Admin | RoleName::Auditor))
            })
            .collect()
    }
}
