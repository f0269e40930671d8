//! `IdentityInternal`: what the other Latch services ask of identity, with their own service
//! credential. The auth layer admits only the services latchd allows; calls that act for a user
//! name the user in the request and are checked here against the calling service.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use latch_proto::common::v1::{ListAuditOutboxRequest, ListAuditOutboxResponse};
use latch_proto::identity::v1 as pb;
use latch_proto::identity::v1::identity_internal_server::{IdentityInternal, IdentityInternalServer};
use latch_runtime::audit::outbox_wire;
use latch_runtime::auth::{Authenticator, TokenScope, caller};
use latch_runtime::pagination::{PageScope, page_size_or};
use latch_runtime::service_identity::ServiceName;
use latch_runtime::{Caller, ServiceError, ServiceResult};
use tonic::{Request, Response, Status};

use super::convert;
use crate::service::{IdentityService, LocalAuthenticator};

/// The longest token, id or name an internal request may carry.
const MAX_TOKEN_CHARS: usize = 512;
const MAX_ID_CHARS: usize = 256;
const MAX_MFA_CODE_CHARS: usize = 16;
const MAX_BATCH: usize = 1000;
const DEFAULT_PAGE: usize = 500;

pub struct IdentityInternalGrpc {
    service: IdentityService,
    authenticator: LocalAuthenticator,
}

impl IdentityInternalGrpc {
    pub fn new(service: IdentityService) -> Self {
        Self {
            authenticator: LocalAuthenticator::new(service.clone()),
            service,
        }
    }

    pub fn into_server(self) -> IdentityInternalServer<Self> {
        IdentityInternalServer::new(self)
    }
}

type GrpcResult<T> = Result<Response<T>, Status>;

fn bounded<'a>(field: &str, value: &'a str, max: usize) -> ServiceResult<&'a str> {
    if value.chars().count() > max {
        // Never echo the value: it may be a secret.
        return Err(ServiceError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(value.trim())
}

fn min_sequence(value: i64) -> ServiceResult<i64> {
    if value < 0 {
        return Err(ServiceError::invalid("min_sequence", "must not be negative"));
    }
    Ok(value)
}

/// Only `allowed` services may make this call (the gate admitted the caller to the service).
fn require_service(caller: &Caller, allowed: &[ServiceName]) -> ServiceResult<()> {
    match caller.service_name() {
        Some(name) if allowed.contains(&name) => Ok(()),
        _ => Err(ServiceError::PermissionDenied(format!(
            "this call is for the {} service",
            allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

#[tonic::async_trait]
impl IdentityInternal for IdentityInternalGrpc {
    async fn authenticate(&self, request: Request<pb::AuthenticateRequest>) -> GrpcResult<pb::AuthenticateResponse> {
        caller(&request)?;
        let token = bounded("token", &request.get_ref().token, MAX_TOKEN_CHARS)?;
        let found = self.authenticator.authenticate(token).await?;
        let scope = match found.scope {
            TokenScope::Api => pb::api_token::Scope::Api,
            TokenScope::Scim => pb::api_token::Scope::Scim,
            TokenScope::Service(_) => pb::api_token::Scope::Unspecified,
        };
        Ok(Response::new(pb::AuthenticateResponse {
            user_id: found.user_id,
            user_name: found.user_name,
            token_id: found.token_id,
            roles: found.roles.iter().map(|r| *r as i32).collect(),
            scope: scope as i32,
        }))
    }

    async fn get_subject_facts(
        &self,
        request: Request<pb::GetSubjectFactsRequest>,
    ) -> GrpcResult<pb::GetSubjectFactsResponse> {
        caller(&request)?;
        let request = request.get_ref();
        let user = bounded("user", &request.user, MAX_ID_CHARS)?;
        let sequence = self.service.reach_sequence(min_sequence(request.min_sequence)?).await?;
        let directory = self.service.directory();
        let facts = directory
            .find_user(user)
            .filter(|u| u.active)
            .map(|u| convert::subject_facts(&directory, u));
        Ok(Response::new(pb::GetSubjectFactsResponse { facts, sequence }))
    }

    async fn batch_get_subject_facts(
        &self,
        request: Request<pb::BatchGetSubjectFactsRequest>,
    ) -> GrpcResult<pb::BatchGetSubjectFactsResponse> {
        caller(&request)?;
        let request = request.get_ref();
        if request.user_ids.len() > MAX_BATCH {
            return Err(ServiceError::invalid("user_ids", format!("must hold at most {MAX_BATCH} ids")).into());
        }
        for (i, id) in request.user_ids.iter().enumerate() {
            bounded(&format!("user_ids[{i}]"), id, MAX_ID_CHARS)?;
        }
        let sequence = self.service.reach_sequence(min_sequence(request.min_sequence)?).await?;
        let directory = self.service.directory();
        let facts = request
            .user_ids
            .iter()
            .filter_map(|id| directory.user(id))
            .filter(|u| u.active)
            .map(|u| convert::subject_facts(&directory, u))
            .collect();
        Ok(Response::new(pb::BatchGetSubjectFactsResponse { facts, sequence }))
    }

    async fn list_subject_facts(
        &self,
        request: Request<pb::ListSubjectFactsRequest>,
    ) -> GrpcResult<pb::ListSubjectFactsResponse> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let size = page_size_or(request.page_size, DEFAULT_PAGE, MAX_BATCH)?;
        let scope = PageScope::new("identity.internal.subjects", &caller.user_name, ());
        let after = scope.open(&request.page_token)?;
        let sequence = self.service.reach_sequence(min_sequence(request.min_sequence)?).await?;
        let users = self.service.active_users_after(after.as_deref(), size);
        let next_page_token = match users.last() {
            Some(last) if users.len() == size => scope.seal(&last.id),
            _ => String::new(),
        };
        let directory = self.service.directory();
        let facts = users.iter().map(|u| convert::subject_facts(&directory, u)).collect();
        Ok(Response::new(pb::ListSubjectFactsResponse {
            facts,
            next_page_token,
            sequence,
        }))
    }

    async fn get_feed_position(
        &self,
        request: Request<pb::GetFeedPositionRequest>,
    ) -> GrpcResult<pb::GetFeedPositionResponse> {
        caller(&request)?;
        // What other replicas committed counts too: a consumer catching up wants all of it.
        self.service.catch_up().await?;
        let sequence = self.service.directory().sequence();
        Ok(Response::new(pb::GetFeedPositionResponse { sequence }))
    }

    async fn get_schedule_on_call(
        &self,
        request: Request<pb::GetScheduleOnCallRequest>,
    ) -> GrpcResult<pb::GetScheduleOnCallResponse> {
        caller(&request)?;
        let request = request.get_ref();
        let schedule = bounded("schedule", &request.schedule, MAX_ID_CHARS)?;
        let at = convert::optional_instant("at", request.at.as_ref(), self.service.now())?;
        let directory = self.service.directory();
        let Some(found) = directory.find_schedule(schedule) else {
            return Ok(Response::new(pb::GetScheduleOnCallResponse::default()));
        };
        let user_ids = directory
            .on_call(&found.id, at)
            .map(|on_call| vec![on_call.user_id])
            .unwrap_or_default();
        Ok(Response::new(pb::GetScheduleOnCallResponse {
            schedule_exists: true,
            user_ids,
        }))
    }

    async fn verify_user_mfa(
        &self,
        request: Request<pb::VerifyUserMfaRequest>,
    ) -> GrpcResult<pb::VerifyUserMfaResponse> {
        let caller = caller(&request)?;
        // Only the request service acts for a user who submits or approves with MFA.
        require_service(&caller, &[ServiceName::Request])?;
        let request = request.get_ref();
        let user_id = bounded("user_id", &request.user_id, MAX_ID_CHARS)?;
        if user_id.is_empty() {
            return Err(ServiceError::invalid("user_id", "is required: the user the service acts for").into());
        }
        let code = bounded("code", &request.code, MAX_MFA_CODE_CHARS)?;
        let verified = self.service.verify_mfa(user_id, code).await?;
        Ok(Response::new(pb::VerifyUserMfaResponse { verified }))
    }

    async fn list_reviewers(
        &self,
        request: Request<pb::ListReviewersRequest>,
    ) -> GrpcResult<pb::ListReviewersResponse> {
        caller(&request)?;
        let reviewers = self.service.reviewers();
        let directory = self.service.directory();
        let reviewers = reviewers
            .iter()
            .map(|u| convert::subject_facts(&directory, u))
            .collect();
        Ok(Response::new(pb::ListReviewersResponse { reviewers }))
    }

    async fn list_user_group_ids(
        &self,
        request: Request<pb::ListUserGroupIdsRequest>,
    ) -> GrpcResult<pb::ListUserGroupIdsResponse> {
        caller(&request)?;
        let user_id = bounded("user_id", &request.get_ref().user_id, MAX_ID_CHARS)?;
        let mut group_ids: Vec<String> = self
            .service
            .directory()
            .transitive_group_ids(user_id)
            .into_iter()
            .map(str::to_string)
            .collect();
        group_ids.sort();
        Ok(Response::new(pb::ListUserGroupIdsResponse { group_ids }))
    }

    async fn resolve_principal(
        &self,
        request: Request<pb::ResolvePrincipalRequest>,
    ) -> GrpcResult<pb::ResolvePrincipalResponse> {
        caller(&request)?;
        let request = request.get_ref();
        let name = bounded("id_or_name", &request.id_or_name, MAX_ID_CHARS)?;
        let directory = self.service.directory();
        use pb::resolve_principal_request::Kind;
        let id = match Kind::try_from(request.kind) {
            Ok(Kind::User) => directory.find_user(name).map(|u| u.id.clone()),
            Ok(Kind::Group) => directory.find_group(name).map(|g| g.id.clone()),
            _ => return Err(ServiceError::invalid("kind", "must be KIND_USER or KIND_GROUP").into()),
        };
        Ok(Response::new(pb::ResolvePrincipalResponse {
            id: id.unwrap_or_default(),
        }))
    }

    type WatchChangesStream = Pin<Box<dyn Stream<Item = Result<pb::Change, Status>> + Send + 'static>>;

    async fn watch_changes(&self, request: Request<pb::WatchChangesRequest>) -> GrpcResult<Self::WatchChangesStream> {
        caller(&request)?;
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
    async fn list_audit_outbox(&self, request: Request<ListAuditOutboxRequest>) -> GrpcResult<ListAuditOutboxResponse> {
        outbox_wire::require_audit_log(&request)?;
        let (after, limit) = outbox_wire::page(request.get_ref())?;
        let entries = self.service.audit_outbox(after, limit).await?;
        Ok(Response::new(outbox_wire::response(after, &entries)))
    }
}
