//! Schedule RPCs.

use latch_proto::identity::v1 as pb;
use latch_runtime::Caller;
use latch_runtime::auth::caller;
use latch_runtime::pagination::{Page, PageScope};
use latch_runtime::{ServiceError, ServiceResult};
use tonic::{Request, Response, Status};

use super::{IdentityGrpc, convert, etag_version};
use crate::service::ScheduleDraft;

impl IdentityGrpc {
    /// A schedule draft from the API; rotation members may be named by user name.
    fn schedule_draft(&self, schedule: &pb::Schedule) -> ScheduleDraft {
        let rotation = schedule.rotation.clone().unwrap_or_default();
        let members = {
            let directory = self.service.directory();
            rotation
                .members
                .iter()
                .map(|m| directory.find_user(m).map_or_else(|| m.clone(), |u| u.id.clone()))
                .collect()
        };
        ScheduleDraft {
            display_name: schedule.display_name.clone(),
            time_zone: schedule.time_zone.clone(),
            members,
            shift_hours: rotation.shift_hours,
            handoff_time: rotation.handoff_time,
            start_date: rotation.start_date,
        }
    }

    pub(super) async fn create_schedule_impl(
        &self,
        request: Request<pb::CreateScheduleRequest>,
    ) -> Result<Response<pb::Schedule>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.get_ref();
        let schedule = request
            .schedule
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("schedule", "is required"))?;
        let draft = self.schedule_draft(schedule);
        let created = self
            .service
            .put_schedule(&caller.actor(), None, draft, &request.request_id, None)
            .await?;
        Ok(Response::new(convert::schedule(&created)))
    }

    pub(super) async fn update_schedule_impl(
        &self,
        request: Request<pb::UpdateScheduleRequest>,
    ) -> Result<Response<pb::Schedule>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let schedule = request
            .get_ref()
            .schedule
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("schedule", "is required"))?;
        let id = if schedule.id.is_empty() {
            schedule.name.trim_start_matches("schedules/")
        } else {
            schedule.id.as_str()
        };
        let current = self.service.get_schedule(id)?;
        let version = etag_version("schedule.etag", &schedule.etag)?;
        let draft = self.schedule_draft(schedule);
        let updated = self
            .service
            .put_schedule(&caller.actor(), Some(&current.id), draft, "", version)
            .await?;
        Ok(Response::new(convert::schedule(&updated)))
    }

    pub(super) async fn remove_override_impl(
        &self,
        request: Request<pb::RemoveScheduleOverrideRequest>,
    ) -> Result<Response<pb::Schedule>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.get_ref();
        let schedule = self
            .service
            .remove_override(&caller.actor(), &request.schedule_id, &request.override_id)
            .await?;
        Ok(Response::new(convert::schedule(&schedule)))
    }

    pub(super) async fn add_override_impl(
        &self,
        request: Request<pb::AddScheduleOverrideRequest>,
    ) -> Result<Response<pb::Schedule>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.get_ref();
        let entry = request
            .r#override
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("override", "is required"))?;
        let start = entry
            .start_time
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("override.start_time", "is required"))
            .and_then(|t| convert::from_timestamp("override.start_time", t))?;
        let end = entry
            .end_time
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("override.end_time", "is required"))
            .and_then(|t| convert::from_timestamp("override.end_time", t))?;
        let schedule = self
            .service
            .add_override(&caller.actor(), &request.schedule_id, &entry.user_id, start, end)
            .await?;
        Ok(Response::new(convert::schedule(&schedule)))
    }

    pub(super) fn list_schedules_impl(
        &self,
        caller: &Caller,
        request: &pb::ListSchedulesRequest,
    ) -> ServiceResult<pb::ListSchedulesResponse> {
        let scope = PageScope::new("identity.schedules", &caller.user_id, ());
        let page = Page::parse(request.page_size, &request.page_token, &scope)?;
        let all = self.service.directory().schedules_sorted();
        let (schedules, next_page_token) = page.fill(&all, &scope, |s| convert::schedule(s));
        Ok(pb::ListSchedulesResponse {
            schedules,
            next_page_token,
        })
    }

    pub(super) fn get_on_call_impl(&self, request: &pb::GetOnCallRequest) -> ServiceResult<pb::GetOnCallResponse> {
        let at = convert::optional_instant("at", request.at.as_ref(), self.service.now())?;
        let Some(on_call) = self.service.on_call(&request.schedule_id, at)? else {
            return Ok(pb::GetOnCallResponse::default());
        };
        let directory = self.service.directory();
        Ok(pb::GetOnCallResponse {
            user: directory.user(&on_call.user_id).map(|u| convert::user_ref(u)),
            shift_end: Some(convert::timestamp(on_call.shift_end)),
            from_override: on_call.from_override,
        })
    }
}
