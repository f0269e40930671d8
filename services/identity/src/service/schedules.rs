//! On-call schedules: rotations, overrides, and who is on call when.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use latch_runtime::{FieldViolation, ServiceError, ServiceResult};

use super::{IdentityService, check_version, conflict_or};
use crate::domain::directory::Directory;
use crate::domain::group::{display_name_key, validate_display_name};
use crate::domain::oncall::{self, OnCall};
use crate::domain::schedule::{OverrideRecord, ScheduleRecord};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleDraft {
    pub display_name: String,
    pub time_zone: String,
    pub members: Vec<String>,
    pub shift_hours: u32,
    pub handoff_time: String,
    pub start_date: String,
}

impl IdentityService {
    pub fn get_schedule(&self, id_or_name: &str) -> ServiceResult<Arc<ScheduleRecord>> {
        self.directory()
            .find_schedule(id_or_name)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound(format!("schedule {id_or_name:?}")))
    }

    fn validate_schedule(directory: &Directory, record: &ScheduleRecord) -> ServiceResult<()> {
        let mut violations = Vec::new();
        if let Some(violation) = validate_display_name("schedule.display_name", &record.display_name) {
            violations.push(violation);
        } else if let Some(existing) = directory.find_schedule(&record.display_name)
            && existing.id != record.id
            && display_name_key(&existing.display_name) == display_name_key(&record.display_name)
        {
            return Err(ServiceError::AlreadyExists(format!(
                "schedule named {:?}",
                record.display_name
            )));
        }
        if let Err(rotation_violations) = record.rotation() {
            violations.extend(rotation_violations);
        }
        for (index, member) in record.members.iter().enumerate() {
            if directory.user(member).is_none() {
                violations.push(FieldViolation::new(
                    format!("schedule.rotation.members[{index}]"),
                    format!("no user with id {member:?}"),
                ));
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::InvalidArgument(violations))
        }
    }

    /// Creates a schedule, or replaces the rotation of the one with this id when `id` is given.
    pub async fn put_schedule(
        &self,
        actor: &str,
        id: Option<&str>,
        draft: ScheduleDraft,
        request_id: &str,
        expected_version: Option<i64>,
    ) -> ServiceResult<Arc<ScheduleRecord>> {
        let key = super::idempotency_key(actor, "schedules", if id.is_none() { request_id } else { "" });
        let mut tx = self.begin_write(actor).await?;
        if let Some(resource) = self.store().idempotent_resource(&key).await? {
            return self.get_schedule(resource.trim_start_matches("schedules/"));
        }
        let now = tx.now();
        let current = id.map(|id| self.get_schedule(id)).transpose()?;
        if let Some(current) = &current {
            check_version("etag", expected_version, current.version)?;
        }
        let record = ScheduleRecord {
            id: current
                .as_ref()
                .map_or_else(|| uuid::Uuid::now_v7().to_string(), |c| c.id.clone()),
            display_name: draft.display_name.trim().to_string(),
            time_zone: draft.time_zone.trim().to_string(),
            members: draft.members,
            shift_hours: draft.shift_hours,
            handoff_time: draft.handoff_time.trim().to_string(),
            start_date: draft.start_date.trim().to_string(),
            overrides: current.as_ref().map(|c| c.overrides.clone()).unwrap_or_default(),
            created_at: current.as_ref().map_or(now, |c| c.created_at),
            updated_at: now,
            version: current.as_ref().map_or(1, |c| c.version + 1),
        };
        Self::validate_schedule(&self.directory(), &record)?;
        if let Some(current) = &current {
            let unchanged = ScheduleRecord {
                updated_at: current.updated_at,
                version: current.version,
                ..record.clone()
            };
            if unchanged == **current {
                return Ok(current.clone());
            }
        }
        tx.put_schedule(&record)
            .await
            .map_err(|e| conflict_or(e, format!("schedule named {:?}", record.display_name)))?;
        tx.remember_request(&key, &format!("schedules/{}", record.id)).await?;
        self.commit(tx).await?;
        self.get_schedule(&record.id)
    }

    pub async fn delete_schedule(&self, actor: &str, id: &str) -> ServiceResult<()> {
        let mut tx = self.begin_write(actor).await?;
        let schedule = self.get_schedule(id)?;
        tx.delete_schedule(&schedule).await?;
        self.commit(tx).await
    }

    pub async fn add_override(
        &self,
        actor: &str,
        schedule_id: &str,
        user_id: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> ServiceResult<Arc<ScheduleRecord>> {
        let mut tx = self.begin_write(actor).await?;
        let schedule = self.get_schedule(schedule_id)?;
        let user = self.directory().find_user(user_id).cloned().ok_or_else(|| {
            ServiceError::invalid("override.user_id", format!("no user with id or user name {user_id:?}"))
        })?;
        let candidate = oncall::Override {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user.id.clone(),
            start,
            end,
        };
        candidate.validate().map_err(|e| {
            ServiceError::invalid(
                format!("override.{}", e.field.trim_start_matches("override.")),
                e.message,
            )
        })?;
        let mut updated = (*schedule).clone();
        updated.overrides.push(OverrideRecord {
            id: candidate.id,
            user_id: user.id.clone(),
            start,
            end,
        });
        updated.version += 1;
        updated.updated_at = tx.now();
        tx.put_schedule(&updated).await?;
        self.commit(tx).await?;
        self.get_schedule(&updated.id)
    }

    pub async fn remove_override(
        &self,
        actor: &str,
        schedule_id: &str,
        override_id: &str,
    ) -> ServiceResult<Arc<ScheduleRecord>> {
        let mut tx = self.begin_write(actor).await?;
        let schedule = self.get_schedule(schedule_id)?;
        let mut updated = (*schedule).clone();
        updated.overrides.retain(|o| o.id != override_id);
        if updated.overrides.len() == schedule.overrides.len() {
            return Err(ServiceError::NotFound(format!(
                "override {override_id:?} of schedule {}",
                schedule.display_name
            )));
        }
        updated.version += 1;
        updated.updated_at = tx.now();
        tx.put_schedule(&updated).await?;
        self.commit(tx).await?;
        self.get_schedule(&updated.id)
    }

    pub fn on_call(&self, schedule_id: &str, at: DateTime<Utc>) -> ServiceResult<Option<OnCall>> {
        let schedule = self.get_schedule(schedule_id)?;
        Ok(self.directory().on_call(&schedule.id, at))
    }

    pub fn on_call_schedules(&self, user_id: &str, at: DateTime<Utc>) -> ServiceResult<Vec<Arc<ScheduleRecord>>> {
        let user = self.get_user(user_id)?;
        Ok(self.directory().on_call_schedules(&user.id, at))
    }
}
