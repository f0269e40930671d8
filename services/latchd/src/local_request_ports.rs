//! The request context's view of flows and people, answered in this process.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use latch_flow::FlowService;
use latch_flow::domain::conditions::Facts;
use latch_flow::domain::duration::Span;
use latch_flow::domain::model::FlowSpec;
use latch_flow::service::queries_public::Asked;
use latch_flow::service::{AutomaticFlow, EvaluationAnswer};
use latch_identity::domain::change::{Change, ChangePayload};
use latch_identity::domain::group::MemberKind;
use latch_request::ports::{DirectoryChange, Flows, People};
use latch_runtime::{Caller, ServiceResult};

use crate::local_flow_ports::LocalPeople;

pub struct LocalFlows(pub FlowService);

#[async_trait::async_trait]
impl Flows for LocalFlows {
    async fn evaluate(
        &self,
        caller: &Caller,
        grantee: &str,
        asked: &Asked,
        duration: Option<Span>,
        at: DateTime<Utc>,
        flow: &str,
    ) -> ServiceResult<EvaluationAnswer> {
        self.0
            .evaluate_request(caller, grantee, asked, duration, Some(at), flow)
            .await
    }

    fn spec(&self, flow_id: &str) -> ServiceResult<FlowSpec> {
        Ok(self.0.flow(flow_id)?.spec)
    }

    fn automatic(&self) -> Vec<AutomaticFlow> {
        self.0.automatic_flows()
    }

    async fn automatic_for(&self, user: &str) -> ServiceResult<Vec<String>> {
        self.0.flows_granting(user).await
    }

    async fn automatic_grantees(&self) -> ServiceResult<Vec<(String, Vec<String>)>> {
        self.0.automatic_grantees().await
    }

    async fn grantees_of(&self, flow_id: &str) -> ServiceResult<Vec<String>> {
        self.0.matching_grantees(flow_id).await
    }

    fn generation(&self) -> (i64, i64) {
        let state = self.0.state();
        (state.store_version, state.catalog_version)
    }

    fn all(&self) -> Vec<latch_flow::store::StoredFlow> {
        self.0.state().flows.clone()
    }

    async fn catch_up(&self) -> ServiceResult<()> {
        self.0.catch_up().await
    }
}

/// What a directory change means to the request context: whose facts it may have changed.
fn directory_change(change: Change) -> DirectoryChange {
    let mut users = Vec::new();
    let mut broad = false;
    match change.decode() {
        Some(ChangePayload::Membership { member, .. }) => match member.kind {
            MemberKind::User => users.push(member.id),
            MemberKind::Group => broad = true,
        },
        _ => match change.resource.split_once('/') {
            Some(("users", id)) => users.push(id.to_string()),
            Some(("groups", _)) => broad = true,
            _ => {}
        },
    }
    DirectoryChange {
        sequence: change.sequence,
        at: change.at,
        kind: change.kind.as_str().to_string(),
        resource: change.resource,
        actor: change.actor,
        users,
        broad,
        payload: change.payload,
    }
}

/// The same people the flow context sees, plus on-call and MFA.
#[async_trait::async_trait]
impl People for LocalPeople {
    async fn facts(&self, user: &str) -> ServiceResult<Option<Facts>> {
        latch_flow::ports::People::facts(self, user).await
    }

    async fn everyone(&self) -> ServiceResult<Vec<Facts>> {
        latch_flow::ports::People::everyone(self).await
    }

    async fn on_call(&self, schedule: &str, at: DateTime<Utc>) -> ServiceResult<Vec<String>> {
        let directory = self.identity().directory();
        Ok(directory
            .find_schedule(schedule)
            .and_then(|s| directory.on_call(&s.id, at))
            .map(|on_call| vec![on_call.user_id])
            .unwrap_or_default())
    }

    async fn verify_mfa(&self, user_id: &str, code: &str) -> ServiceResult<bool> {
        self.identity().verify_mfa(user_id, code).await
    }

    async fn catch_up(&self) -> ServiceResult<()> {
        self.identity().catch_up().await
    }

    async fn reviewers(&self) -> ServiceResult<Vec<Facts>> {
        use latch_identity::domain::directory::RoleName;
        let directory = self.identity().directory();
        Ok(directory
            .users_sorted()
            .iter()
            .filter(|u| u.active)
            .filter(|u| {
                directory
                    .roles_of(&u.id)
                    .iter()
                    .any(|r| matches!(r, RoleName::Admin | RoleName::Auditor))
            })
            .map(|u| crate::local_flow_ports::facts(&directory, u))
            .collect())
    }

    fn watch(&self, after: i64) -> BoxStream<'static, ServiceResult<DirectoryChange>> {
        let identity = self.identity().clone();
        self.identity()
            .watch_changes(after)
            .then(move |change| {
                let identity = identity.clone();
                async move {
                    let change = change?;
                    // The feed is read from the table; facts come from the directory, which
                    // follows other replicas' writes a little later. Catch it up first.
                    if identity.directory().sequence() < change.sequence {
                        identity.catch_up().await?;
                    }
                    Ok(directory_change(change))
                }
            })
            .boxed()
    }
}
