//! Users: create, replace, delete, roles.

use std::sync::Arc;

use latch_runtime::{FieldViolation, ServiceError, ServiceResult};

use super::{IdentityService, check_version, conflict_or};
use crate::domain::change::ChangeKind;
use crate::domain::directory::{Directory, RoleName};
use crate::domain::user::{User, UserDraft};

impl IdentityService {
    pub fn get_user(&self, id_or_name: &str) -> ServiceResult<Arc<User>> {
        self.directory()
            .find_user(id_or_name)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound(format!("user {id_or_name:?}")))
    }

    /// Checks a draft against itself and the directory. `user_id` is the user being replaced.
    fn validate_user(directory: &Directory, draft: &UserDraft, user_id: Option<&str>) -> ServiceResult<()> {
        let mut violations = draft.validate("user");
        if let Some(existing) = directory.user_id_by_name(&draft.user_name)
            && Some(existing) != user_id
        {
            return Err(ServiceError::AlreadyExists(format!(
                "user with user_name {:?}",
                draft.user_name
            )));
        }
        if let Some(manager_id) = &draft.manager_id {
            if directory.user(manager_id).is_none() {
                violations.push(FieldViolation::new(
                    "user.manager_id",
                    format!("no user with id {manager_id:?}"),
                ));
            } else if let Some(user_id) = user_id
                && directory.manager_chain_contains(manager_id, user_id)
            {
                violations.push(FieldViolation::new(
                    "user.manager_id",
                    "would make the user their own (indirect) manager",
                ));
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::InvalidArgument(violations))
        }
    }

    pub async fn create_user(&self, actor: &str, draft: UserDraft, request_id: &str) -> ServiceResult<Arc<User>> {
        let draft = draft.normalized();
        let key = super::idempotency_key(actor, "users", request_id);
        let mut tx = self.begin_write(actor).await?;
        // Checked under the writer lock, so a retry racing the original sees its result.
        if let Some(resource) = self.store().idempotent_resource(&key).await? {
            return self.get_user(resource.trim_start_matches("users/"));
        }
        Self::validate_user(&self.directory(), &draft, None)?;
        let now = tx.now();
        let user = User {
            id: uuid::Uuid::now_v7().to_string(),
            user_name: draft.user_name,
            email: draft.email,
            display_name: draft.display_name,
            active: draft.active,
            attributes: draft.attributes,
            manager_id: draft.manager_id,
            external_id: draft.external_id,
            granted_roles: Vec::new(),
            scim_extra: draft.scim_extra,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        tx.put_user(&user, ChangeKind::UserUpserted)
            .await
            .map_err(|e| conflict_or(e, format!("user with user_name {:?}", user.user_name)))?;
        tx.remember_request(&key, &format!("users/{}", user.id)).await?;
        self.commit(tx).await?;
        self.get_user(&user.id)
    }

    /// Replaces every caller-settable field of a user. `expected_version` enforces optimistic
    /// concurrency when given. Unchanged drafts write nothing.
    pub async fn replace_user(
        &self,
        actor: &str,
        id: &str,
        draft: UserDraft,
        expected_version: Option<i64>,
    ) -> ServiceResult<Arc<User>> {
        let draft = draft.normalized();
        let mut tx = self.begin_write(actor).await?;
        let current = self.get_user(id)?;
        check_version("etag", expected_version, current.version)?;
        Self::validate_user(&self.directory(), &draft, Some(&current.id))?;
        if !draft.active && current.active {
            self.refuse_losing_last_admin(&current, "deactivate")?;
        }
        let updated = User {
            user_name: draft.user_name,
            email: draft.email,
            display_name: draft.display_name,
            active: draft.active,
            attributes: draft.attributes,
            manager_id: draft.manager_id,
            external_id: draft.external_id,
            scim_extra: draft.scim_extra,
            ..(*current).clone()
        };
        if updated == *current {
            return Ok(current);
        }
        let updated = User {
            updated_at: tx.now(),
            version: current.version + 1,
            ..updated
        };
        tx.put_user(&updated, ChangeKind::UserUpserted)
            .await
            .map_err(|e| conflict_or(e, format!("user with user_name {:?}", updated.user_name)))?;
        self.commit(tx).await?;
        self.get_user(&updated.id)
    }

    pub async fn delete_user(&self, actor: &str, id: &str, expected_version: Option<i64>) -> ServiceResult<()> {
        let mut tx = self.begin_write(actor).await?;
        let user = self.get_user(id)?;
        check_version("etag", expected_version, user.version)?;
        self.refuse_losing_last_admin(&user, "delete")?;
        // Reports keep no dangling manager link.
        let reports = self.directory().direct_reports(&user.id);
        for report in reports {
            let updated = User {
                manager_id: None,
                updated_at: tx.now(),
                version: report.version + 1,
                ..(*report).clone()
            };
            tx.put_user(&updated, ChangeKind::UserUpserted).await?;
        }
        // Nor does a schedule keep a deleted person on call.
        let schedules: Vec<_> = self
            .directory()
            .schedules_sorted()
            .into_iter()
            .filter(|s| s.members.contains(&user.id) || s.overrides.iter().any(|o| o.user_id == user.id))
            .collect();
        for schedule in schedules {
            let mut updated = (*schedule).clone();
            updated.members.retain(|m| m != &user.id);
            updated.overrides.retain(|o| o.user_id != user.id);
            updated.version += 1;
            updated.updated_at = tx.now();
            tx.put_schedule(&updated).await?;
        }
        tx.delete_user(&user).await?;
        self.commit(tx).await
    }

    fn refuse_losing_last_admin(&self, user: &User, verb: &str) -> ServiceResult<()> {
        let directory = self.directory();
        if user.active && directory.roles_of(&user.id).contains(&RoleName::Admin) && directory.admin_count() <= 1 {
            return Err(ServiceError::FailedPrecondition(format!(
                "cannot {verb} {}: it is the last active admin; make someone else admin first",
                user.user_name
            )));
        }
        Ok(())
    }

    pub async fn set_role(
        &self,
        actor: &str,
        user_id: &str,
        role: RoleName,
        granted: bool,
    ) -> ServiceResult<Arc<User>> {
        if role == RoleName::User {
            return Err(ServiceError::invalid(
                "role",
                "every user has the user role; grant admin or auditor",
            ));
        }
        let mut tx = self.begin_write(actor).await?;
        let user = self.get_user(user_id)?;
        let has = user.granted_roles.iter().any(|r| r == role.as_str());
        if has == granted {
            return Ok(user);
        }
        if !granted && role == RoleName::Admin {
            let directory = self.directory();
            let admins = directory.admin_count();
            let still_admin_by_group = {
                let mut without = (*user).clone();
                without.granted_roles.retain(|r| r != role.as_str());
                directory
                    .roles(&without, &directory.transitive_group_ids(&user.id))
                    .contains(&RoleName::Admin)
            };
            if admins <= 1 && !still_admin_by_group {
                return Err(ServiceError::FailedPrecondition(format!(
                    "cannot revoke admin from {}: it is the last active admin",
                    user.user_name
                )));
            }
        }
        let mut updated = (*user).clone();
        if granted {
            updated.granted_roles.push(role.as_str().to_string());
            updated.granted_roles.sort();
        } else {
            updated.granted_roles.retain(|r| r != role.as_str());
        }
        updated.version += 1;
        updated.updated_at = tx.now();
        let kind = if granted {
            ChangeKind::RoleGranted
        } else {
            ChangeKind::RoleRevoked
        };
        tx.put_user(&updated, kind).await?;
        self.commit(tx).await?;
        self.get_user(&updated.id)
    }
}
