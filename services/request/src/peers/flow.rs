//! The [`Flows`] port over the flow service's `FlowInternal` contract.

use chrono::{DateTime, Utc};
use latch_policy::duration::Span;
use latch_proto::flow::v1 as pb;
use latch_proto::flow::v1::flow_internal_client::FlowInternalClient;
use latch_runtime::audit::outbox::OutboxEntry;
use latch_runtime::audit::outbox_wire;
use latch_runtime::peer::{Peer, PeerChannel};
use latch_runtime::{Caller, ServiceResult};
use tonic::Streaming;

use super::flow_wire;
use crate::domain::flows::{Asked, AutomaticFlow, Decision, FlowSummary, Generation};
use crate::ports::{AuditOutbox, Flows};

/// The flow service, wherever it runs.
#[derive(Clone, Debug)]
pub struct FlowPeer {
    peer: Peer,
}

impl FlowPeer {
    pub fn new(peer: Peer) -> Self {
        Self { peer }
    }

    fn client(&self) -> FlowInternalClient<PeerChannel> {
        FlowInternalClient::new(self.peer.channel())
    }

    /// Every message of a streamed answer, the callee's errors mapped back.
    async fn each<T>(
        &self,
        mut stream: Streaming<T>,
        mut take: impl FnMut(T) -> ServiceResult<()>,
    ) -> ServiceResult<()> {
        while let Some(message) = stream.message().await.map_err(|s| self.peer.error(s))? {
            take(message)?;
        }
        Ok(())
    }

    async fn grantees(&self, stream: Streaming<pb::GranteesChunk>) -> ServiceResult<Vec<(String, Vec<String>)>> {
        let mut flows = Vec::new();
        self.each(stream, |chunk| {
            flow_wire::add_grantees_chunk(&mut flows, chunk);
            Ok(())
        })
        .await?;
        Ok(flows)
    }
}

#[async_trait::async_trait]
impl Flows for FlowPeer {
    async fn decide(
        &self,
        actor: &Caller,
        grantee: &str,
        asked: &Asked,
        duration: Option<Span>,
        at: DateTime<Utc>,
        flow: &str,
    ) -> ServiceResult<Decision> {
        let request = flow_wire::decide_request(actor, grantee, asked, duration, at, flow);
        let answer = self.client().decide(request).await.map_err(|s| self.peer.error(s))?;
        flow_wire::decision(answer.into_inner())
    }

    async fn automatic(&self) -> ServiceResult<Vec<AutomaticFlow>> {
        let stream = self
            .client()
            .list_automatic_flows(pb::ListAutomaticFlowsRequest {})
            .await
            .map_err(|s| self.peer.error(s))?
            .into_inner();
        let mut flows = Vec::new();
        self.each(stream, |chunk| flow_wire::add_automatic_chunk(&mut flows, chunk))
            .await?;
        Ok(flows)
    }

    async fn automatic_for(&self, user: &str) -> ServiceResult<Vec<String>> {
        let answer = self
            .client()
            .flows_granting_user(pb::FlowsGrantingUserRequest { user: user.to_string() })
            .await
            .map_err(|s| self.peer.error(s))?;
        Ok(answer.into_inner().flow_ids)
    }

    async fn automatic_grantees(&self) -> ServiceResult<Vec<(String, Vec<String>)>> {
        let stream = self
            .client()
            .list_automatic_grantees(pb::ListAutomaticGranteesRequest {})
            .await
            .map_err(|s| self.peer.error(s))?
            .into_inner();
        self.grantees(stream).await
    }

    async fn grantees_of(&self, flow_id: &str) -> ServiceResult<Vec<String>> {
        let stream = self
            .client()
            .list_flow_grantees(pb::ListFlowGranteesRequest {
                flow_id: flow_id.to_string(),
            })
            .await
            .map_err(|s| self.peer.error(s))?
            .into_inner();
        Ok(self
            .grantees(stream)
            .await?
            .into_iter()
            .flat_map(|(_, users)| users)
            .collect())
    }

    async fn generation(&self) -> ServiceResult<Generation> {
        let answer = self
            .client()
            .get_generation(pb::GetGenerationRequest {})
            .await
            .map_err(|s| self.peer.error(s))?;
        Ok(flow_wire::generation(answer.into_inner()))
    }

    async fn all(&self) -> ServiceResult<Vec<FlowSummary>> {
        let stream = self
            .client()
            .list_flow_summaries(pb::ListFlowSummariesRequest {})
            .await
            .map_err(|s| self.peer.error(s))?
            .into_inner();
        let mut flows = Vec::new();
        self.each(stream, |flow| {
            flows.push(flow_wire::summary(flow)?);
            Ok(())
        })
        .await?;
        Ok(flows)
    }

    async fn catch_up(&self) -> ServiceResult<()> {
        self.client()
            .catch_up(pb::CatchUpRequest {})
            .await
            .map_err(|s| self.peer.error(s))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl AuditOutbox for FlowPeer {
    async fn audit_outbox(&self, after: i64, limit: u32) -> ServiceResult<Vec<OutboxEntry>> {
        let answer = self
            .client()
            .list_audit_outbox(outbox_wire::request(after, limit))
            .await
            .map_err(|s| self.peer.error(s))?
            .into_inner();
        outbox_wire::entries(after, answer)
    }
}
