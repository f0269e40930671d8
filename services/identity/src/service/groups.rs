//! Groups and their members; nesting is allowed, cycles are not.

use std::collections::BTreeSet;
use std::sync::Arc;

use latch_runtime::{FieldViolation, ServiceError, ServiceResult};

use super::{IdentityService, check_version, conflict_or};
use crate::domain::directory::Directory;
use crate::domain::group::{Group, Member, MemberKind, validate_display_name};
use crate::store::WriteTx;

/// What a caller may set on a group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupDraft {
    pub display_name: String,
    pub external_id: Option<String>,
    /// `None` leaves members as they are (on replace); `Some` sets them exactly.
    pub members: Option<Vec<Member>>,
}

impl IdentityService {
    /// Refuses a group change that would leave no active admin. Only when nobody holds admin by
    /// direct grant can a group change remove the last one; then the change is tried on a copy
    /// of the directory first.
    fn refuse_leaving_no_admin(&self, change: impl FnOnce(&mut Directory)) -> ServiceResult<()> {
        let directory = self.directory();
        if directory.granted_admin_count() > 0 || directory.admin_count() == 0 {
            return Ok(());
        }
        let mut trial = directory.clone();
        drop(directory);
        change(&mut trial);
        if trial.admin_count() == 0 {
            return Err(ServiceError::FailedPrecondition(
                "this change would leave no active admin; grant someone the admin role first".into(),
            ));
        }
        Ok(())
    }

    pub fn get_group(&self, id_or_name: &str) -> ServiceResult<Arc<Group>> {
        self.directory()
            .find_group(id_or_name)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound(format!("group {id_or_name:?}")))
    }

    fn validate_group(directory: &Directory, draft: &GroupDraft, group_id: Option<&str>) -> ServiceResult<()> {
        if let Some(violation) = validate_display_name("group.display_name", &draft.display_name) {
            return Err(ServiceError::InvalidArgument(vec![violation]));
        }
        if let Some(existing) = directory.find_group(&draft.display_name)
            && Some(existing.id.as_str()) != group_id
            && crate::domain::group::display_name_key(&existing.display_name)
                == crate::domain::group::display_name_key(&draft.display_name)
        {
            return Err(ServiceError::AlreadyExists(format!(
                "group named {:?}",
                draft.display_name.trim()
            )));
        }
        let violations: Vec<_> = draft
            .members
            .iter()
            .flatten()
            .enumerate()
            .filter_map(|(index, member)| {
                Self::member_violation(
                    directory,
                    group_id.unwrap_or(""),
                    member,
                    &format!("group.members[{index}]"),
                )
            })
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::InvalidArgument(violations))
        }
    }

    fn member_violation(directory: &Directory, group_id: &str, member: &Member, field: &str) -> Option<FieldViolation> {
        match member.kind {
            MemberKind::User if directory.user(&member.id).is_none() => Some(FieldViolation::new(
                format!("{field}.id"),
                format!("no user with id {:?}", member.id),
            )),
            MemberKind::Group if directory.group(&member.id).is_none() => Some(FieldViolation::new(
                format!("{field}.id"),
                format!("no group with id {:?}", member.id),
            )),
            MemberKind::Group if directory.would_create_cycle(group_id, &member.id) => Some(FieldViolation::new(
                format!("{field}.id"),
                format!(
                    "group {:?} contains this group already; nesting it here would make a cycle",
                    member.id
                ),
            )),
            _ => None,
        }
    }

    pub async fn create_group(&self, actor: &str, draft: GroupDraft, request_id: &str) -> ServiceResult<Arc<Group>> {
        let key = super::idempotency_key(actor, "groups", request_id);
        let mut tx = self.begin_write(actor).await?;
        if let Some(resource) = self.store().idempotent_resource(&key).await? {
            return self.get_group(resource.trim_start_matches("groups/"));
        }
        let now = tx.now();
        let group = Group {
            id: uuid::Uuid::now_v7().to_string(),
            display_name: draft.display_name.trim().to_string(),
            external_id: draft.external_id.clone(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        // A new group has no parents, so members cannot close a cycle; check with its id.
        Self::validate_group(&self.directory(), &draft, Some(&group.id))?;
        tx.put_group(&group)
            .await
            .map_err(|e| conflict_or(e, format!("group named {:?}", group.display_name)))?;
        for member in draft.members.iter().flatten() {
            tx.add_member(&group.id, member).await?;
        }
        tx.remember_request(&key, &format!("groups/{}", group.id)).await?;
        self.commit(tx).await?;
        self.get_group(&group.id)
    }

    pub async fn replace_group(
        &self,
        actor: &str,
        id: &str,
        draft: GroupDraft,
        expected_version: Option<i64>,
    ) -> ServiceResult<Arc<Group>> {
        let mut tx = self.begin_write(actor).await?;
        let current = self.get_group(id)?;
        check_version("etag", expected_version, current.version)?;
        Self::validate_group(&self.directory(), &draft, Some(&current.id))?;
        self.refuse_leaving_no_admin(|trial| {
            let mut renamed = (*current).clone();
            renamed.display_name = draft.display_name.trim().to_string();
            trial.upsert_group(renamed);
            if let Some(members) = &draft.members {
                let (users, groups) = trial.members(&current.id);
                for id in users {
                    trial.remove_member(&current.id, MemberKind::User, &id);
                }
                for id in groups {
                    trial.remove_member(&current.id, MemberKind::Group, &id);
                }
                for member in members {
                    trial.add_member(&current.id, member.kind, &member.id);
                }
            }
        })?;
        let renamed = Group {
            display_name: draft.display_name.trim().to_string(),
            external_id: draft.external_id.clone(),
            ..(*current).clone()
        };
        let mut changed = renamed != *current;
        if let Some(members) = &draft.members {
            changed |= self.write_member_diff(&mut tx, &current.id, members).await?;
        }
        if !changed {
            return Ok(current);
        }
        // Membership is part of the group's version, so concurrent patches cannot lose members.
        let updated = Group {
            updated_at: tx.now(),
            version: current.version + 1,
            ..renamed
        };
        tx.put_group(&updated)
            .await
            .map_err(|e| conflict_or(e, format!("group named {:?}", updated.display_name)))?;
        self.commit(tx).await?;
        self.get_group(&current.id)
    }

    async fn write_member_diff(&self, tx: &mut WriteTx<'_>, group_id: &str, wanted: &[Member]) -> ServiceResult<bool> {
        let (users, groups) = self.directory().members(group_id);
        let current: BTreeSet<Member> = users
            .into_iter()
            .map(|id| Member {
                kind: MemberKind::User,
                id,
            })
            .chain(groups.into_iter().map(|id| Member {
                kind: MemberKind::Group,
                id,
            }))
            .collect();
        let wanted: BTreeSet<Member> = wanted.iter().cloned().collect();
        let mut changed = false;
        for member in current.difference(&wanted) {
            changed |= tx.remove_member(group_id, member).await?;
        }
        for member in wanted.difference(&current) {
            changed |= tx.add_member(group_id, member).await?;
        }
        Ok(changed)
    }

    pub async fn delete_group(&self, actor: &str, id: &str) -> ServiceResult<()> {
        let mut tx = self.begin_write(actor).await?;
        let group = self.get_group(id)?;
        self.refuse_leaving_no_admin(|trial| trial.remove_group(&group.id))?;
        tx.delete_group(&group).await?;
        self.commit(tx).await
    }

    /// Adds (`true`) and removes (`false`) members in order, in one transaction. Adding a
    /// member already present or removing one absent changes nothing.
    pub async fn change_members(
        &self,
        actor: &str,
        group_id: &str,
        changes: &[(Member, bool)],
    ) -> ServiceResult<Arc<Group>> {
        let mut tx = self.begin_write(actor).await?;
        let group = self.get_group(group_id)?;
        let violations: Vec<_> = {
            let directory = self.directory();
            changes
                .iter()
                .enumerate()
                .filter(|(_, (_, add))| *add)
                .filter_map(|(i, (m, _))| Self::member_violation(&directory, &group.id, m, &format!("members[{i}]")))
                .collect()
        };
        if !violations.is_empty() {
            return Err(ServiceError::InvalidArgument(violations));
        }
        self.refuse_leaving_no_admin(|trial| {
            for (member, add) in changes {
                if *add {
                    trial.add_member(&group.id, member.kind, &member.id);
                } else {
                    trial.remove_member(&group.id, member.kind, &member.id);
                }
            }
        })?;
        let mut changed = false;
        for (member, add) in changes {
            changed |= if *add {
                tx.add_member(&group.id, member).await?
            } else {
                tx.remove_member(&group.id, member).await?
            };
        }
        self.finish_membership_change(tx, &group, changed).await
    }

    /// Adds members; those already present are left alone.
    pub async fn add_members(&self, actor: &str, group_id: &str, members: &[Member]) -> ServiceResult<Arc<Group>> {
        let mut tx = self.begin_write(actor).await?;
        let group = self.get_group(group_id)?;
        let violations: Vec<_> = {
            let directory = self.directory();
            members
                .iter()
                .enumerate()
                .filter_map(|(i, m)| Self::member_violation(&directory, &group.id, m, &format!("members[{i}]")))
                .collect()
        };
        if !violations.is_empty() {
            return Err(ServiceError::InvalidArgument(violations));
        }
        let mut changed = false;
        for member in members {
            changed |= tx.add_member(&group.id, member).await?;
        }
        self.finish_membership_change(tx, &group, changed).await
    }

    /// Removes members; those not present are ignored.
    pub async fn remove_members(&self, actor: &str, group_id: &str, members: &[Member]) -> ServiceResult<Arc<Group>> {
        let mut tx = self.begin_write(actor).await?;
        let group = self.get_group(group_id)?;
        self.refuse_leaving_no_admin(|trial| {
            for member in members {
                trial.remove_member(&group.id, member.kind, &member.id);
            }
        })?;
        let mut changed = false;
        for member in members {
            changed |= tx.remove_member(&group.id, member).await?;
        }
        self.finish_membership_change(tx, &group, changed).await
    }

    /// Bumps the group's version when its members changed, and commits.
    async fn finish_membership_change(
        &self,
        mut tx: WriteTx<'_>,
        group: &Group,
        changed: bool,
    ) -> ServiceResult<Arc<Group>> {
        if !changed {
            return self.get_group(&group.id);
        }
        let updated = Group {
            updated_at: tx.now(),
            version: group.version + 1,
            ..group.clone()
        };
        tx.put_group(&updated).await?;
        self.commit(tx).await?;
        self.get_group(&group.id)
    }
}
