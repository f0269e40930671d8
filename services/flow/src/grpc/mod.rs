//! The gRPC adapter of the flow context.

pub mod internal;
pub mod policy_wire;

use latch_proto::flow::v1 as pb;
use latch_proto::flow::v1::flow_service_server::FlowService as FlowApi;
use latch_runtime::ServiceError;
use latch_runtime::auth::caller;
use latch_runtime::wire::{etag_version, instant, timestamp};
use tonic::{Request, Response, Status};

use crate::domain::duration::Span;
use crate::domain::evaluate::{Allowance, Item};
use crate::domain::model::FlowKind;
use crate::domain::templates::TEMPLATES;
use crate::service::RequestablePage;
use crate::service::queries_public::Asked;
use crate::service::{FlowService, to_yaml};
use crate::store::StoredFlow;

pub use latch_proto::flow::v1::flow_service_server::FlowServiceServer;

#[derive(Debug, Clone)]
pub struct FlowGrpc {
    service: FlowService,
}

impl FlowGrpc {
    pub fn new(service: FlowService) -> Self {
        Self { service }
    }

    pub fn into_server(self) -> FlowServiceServer<Self> {
        FlowServiceServer::new(self)
    }

    fn flow(&self, flow: &StoredFlow) -> pb::Flow {
        let item_count = self
            .service
            .state()
            .index
            .flows()
            .find(|f| f.id == flow.id)
            .map_or(0, |f| f.items.len() as i64);
        pb::Flow {
            name: format!("flows/{}", flow.id),
            id: flow.id.clone(),
            display_name: flow.spec.name.clone(),
            kind: kind(flow.spec.kind).into(),
            space: flow.spec.space.clone().unwrap_or_default(),
            active: flow.spec.active,
            labels: flow.spec.labels.clone(),
            definition: to_yaml(&flow.spec),
            create_time: Some(timestamp(flow.created_at)),
            update_time: Some(timestamp(flow.updated_at)),
            etag: latch_runtime::wire::etag(flow.version),
            item_count,
        }
    }
}

fn kind(kind: FlowKind) -> &'static str {
    match kind {
        FlowKind::SelfServe => "self_serve",
        FlowKind::Automatic => "automatic",
    }
}

pub(crate) fn item(item: &Item) -> pb::Item {
    pb::Item {
        integration: item.integration_id.clone(),
        resource_id: item.resource_id.clone(),
        permission: item.permission.clone(),
    }
}

fn decision(allowance: &Allowance) -> pb::Decision {
    pb::Decision {
        flow_id: allowance.flow_id.clone(),
        flow_name: allowance.flow_name.clone(),
        allowed: true,
        reasons: Vec::new(),
        duration: allowance
            .duration
            .map(|d| d.to_string())
            .unwrap_or_else(|| "indefinite".into()),
        needs_approval: allowance.needs_approval,
        approvals_needed: allowance.approvals_needed,
        require_mfa: allowance.require_mfa,
        require_justification: allowance.require_justification,
        require_approver_reason: allowance.require_approver_reason,
        no_self_approval: allowance.no_self_approval,
    }
}

type GrpcResult<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl FlowApi for FlowGrpc {
    async fn create_flow(&self, request: Request<pb::CreateFlowRequest>) -> GrpcResult<pb::Flow> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let flow = self
            .service
            .create(&caller, &request.definition, &request.template)
            .await?;
        Ok(Response::new(self.flow(&flow)))
    }

    async fn get_flow(&self, request: Request<pb::GetFlowRequest>) -> GrpcResult<pb::Flow> {
        caller(&request)?;
        Ok(Response::new(self.flow(&self.service.flow(&request.get_ref().id)?)))
    }

    async fn list_flows(&self, request: Request<pb::ListFlowsRequest>) -> GrpcResult<pb::ListFlowsResponse> {
        caller(&request)?;
        let request = request.get_ref();
        let space = match request.space.trim() {
            "" => None,
            name => self.service.catalog().space_id(name).await?,
        };
        let flows = self
            .service
            .state()
            .flows
            .iter()
            .filter(|f| request.space.trim().is_empty() || f.spec.space == space)
            .filter(|f| request.label.is_empty() || f.spec.labels.contains(&request.label))
            .map(|f| self.flow(f))
            .collect();
        Ok(Response::new(pb::ListFlowsResponse { flows }))
    }

    async fn update_flow(&self, request: Request<pb::UpdateFlowRequest>) -> GrpcResult<pb::Flow> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let flow = self
            .service
            .update(
                &caller,
                &request.id,
                &request.definition,
                etag_version("etag", &request.etag)?,
            )
            .await?;
        Ok(Response::new(self.flow(&flow)))
    }

    async fn delete_flow(&self, request: Request<pb::DeleteFlowRequest>) -> GrpcResult<pb::DeleteFlowResponse> {
        let caller = caller(&request)?;
        self.service.delete(&caller, &request.get_ref().id).await?;
        Ok(Response::new(pb::DeleteFlowResponse {}))
    }

    async fn list_templates(
        &self,
        request: Request<pb::ListTemplatesRequest>,
    ) -> GrpcResult<pb::ListTemplatesResponse> {
        caller(&request)?;
        let templates = TEMPLATES
            .iter()
            .map(|(name, description, typical, maximum)| pb::Template {
                name: name.to_string(),
                description: description.to_string(),
                typical_duration: typical.to_string(),
                maximum: maximum.to_string(),
            })
            .collect();
        Ok(Response::new(pb::ListTemplatesResponse { templates }))
    }

    async fn evaluate(&self, request: Request<pb::EvaluateRequest>) -> GrpcResult<pb::EvaluateResponse> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let duration = match request.duration.trim() {
            "" => None,
            text => Some(Span::parse(text).map_err(|e| ServiceError::invalid("duration", e))?),
        };
        let asked = Asked {
            items: request
                .items
                .iter()
                .map(|i| Item {
                    integration_id: i.integration.clone(),
                    resource_id: i.resource_id.clone(),
                    permission: i.permission.clone(),
                })
                .collect(),
            bundle: request.bundle.clone(),
            scope: request.scope.clone(),
            scope_permissions: request.scope_permissions.clone(),
        };
        let at = instant("at", request.at.as_ref())?;
        let answer = self
            .service
            .evaluate_request(&caller, &request.grantee, &asked, duration, at, &request.flow)
            .await?;
        let mut decisions: Vec<pb::Decision> = answer.allowed.iter().map(decision).collect();
        decisions.extend(answer.denied.iter().map(|(id, name, reasons)| pb::Decision {
            flow_id: id.clone(),
            flow_name: name.clone(),
            allowed: false,
            reasons: reasons.clone(),
            ..Default::default()
        }));
        Ok(Response::new(pb::EvaluateResponse {
            chosen_flow: answer.chosen.map(|c| c.flow_name).unwrap_or_default(),
            decisions,
            items: answer.items.iter().map(item).collect(),
        }))
    }

    async fn list_requestable(
        &self,
        request: Request<pb::ListRequestableRequest>,
    ) -> GrpcResult<pb::ListRequestableResponse> {
        let caller = caller(&request)?;
        let body = request.get_ref();
        let at = instant("at", body.at.as_ref())?;
        let size = latch_runtime::pagination::page_size_or(body.page_size, 100, 1000)?;
        let flow = body.flow.trim();
        if flow.chars().count() > 256 {
            return Err(ServiceError::invalid("flow", "must be at most 256 characters").into());
        }
        if flow.is_empty() && !body.page_token.is_empty() {
            return Err(ServiceError::invalid("page_token", "pages go through one flow: set flow").into());
        }
        // The token carries the last item shown, bound to this caller, flow and time.
        let scope = latch_runtime::pagination::PageScope::new(
            "flow.requestable",
            &caller.user_id,
            (flow, body.at.as_ref().map(|t| (t.seconds, t.nanos))),
        );
        let after = scope.open(&body.page_token)?.map(|p| item_position(&p)).transpose()?;
        let page = RequestablePage {
            flow: (!flow.is_empty()).then(|| flow.to_string()),
            size,
            after,
        };
        let flows = self.service.requestable(&caller.user_id, at, &page).await?;
        let next_page_token = match flows.as_slice() {
            [only] if page.flow.is_some() && only.items.len() == size => only
                .items
                .last()
                .map(|i| scope.seal(&serde_json::json!([i.integration_id, i.resource_id, i.permission]).to_string()))
                .unwrap_or_default(),
            _ => String::new(),
        };
        let flows = flows
            .into_iter()
            .map(|f| pb::RequestableFlow {
                flow_id: f.flow_id,
                flow_name: f.flow_name,
                item_count: f.item_count as i64,
                items: f.items.iter().map(item).collect(),
            })
            .collect();
        Ok(Response::new(pb::ListRequestableResponse { flows, next_page_token }))
    }

    async fn explain(&self, request: Request<pb::ExplainRequest>) -> GrpcResult<pb::ExplainResponse> {
        let caller = caller(&request)?;
        let asked = request
            .get_ref()
            .item
            .clone()
            .ok_or_else(|| ServiceError::invalid("item", "is required"))?;
        let asked = Item {
            integration_id: asked.integration,
            resource_id: asked.resource_id,
            permission: asked.permission,
        };
        let flows = self
            .service
            .explain(&caller, &asked)
            .await?
            .into_iter()
            .map(|f| pb::ExplainedFlow {
                flow_id: f.flow_id,
                flow_name: f.flow_name,
                kind: kind(f.kind).into(),
                who: f.who,
                when: f.when,
                approval: f.approval,
                users: f.users,
            })
            .collect();
        Ok(Response::new(pb::ExplainResponse { flows }))
    }

    async fn matching_grantees(
        &self,
        request: Request<pb::MatchingGranteesRequest>,
    ) -> GrpcResult<pb::MatchingGranteesResponse> {
        caller(&request)?.require_admin()?;
        let users = self.service.matching_grantees(&request.get_ref().flow).await?;
        Ok(Response::new(pb::MatchingGranteesResponse { users }))
    }

    async fn flows_granting(
        &self,
        request: Request<pb::FlowsGrantingRequest>,
    ) -> GrpcResult<pb::FlowsGrantingResponse> {
        caller(&request)?.require_admin()?;
        let flows = self.service.flows_granting(&request.get_ref().user).await?;
        Ok(Response::new(pb::FlowsGrantingResponse { flows }))
    }

    async fn export_flows(&self, request: Request<pb::ExportFlowsRequest>) -> GrpcResult<pb::ExportFlowsResponse> {
        caller(&request)?.require_admin()?;
        let space = match request.get_ref().space.trim() {
            "" => None,
            name => Some(
                self.service
                    .catalog()
                    .space_id(name)
                    .await?
                    .ok_or_else(|| ServiceError::invalid("space", format!("no space {name:?}")))?,
            ),
        };
        Ok(Response::new(pb::ExportFlowsResponse {
            document: self.service.export(space.as_deref()),
        }))
    }

    async fn apply_flows(&self, request: Request<pb::ApplyFlowsRequest>) -> GrpcResult<pb::ApplyFlowsResponse> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let space = match request.space.trim() {
            "" => None,
            name => Some(
                self.service
                    .catalog()
                    .space_id(name)
                    .await?
                    .ok_or_else(|| ServiceError::invalid("space", format!("no space {name:?}")))?,
            ),
        };
        let report = self
            .service
            .apply(
                &caller,
                &request.document,
                space.as_deref(),
                request.prune,
                request.dry_run,
            )
            .await?;
        Ok(Response::new(pb::ApplyFlowsResponse {
            created: report.created,
            changed: report.changed,
            deleted: report.deleted,
            unchanged: report.unchanged as i32,
            applied: report.applied,
        }))
    }
}

/// A page position: the last item shown, as `[integration, resource, permission]`.
fn item_position(position: &str) -> Result<Item, ServiceError> {
    let bad = || {
        ServiceError::invalid(
            "page_token",
            "is not a token returned by a previous call of this listing",
        )
    };
    let [integration_id, resource_id, permission]: [String; 3] = serde_json::from_str(position).map_err(|_| bad())?;
    Ok(Item {
        integration_id,
        resource_id,
        permission,
    })
}
