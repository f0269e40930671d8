//! The gRPC adapter: proto in, domain call, proto out. Authorization is decided here from the
//! caller the auth layer attached; the service below trusts its callers.

mod convert;
mod internal;
mod schedules;
mod users;

use std::pin::Pin;

use futures::{Stream, StreamExt};
use latch_proto::identity::v1 as pb;
use latch_proto::identity::v1::identity_service_server::IdentityService as IdentityApi;
use latch_runtime::auth::caller;
use latch_runtime::{ServiceError, ServiceResult};
use tonic::{Request, Response, Status};

use crate::service::{IdentityService, SCOPE_API, SCOPE_SCIM, parse_import_document_blocking};

pub use convert::{from_timestamp, timestamp};
pub use internal::IdentityInternalGrpc;
pub use latch_proto::identity::v1::identity_service_server::IdentityServiceServer;

#[derive(Debug, Clone)]
pub struct IdentityGrpc {
    service: IdentityService,
}

impl IdentityGrpc {
    pub fn new(service: IdentityService) -> Self {
        Self { service }
    }

    pub fn into_server(self) -> IdentityServiceServer<Self> {
        IdentityServiceServer::new(self)
    }
}

type GrpcResult<T> = Result<Response<T>, Status>;

fn respond<T>(result: ServiceResult<T>) -> GrpcResult<T> {
    result.map(Response::new).map_err(Status::from)
}

use latch_runtime::wire::etag_version;

#[tonic::async_trait]
impl IdentityApi for IdentityGrpc {
    async fn who_am_i(&self, request: Request<pb::WhoAmIRequest>) -> GrpcResult<pb::WhoAmIResponse> {
        let caller = caller(&request)?;
        let user = self.service.get_user(&caller.user_id)?;
        let directory = self.service.directory();
        respond(Ok(pb::WhoAmIResponse {
            user: Some(convert::user(&user, &directory)),
            roles: caller.roles.iter().map(|r| *r as i32).collect(),
            token_id: caller.token_id.clone(),
        }))
    }

    async fn create_user(&self, request: Request<pb::CreateUserRequest>) -> GrpcResult<pb::User> {
        self.create_user_impl(request).await
    }

    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> GrpcResult<pb::User> {
        caller(&request)?;
        let user = self.service.get_user(&request.get_ref().id)?;
        respond(Ok(convert::user(&user, &self.service.directory())))
    }

    async fn list_users(&self, request: Request<pb::ListUsersRequest>) -> GrpcResult<pb::ListUsersResponse> {
        let caller = caller(&request)?;
        respond(self.list_users_impl(&caller, request.get_ref()))
    }

    async fn update_user(&self, request: Request<pb::UpdateUserRequest>) -> GrpcResult<pb::User> {
        self.update_user_impl(request).await
    }

    async fn delete_user(&self, request: Request<pb::DeleteUserRequest>) -> GrpcResult<pb::DeleteUserResponse> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.get_ref();
        let version = etag_version("etag", &request.etag)?;
        self.service.delete_user(&caller.actor(), &request.id, version).await?;
        respond(Ok(pb::DeleteUserResponse {}))
    }

    async fn create_group(&self, request: Request<pb::CreateGroupRequest>) -> GrpcResult<pb::Group> {
        self.create_group_impl(request).await
    }

    async fn get_group(&self, request: Request<pb::GetGroupRequest>) -> GrpcResult<pb::Group> {
        caller(&request)?;
        let group = self.service.get_group(&request.get_ref().id)?;
        respond(Ok(convert::group(&group, &self.service.directory())))
    }

    async fn list_groups(&self, request: Request<pb::ListGroupsRequest>) -> GrpcResult<pb::ListGroupsResponse> {
        let caller = caller(&request)?;
        respond(self.list_groups_impl(&caller, request.get_ref()))
    }

    async fn delete_group(&self, request: Request<pb::DeleteGroupRequest>) -> GrpcResult<pb::DeleteGroupResponse> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        self.service
            .delete_group(&caller.actor(), &request.get_ref().id)
            .await?;
        respond(Ok(pb::DeleteGroupResponse {}))
    }

    async fn add_group_member(&self, request: Request<pb::AddGroupMemberRequest>) -> GrpcResult<pb::Group> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.get_ref();
        let member = convert::member("member", request.member.as_ref(), &self.service.directory())?;
        let group = self
            .service
            .add_members(&caller.actor(), &request.group_id, &[member])
            .await?;
        respond(Ok(convert::group(&group, &self.service.directory())))
    }

    async fn remove_group_member(&self, request: Request<pb::RemoveGroupMemberRequest>) -> GrpcResult<pb::Group> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.get_ref();
        let member = convert::member("member", request.member.as_ref(), &self.service.directory())?;
        let group = self
            .service
            .remove_members(&caller.actor(), &request.group_id, &[member])
            .await?;
        respond(Ok(convert::group(&group, &self.service.directory())))
    }

    async fn resolve_subject(&self, request: Request<pb::ResolveSubjectRequest>) -> GrpcResult<pb::Subject> {
        caller(&request)?;
        respond(self.resolve_subject_impl(request.get_ref()))
    }

    async fn list_direct_reports(
        &self,
        request: Request<pb::ListDirectReportsRequest>,
    ) -> GrpcResult<pb::ListDirectReportsResponse> {
        caller(&request)?;
        let user = self.service.get_user(&request.get_ref().user_id)?;
        let users = self
            .service
            .directory()
            .direct_reports(&user.id)
            .iter()
            .map(|u| convert::user_ref(u))
            .collect();
        respond(Ok(pb::ListDirectReportsResponse { users }))
    }

    async fn is_direct_report(
        &self,
        request: Request<pb::IsDirectReportRequest>,
    ) -> GrpcResult<pb::IsDirectReportResponse> {
        caller(&request)?;
        let request = request.get_ref();
        let user = self.service.get_user(&request.user_id)?;
        let manager = self.service.get_user(&request.manager_id)?;
        let direct_report = self.service.directory().is_direct_report(&user.id, &manager.id);
        respond(Ok(pb::IsDirectReportResponse { direct_report }))
    }

    async fn create_schedule(&self, request: Request<pb::CreateScheduleRequest>) -> GrpcResult<pb::Schedule> {
        self.create_schedule_impl(request).await
    }

    async fn get_schedule(&self, request: Request<pb::GetScheduleRequest>) -> GrpcResult<pb::Schedule> {
        caller(&request)?;
        let schedule = self.service.get_schedule(&request.get_ref().id)?;
        respond(Ok(convert::schedule(&schedule)))
    }

    async fn list_schedules(
        &self,
        request: Request<pb::ListSchedulesRequest>,
    ) -> GrpcResult<pb::ListSchedulesResponse> {
        let caller = caller(&request)?;
        respond(self.list_schedules_impl(&caller, request.get_ref()))
    }

    async fn delete_schedule(
        &self,
        request: Request<pb::DeleteScheduleRequest>,
    ) -> GrpcResult<pb::DeleteScheduleResponse> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        self.service
            .delete_schedule(&caller.actor(), &request.get_ref().id)
            .await?;
        respond(Ok(pb::DeleteScheduleResponse {}))
    }

    async fn update_schedule(&self, request: Request<pb::UpdateScheduleRequest>) -> GrpcResult<pb::Schedule> {
        self.update_schedule_impl(request).await
    }

    async fn remove_schedule_override(
        &self,
        request: Request<pb::RemoveScheduleOverrideRequest>,
    ) -> GrpcResult<pb::Schedule> {
        self.remove_override_impl(request).await
    }

    async fn add_schedule_override(
        &self,
        request: Request<pb::AddScheduleOverrideRequest>,
    ) -> GrpcResult<pb::Schedule> {
        self.add_override_impl(request).await
    }

    async fn get_on_call(&self, request: Request<pb::GetOnCallRequest>) -> GrpcResult<pb::GetOnCallResponse> {
        caller(&request)?;
        respond(self.get_on_call_impl(request.get_ref()))
    }

    async fn list_on_call_schedules(
        &self,
        request: Request<pb::ListOnCallSchedulesRequest>,
    ) -> GrpcResult<pb::ListOnCallSchedulesResponse> {
        caller(&request)?;
        let request = request.get_ref();
        let at = convert::optional_instant("at", request.at.as_ref(), self.service.now())?;
        let schedules = self.service.on_call_schedules(&request.user_id, at)?;
        respond(Ok(pb::ListOnCallSchedulesResponse {
            schedules: schedules.iter().map(|s| convert::schedule_ref(s)).collect(),
        }))
    }

    async fn enroll_mfa(&self, request: Request<pb::EnrollMfaRequest>) -> GrpcResult<pb::EnrollMfaResponse> {
        let caller = caller(&request)?;
        let enrollment = self
            .service
            .enroll_mfa(&caller.user_id, &request.get_ref().code)
            .await?;
        respond(Ok(pb::EnrollMfaResponse {
            otpauth_uri: enrollment.otpauth_uri,
            secret: enrollment.secret_base32,
        }))
    }

    async fn verify_mfa(&self, request: Request<pb::VerifyMfaRequest>) -> GrpcResult<pb::VerifyMfaResponse> {
        let caller = caller(&request)?;
        let verified = self
            .service
            .verify_mfa(&caller.user_id, &request.get_ref().code)
            .await?;
        respond(Ok(pb::VerifyMfaResponse { verified }))
    }

    async fn reset_mfa(&self, request: Request<pb::ResetMfaRequest>) -> GrpcResult<pb::ResetMfaResponse> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let reset = self.service.reset_mfa(&request.get_ref().user_id).await?;
        respond(Ok(pb::ResetMfaResponse { reset }))
    }

    async fn create_token(&self, request: Request<pb::CreateTokenRequest>) -> GrpcResult<pb::CreateTokenResponse> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let scope = match pb::api_token::Scope::try_from(request.scope) {
            Ok(pb::api_token::Scope::Scim) => {
                caller.require_admin()?;
                SCOPE_SCIM
            }
            Ok(pb::api_token::Scope::Api | pb::api_token::Scope::Unspecified) => SCOPE_API,
            Err(_) => return Err(ServiceError::invalid("scope", "must be SCOPE_API or SCOPE_SCIM").into()),
        };
        let owner = if request.user_id.is_empty() {
            caller.user_id.clone()
        } else {
            let owner = self.service.get_user(&request.user_id)?;
            if owner.id != caller.user_id {
                caller.require_admin()?;
            }
            owner.id.clone()
        };
        let expires_at = request
            .expire_time
            .as_ref()
            .map(|t| from_timestamp("expire_time", t))
            .transpose()?;
        let created = self
            .service
            .create_token_by(&caller, &owner, &request.description, scope, expires_at)
            .await?;
        respond(Ok(pb::CreateTokenResponse {
            token: Some(convert::token(&created.record)),
            secret: created.secret,
        }))
    }

    async fn list_tokens(&self, request: Request<pb::ListTokensRequest>) -> GrpcResult<pb::ListTokensResponse> {
        let caller = caller(&request)?;
        let owner = if request.get_ref().all_users {
            caller.require_admin()?;
            None
        } else {
            Some(caller.user_id.as_str())
        };
        let tokens = self.service.list_tokens(owner).await?;
        respond(Ok(pb::ListTokensResponse {
            tokens: tokens.iter().map(convert::token).collect(),
        }))
    }

    async fn revoke_token(&self, request: Request<pb::RevokeTokenRequest>) -> GrpcResult<pb::ApiToken> {
        let caller = caller(&request)?;
        let record = self.service.revoke_token(&caller, &request.get_ref().id).await?;
        respond(Ok(convert::token(&record)))
    }

    async fn grant_role(&self, request: Request<pb::GrantRoleRequest>) -> GrpcResult<pb::User> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.get_ref();
        let role = convert::role_name("role", request.role)?;
        let user = self.service.get_user(&request.user_id)?;
        let user = self.service.set_role(&caller.actor(), &user.id, role, true).await?;
        respond(Ok(convert::user(&user, &self.service.directory())))
    }

    async fn revoke_role(&self, request: Request<pb::RevokeRoleRequest>) -> GrpcResult<pb::User> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.get_ref();
        let role = convert::role_name("role", request.role)?;
        let user = self.service.get_user(&request.user_id)?;
        let user = self.service.set_role(&caller.actor(), &user.id, role, false).await?;
        respond(Ok(convert::user(&user, &self.service.directory())))
    }

    async fn import_directory(
        &self,
        request: Request<pb::ImportDirectoryRequest>,
    ) -> GrpcResult<pb::ImportDirectoryResponse> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.get_ref();
        let document = parse_import_document_blocking(&request.document).await?;
        let report = self
            .service
            .import_directory(&format!("import:{}", caller.actor()), &document, request.dry_run)
            .await?;
        respond(Ok(pb::ImportDirectoryResponse {
            created: report.created,
            changed: report.changed,
            unchanged: report.unchanged as i32,
        }))
    }

    type WatchChangesStream = Pin<Box<dyn Stream<Item = Result<pb::Change, Status>> + Send + 'static>>;

    async fn watch_changes(&self, request: Request<pb::WatchChangesRequest>) -> GrpcResult<Self::WatchChangesStream> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let after = request.get_ref().after_sequence;
        if after < 0 {
            return Err(ServiceError::invalid("after_sequence", "must not be negative").into());
        }
        let stream = self
            .service
            .watch_changes(after)
            .map(|item| item.map(|change| convert::change(&change)).map_err(Status::from));
        Ok(Response::new(Box::pin(stream)))
    }
}
