//! People, as the identity context tells them: facts from this process's directory replica,
//! on-call, MFA (acting for the user) and reviewers over `IdentityInternal`, and identity's
//! change feed with the users each change affects as identity computed them.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use latch_directory::{DirectoryReplica, facts_from_proto};
use latch_policy::conditions::Facts;
use latch_proto::identity::v1 as pb;
use latch_proto::identity::v1::identity_internal_client::IdentityInternalClient;
use latch_runtime::audit::outbox::OutboxEntry;
use latch_runtime::audit::outbox_wire;
use latch_runtime::peer::{Peer, PeerChannel};
use latch_runtime::{ServiceError, ServiceResult};

use crate::ports::{AuditOutbox, DirectoryChange, People};

pub struct IdentityPeople {
    replica: DirectoryReplica,
    /// The request service's own link: MFA is verified by the service acting for the user.
    peer: Peer,
}

impl IdentityPeople {
    /// `replica` may be shared with other contexts of this process; `peer` is the request
    /// service's link to identity.
    pub fn new(replica: DirectoryReplica, peer: Peer) -> Self {
        Self { replica, peer }
    }

    fn client(&self) -> IdentityInternalClient<PeerChannel> {
        IdentityInternalClient::new(self.peer.channel())
    }
}

/// A change of identity's feed as the reconciler and the audit log read it.
fn directory_change(change: pb::Change) -> DirectoryChange {
    let kind = pb::change::Kind::try_from(change.kind)
        .map(|k| k.as_str_name().trim_start_matches("KIND_").to_lowercase())
        .unwrap_or_else(|_| format!("unknown_{}", change.kind));
    let at = change
        .time
        .as_ref()
        .and_then(latch_proto::time::to_datetime)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let payload = serde_json::from_str(&change.payload_json).unwrap_or(serde_json::Value::String(change.payload_json));
    DirectoryChange {
        sequence: change.sequence,
        at,
        kind,
        resource: change.resource,
        actor: change.actor,
        users: change.affected_users,
        broad: change.broad,
        payload,
    }
}

#[async_trait::async_trait]
impl People for IdentityPeople {
    async fn facts(&self, user: &str) -> ServiceResult<Option<Facts>> {
        self.replica.facts_caught_up(user).await
    }

    async fn everyone(&self) -> ServiceResult<Vec<Facts>> {
        self.replica.wait_loaded().await?;
        Ok(self.replica.everyone())
    }

    async fn scan(&self, visit: &mut (dyn for<'f> FnMut(&'f Facts) -> bool + Send)) -> ServiceResult<()> {
        self.replica.wait_loaded().await?;
        self.replica.scan(visit);
        Ok(())
    }

    async fn reports_of(&self, manager_id: &str) -> ServiceResult<Vec<String>> {
        self.replica.wait_loaded().await?;
        Ok(self.replica.reports_of(manager_id))
    }

    async fn on_call(&self, schedule: &str, at: DateTime<Utc>) -> ServiceResult<Vec<String>> {
        let answer = self
            .client()
            .get_schedule_on_call(pb::GetScheduleOnCallRequest {
                schedule: schedule.to_string(),
                at: Some(latch_proto::time::timestamp(at)),
            })
            .await
            .map_err(|status| self.peer.error(status))?
            .into_inner();
        Ok(answer.user_ids)
    }

    async fn verify_mfa(&self, user_id: &str, code: &str) -> ServiceResult<bool> {
        let answer = self
            .client()
            .verify_user_mfa(pb::VerifyUserMfaRequest {
                user_id: user_id.to_string(),
                code: code.to_string(),
            })
            .await
            .map_err(|status| self.peer.error(status))?
            .into_inner();
        Ok(answer.verified)
    }

    async fn catch_up(&self) -> ServiceResult<()> {
        self.replica.catch_up().await
    }

    async fn reviewers(&self) -> ServiceResult<Vec<Facts>> {
        let answer = self
            .client()
            .list_reviewers(pb::ListReviewersRequest {})
            .await
            .map_err(|status| self.peer.error(status))?
            .into_inner();
        Ok(answer.reviewers.into_iter().map(facts_from_proto).collect())
    }

    fn watch(&self, after: i64) -> BoxStream<'static, ServiceResult<DirectoryChange>> {
        let replica = self.replica.clone();
        let peer = self.peer.clone();
        let open = async move {
            let changes = IdentityInternalClient::new(peer.channel())
                .watch_changes(pb::WatchChangesRequest { after_sequence: after })
                .await
                .map_err(|status| peer.error(status))?
                .into_inner();
            Ok::<_, ServiceError>((replica, peer, changes))
        };
        futures::stream::once(open)
            .map(|opened| match opened {
                Ok((replica, peer, changes)) => changes
                    .then(move |change| {
                        let replica = replica.clone();
                        let peer = peer.clone();
                        async move {
                            let change = change.map_err(|status| peer.error(status))?;
                            // Whoever reads this change next reads facts: they must include it.
                            replica.wait_for(change.sequence).await?;
                            Ok(directory_change(change))
                        }
                    })
                    .boxed(),
                Err(error) => futures::stream::once(async move { Err(error) }).boxed(),
            })
            .flatten()
            .boxed()
    }
}

#[async_trait::async_trait]
impl AuditOutbox for IdentityPeople {
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
