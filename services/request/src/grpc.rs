//! The gRPC adapter of the request context.

use latch_policy::duration::Span;
use latch_proto::request::v1 as pb;
use latch_proto::request::v1::request_service_server::RequestService as RequestApi;
use latch_runtime::auth::caller;
use latch_runtime::pagination::{PageScope, page_size_or};
use latch_runtime::wire::{etag, instant, timestamp};
use latch_runtime::{ServiceError, ServiceResult};
use tonic::{Request, Response, Status};

use crate::domain::flows::{Asked, Item};
use crate::service::{CredentialView, Policy, RequestService, RequestView, Submission};
use crate::store::requests::{RequestRow, parse_state, state_name};

pub use latch_proto::request::v1::request_service_server::RequestServiceServer;

#[derive(Debug, Clone)]
pub struct RequestGrpc {
    service: RequestService,
}

impl RequestGrpc {
    pub fn new(service: RequestService) -> Self {
        Self { service }
    }

    pub fn into_server(self) -> RequestServiceServer<Self> {
        RequestServiceServer::new(self)
    }
}

fn span_text(seconds: Option<i64>) -> String {
    seconds
        .and_then(|s| Span::seconds(s as u64))
        .map(|s| s.to_string())
        .unwrap_or_default()
}

pub fn summary(request: &RequestRow) -> pb::AccessRequest {
    let policy = Policy::parse(&request.policy).ok();
    let extensions = policy.as_ref().and_then(|p| p.settings.extensions.clone());
    pb::AccessRequest {
        id: request.id.clone(),
        requester_id: request.requester_id.clone(),
        grantee_id: request.grantee_id.clone(),
        flow_id: request.flow_id.clone(),
        flow_name: request.flow_name.clone(),
        state: state_name(request.state).into(),
        justification: request.justification.clone(),
        duration: span_text(request.duration_secs),
        start_time: request.starts_at.map(timestamp),
        approval_deadline: request.approval_deadline.map(timestamp),
        grant_time: request.granted_at.map(timestamp),
        end_time: request.ends_at.map(timestamp),
        extensions_used: request.extensions_used,
        extensions_allowed: extensions.as_ref().map_or(0, |e| e.max_count as i32),
        extend_by: extensions.map(|e| e.extend_by.to_string()).unwrap_or_default(),
        outcome: request.outcome.clone(),
        create_time: Some(timestamp(request.created_at)),
        update_time: Some(timestamp(request.updated_at)),
        etag: etag(request.version),
        client_request_id: request.client_request_id.clone(),
        require_approver_reason: policy.is_some_and(|p| p.settings.require_approver_reason),
        ..Default::default()
    }
}

fn item(view: &crate::store::requests::ItemRow) -> pb::RequestItem {
    pb::RequestItem {
        integration_id: view.integration_id.clone(),
        integration_name: view.integration_name.clone(),
        resource_id: view.resource_id.clone(),
        resource_type: view.resource_type.clone(),
        resource_name: view.resource_name.clone(),
        permission: view.permission.clone(),
        state: view.state.as_str().into(),
        ..Default::default()
    }
}

pub fn detail(view: &RequestView) -> pb::AccessRequest {
    let mut out = summary(&view.request);
    out.items = view
        .items
        .iter()
        .map(|v| pb::RequestItem {
            grant_state: v.grant_state.clone(),
            error: v.error.clone(),
            account: v.account.clone(),
            ..item(&v.item)
        })
        .collect();
    out.decisions = view
        .approvals
        .iter()
        .map(|a| pb::Decision {
            approver_id: a.approver_id.clone(),
            approver_name: a.approver_name.clone(),
            decision: a.decision.clone(),
            reason: a.reason.clone(),
            decide_time: Some(timestamp(a.decided_at)),
        })
        .collect();
    out.history = view
        .history
        .iter()
        .map(|e| pb::HistoryEvent {
            seq: e.seq,
            time: Some(timestamp(e.at)),
            actor: e.actor.clone(),
            kind: e.kind.clone(),
            state: e.state.clone(),
            detail: e.detail.clone(),
        })
        .collect();
    out.waiting = view.waiting.clone();
    out.can_approve = view.can_approve;
    out.requester_name = view.requester_name.clone();
    out.grantee_name = view.grantee_name.clone();
    out
}

fn credential(view: CredentialView) -> pb::Credential {
    pb::Credential {
        item: Some(item(&view.item)),
        account: view.account,
        credentials: view.credentials.into_iter().collect(),
        expire_time: view.expires_at.map(timestamp),
    }
}

fn submission(request: pb::SubmitRequestRequest) -> ServiceResult<Submission> {
    let duration = match request.duration.trim() {
        "" => None,
        text => Some(Span::parse(text).map_err(|rule| ServiceError::invalid("duration", rule))?),
    };
    let mut items = Vec::with_capacity(request.items.len());
    for (i, it) in request.items.iter().enumerate() {
        for (field, value) in [
            ("integration", &it.integration),
            ("resource_id", &it.resource_id),
            ("permission", &it.permission),
        ] {
            if value.trim().is_empty() {
                return Err(ServiceError::invalid(format!("items[{i}].{field}"), "is required"));
            }
        }
        items.push(Item {
            integration_id: it.integration.trim().to_string(),
            resource_id: it.resource_id.trim().to_string(),
            permission: it.permission.trim().to_string(),
        });
    }
    Ok(Submission {
        client_request_id: request.request_id,
        grantee: request.grantee,
        asked: Asked {
            items,
            bundle: request.bundle,
            scope: request.scope,
            scope_permissions: request.scope_permissions,
        },
        duration,
        justification: request.justification,
        flow: request.flow,
        starts_at: instant("start_time", request.start_time.as_ref())?,
        mfa_code: request.mfa_code,
    })
}

fn required_id(id: &str) -> Result<&str, Status> {
    let id = id.trim();
    if id.is_empty() {
        return Err(ServiceError::invalid("id", "is required").into());
    }
    Ok(id)
}

#[tonic::async_trait]
impl RequestApi for RequestGrpc {
    async fn submit_request(
        &self,
        request: Request<pb::SubmitRequestRequest>,
    ) -> Result<Response<pb::AccessRequest>, Status> {
        let caller = caller(&request)?;
        let submission = submission(request.into_inner())?;
        let submitted = self.service.submit(&caller, submission).await?;
        Ok(Response::new(summary(&submitted)))
    }

    async fn get_request(
        &self,
        request: Request<pb::GetRequestRequest>,
    ) -> Result<Response<pb::AccessRequest>, Status> {
        let caller = caller(&request)?;
        let view = self.service.get(&caller, required_id(&request.get_ref().id)?).await?;
        Ok(Response::new(detail(&view)))
    }

    type WatchRequestStream = std::pin::Pin<Box<dyn futures::Stream<Item = Result<pb::AccessRequest, Status>> + Send>>;

    async fn watch_request(
        &self,
        request: Request<pb::WatchRequestRequest>,
    ) -> Result<Response<Self::WatchRequestStream>, Status> {
        use futures::StreamExt;
        let caller = caller(&request)?;
        let id = required_id(&request.get_ref().id)?.to_string();
        let views = self.service.watch(caller, id).await?;
        Ok(Response::new(Box::pin(
            views.map(|view| view.map(|view| detail(&view)).map_err(Status::from)),
        )))
    }

    async fn list_requests(
        &self,
        request: Request<pb::ListRequestsRequest>,
    ) -> Result<Response<pb::ListRequestsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let mut states = Vec::new();
        for (i, text) in request.states.iter().enumerate() {
            states.push(
                parse_state(text.trim())
                    .ok_or_else(|| ServiceError::invalid(format!("states[{i}]"), format!("unknown state {text:?}")))?,
            );
        }
        let only = crate::domain::list_filter::parse(&request.filter, parse_state)
            .map_err(|rule| ServiceError::invalid("filter", rule))?;
        let size = page_size_or(request.page_size, 50, 500)? as u32;
        // The token carries the last row's (created, id), bound to this caller and these filters.
        let scope = PageScope::new(
            "request.requests",
            &caller.user_id,
            (request.all, &states, &request.filter),
        );
        let after = match scope.open(&request.page_token)? {
            None => None,
            Some(position) => Some(keyset_position(&position)?),
        };
        let rows = self
            .service
            .list(&caller, request.all, states, only, size, after)
            .await?;
        let next_page_token = match rows.last() {
            Some(last) if rows.len() as u32 == size => {
                scope.seal(&format!("{}|{}", last.request.created_at.to_rfc3339(), last.request.id))
            }
            _ => String::new(),
        };
        Ok(Response::new(pb::ListRequestsResponse {
            requests: rows
                .iter()
                .map(|listed| pb::AccessRequest {
                    requester_name: listed.requester_name.clone(),
                    grantee_name: listed.grantee_name.clone(),
                    ..summary(&listed.request)
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn list_approvals(
        &self,
        request: Request<pb::ListApprovalsRequest>,
    ) -> Result<Response<pb::ListRequestsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let size = page_size_or(request.page_size, 50, 500)? as u32;
        let scope = PageScope::new("request.approvals", &caller.user_id, ());
        let after = match scope.open(&request.page_token)? {
            None => None,
            Some(position) => Some(keyset_position(&position)?),
        };
        let (views, next) = self.service.approvals_for(&caller, size, after).await?;
        Ok(Response::new(pb::ListRequestsResponse {
            requests: views.iter().map(detail).collect(),
            next_page_token: next
                .map(|(at, id)| scope.seal(&format!("{}|{id}", at.to_rfc3339())))
                .unwrap_or_default(),
        }))
    }

    async fn verify_mfa(&self, request: Request<pb::VerifyMfaRequest>) -> Result<Response<pb::AccessRequest>, Status> {
        let caller = caller(&request)?;
        let body = request.get_ref();
        let updated = self
            .service
            .verify_mfa(&caller, required_id(&body.id)?, &body.code)
            .await?;
        Ok(Response::new(summary(&updated)))
    }

    async fn approve_request(
        &self,
        request: Request<pb::DecideRequest>,
    ) -> Result<Response<pb::AccessRequest>, Status> {
        let caller = caller(&request)?;
        let body = request.get_ref();
        let updated = self
            .service
            .decide(&caller, required_id(&body.id)?, true, &body.reason)
            .await?;
        Ok(Response::new(summary(&updated)))
    }

    async fn reject_request(&self, request: Request<pb::DecideRequest>) -> Result<Response<pb::AccessRequest>, Status> {
        let caller = caller(&request)?;
        let body = request.get_ref();
        let updated = self
            .service
            .decide(&caller, required_id(&body.id)?, false, &body.reason)
            .await?;
        Ok(Response::new(summary(&updated)))
    }

    async fn cancel_request(&self, request: Request<pb::EndRequest>) -> Result<Response<pb::AccessRequest>, Status> {
        let caller = caller(&request)?;
        let body = request.get_ref();
        let updated = self
            .service
            .cancel(&caller, required_id(&body.id)?, &body.reason)
            .await?;
        Ok(Response::new(summary(&updated)))
    }

    async fn revoke_request(&self, request: Request<pb::EndRequest>) -> Result<Response<pb::AccessRequest>, Status> {
        let caller = caller(&request)?;
        let body = request.get_ref();
        let updated = self
            .service
            .revoke(&caller, required_id(&body.id)?, &body.reason)
            .await?;
        Ok(Response::new(summary(&updated)))
    }

    async fn extend_request(
        &self,
        request: Request<pb::ExtendRequestRequest>,
    ) -> Result<Response<pb::AccessRequest>, Status> {
        let caller = caller(&request)?;
        let updated = self
            .service
            .extend(&caller, required_id(&request.get_ref().id)?)
            .await?;
        Ok(Response::new(summary(&updated)))
    }

    async fn get_credentials(
        &self,
        request: Request<pb::GetCredentialsRequest>,
    ) -> Result<Response<pb::GetCredentialsResponse>, Status> {
        let caller = caller(&request)?;
        let views = self
            .service
            .credentials(&caller, required_id(&request.get_ref().id)?)
            .await?;
        Ok(Response::new(pb::GetCredentialsResponse {
            credentials: views.into_iter().map(credential).collect(),
        }))
    }

    async fn list_pending_jobs(
        &self,
        request: Request<pb::ListPendingJobsRequest>,
    ) -> Result<Response<pb::ListPendingJobsResponse>, Status> {
        caller(&request)?.require_admin()?;
        let jobs = self.service.pending_jobs().await?;
        Ok(Response::new(pb::ListPendingJobsResponse {
            jobs: jobs
                .into_iter()
                .map(|j| pb::Job {
                    id: j.id,
                    kind: j.kind,
                    subject: j.subject,
                    due_time: Some(timestamp(j.due_at)),
                    attempts: j.attempts,
                    last_error: j.last_error,
                })
                .collect(),
        }))
    }

    async fn list_webhook_deliveries(
        &self,
        request: Request<pb::ListWebhookDeliveriesRequest>,
    ) -> Result<Response<pb::ListWebhookDeliveriesResponse>, Status> {
        let caller = caller(&request)?;
        let size = request.get_ref().page_size;
        if size < 0 {
            return Err(ServiceError::invalid("page_size", "must not be negative").into());
        }
        let limit = if size == 0 { 100 } else { size as u32 };
        let deliveries = self.service.deliveries(&caller, limit).await?;
        Ok(Response::new(pb::ListWebhookDeliveriesResponse {
            deliveries: deliveries
                .into_iter()
                .map(|d| pb::WebhookDelivery {
                    id: d.id,
                    notification_id: d.job_id,
                    sink: d.sink,
                    event: d.event,
                    request_id: d.request_id,
                    attempt: d.attempt,
                    status: d.status,
                    error: d.error,
                    time: Some(timestamp(d.at)),
                    millis: d.millis,
                })
                .collect(),
        }))
    }

    async fn get_insights(&self, request: Request<pb::GetInsightsRequest>) -> Result<Response<pb::Insights>, Status> {
        let caller = caller(&request)?;
        let days = match request.get_ref().days {
            0 => 90,
            n => i64::from(n),
        };
        let insights = self.service.insights(&caller, days).await?;
        let span = |secs: i64| span_text(Some(secs));
        Ok(Response::new(pb::Insights {
            window_days: insights.window_days as i32,
            durations: insights
                .durations
                .iter()
                .map(|d| pb::DurationInsight {
                    flow_id: d.flow_id.clone(),
                    flow_name: d.flow_name.clone(),
                    maximum: span(d.maximum_secs),
                    requests: d.stats.count as i32,
                    median: span(d.stats.median_secs),
                    p90: span(d.stats.p90_secs),
                    longest: span(d.stats.longest_secs),
                    suggested_maximum: d.suggested_maximum_secs.map(span).unwrap_or_default(),
                })
                .collect(),
            unused_flows: insights
                .unused
                .iter()
                .map(|u| pb::UnusedFlow {
                    flow_id: u.flow_id.clone(),
                    flow_name: u.flow_name.clone(),
                    create_time: Some(timestamp(u.created_at)),
                })
                .collect(),
            sole_approvers: insights
                .sole_approvers
                .iter()
                .map(|s| pb::SoleApprover {
                    flow_id: s.flow_id.clone(),
                    flow_name: s.flow_name.clone(),
                    group: s.group as i32,
                    needed: s.needed as i32,
                    approvers: s.approvers.clone(),
                })
                .collect(),
        }))
    }

    async fn get_flow_status(
        &self,
        request: Request<pb::GetFlowStatusRequest>,
    ) -> Result<Response<pb::FlowStatus>, Status> {
        let caller = caller(&request)?;
        let status = self.service.flow_status(&caller, request.get_ref().flow.trim()).await?;
        Ok(Response::new(pb::FlowStatus {
            flow_id: status.flow_id,
            flow_name: status.flow_name,
            automatic: status.automatic,
            in_force: status.in_force,
            holders: status
                .holders
                .into_iter()
                .map(|h| pb::FlowHolder {
                    grantee_id: h.grantee_id,
                    grantee_name: h.grantee_name,
                    request_id: h.request_id,
                    state: state_name(h.state).into(),
                    items: h.items,
                    grant_time: h.since.map(timestamp),
                    end_time: h.ends_at.map(timestamp),
                })
                .collect(),
            to_grant: status.to_grant,
            to_revoke: status.to_revoke,
            to_replace: status.to_replace,
            drift: status.drift.into_iter().map(drift_entry).collect(),
            unchecked: status.unchecked,
        }))
    }

    async fn check_drift(
        &self,
        request: Request<pb::CheckDriftRequest>,
    ) -> Result<Response<pb::CheckDriftResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let found = self
            .service
            .check_drift(&caller, &request.integration, request.repair)
            .await?;
        Ok(Response::new(pb::CheckDriftResponse {
            integrations: found
                .into_iter()
                .map(|d| {
                    let mut entries: Vec<pb::DriftEntry> = d
                        .missing
                        .iter()
                        .map(|h| pb::DriftEntry {
                            kind: "missing".into(),
                            integration: d.integration_name.clone(),
                            resource_id: h.resource_id.clone(),
                            permission: h.permission.clone(),
                            who: h.grantee_id.clone(),
                        })
                        .collect();
                    entries.extend(d.orphans.iter().map(|o| pb::DriftEntry {
                        kind: "orphan".into(),
                        integration: d.integration_name.clone(),
                        resource_id: o.resource_id.clone(),
                        permission: o.permission.clone(),
                        who: o.account.clone(),
                    }));
                    pb::IntegrationDrift {
                        integration_id: d.integration_id,
                        integration_name: d.integration_name,
                        entries,
                        repaired: d.repaired as i32,
                        error: d.error,
                    }
                })
                .collect(),
        }))
    }

    async fn list_reviews(
        &self,
        request: Request<pb::ListReviewsRequest>,
    ) -> Result<Response<pb::ListReviewsResponse>, Status> {
        let caller = caller(&request)?;
        let found = self.service.reviews(&caller, request.get_ref().all).await?;
        Ok(Response::new(pb::ListReviewsResponse {
            reviews: found
                .iter()
                .map(|(review, request, grantee)| pb::Review {
                    request: Some(pb::AccessRequest {
                        grantee_name: grantee.clone(),
                        ..summary(request)
                    }),
                    ..review_message(review)
                })
                .collect(),
        }))
    }

    async fn review_request(&self, request: Request<pb::ReviewRequestRequest>) -> Result<Response<pb::Review>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let (review, reviewed) = self
            .service
            .review(&caller, request.id.trim(), request.approve, &request.note)
            .await?;
        Ok(Response::new(pb::Review {
            request: Some(summary(&reviewed)),
            ..review_message(&review)
        }))
    }
}

fn review_message(review: &crate::store::reviews::Review) -> pb::Review {
    pb::Review {
        request_id: review.request_id.clone(),
        state: review.state.clone(),
        reviewer_id: review.reviewer_id.clone(),
        note: review.note.clone(),
        create_time: Some(timestamp(review.created_at)),
        decide_time: review.decided_at.map(timestamp),
        reminders: review.reminders,
        request: None,
    }
}

fn drift_entry(d: crate::service::DriftEntry) -> pb::DriftEntry {
    pb::DriftEntry {
        kind: d.kind,
        integration: d.integration,
        resource_id: d.resource_id,
        permission: d.permission,
        who: d.who,
    }
}

/// `(created, id)` from a page token's position.
fn keyset_position(position: &str) -> Result<(chrono::DateTime<chrono::Utc>, String), ServiceError> {
    let bad = || ServiceError::invalid("page_token", "is not a token returned by a previous call");
    let (at, id) = position.split_once('|').ok_or_else(bad)?;
    let at = chrono::DateTime::parse_from_rfc3339(at).map_err(|_| bad())?;
    Ok((at.with_timezone(&chrono::Utc), id.to_string()))
}
