//! The catalog's view of people, asked of the identity context over `IdentityInternal`.

use latch_proto::identity::v1 as pb;
use latch_proto::identity::v1::identity_internal_client::IdentityInternalClient;
use latch_runtime::ServiceResult;
use latch_runtime::peer::Peer;

use crate::directory::{PrincipalDirectory, PrincipalKind};
use crate::domain::principal::Principal;

pub struct IdentityDirectory {
    peer: Peer,
}

impl IdentityDirectory {
    pub fn new(peer: Peer) -> Self {
        Self { peer }
    }

    fn client(&self) -> IdentityInternalClient<latch_runtime::peer::PeerChannel> {
        IdentityInternalClient::new(self.peer.channel())
    }
}

#[async_trait::async_trait]
impl PrincipalDirectory for IdentityDirectory {
    async fn resolve(&self, kind: PrincipalKind, id_or_name: &str) -> ServiceResult<Option<Principal>> {
        let wire_kind = match kind {
            PrincipalKind::User => pb::resolve_principal_request::Kind::User,
            PrincipalKind::Group => pb::resolve_principal_request::Kind::Group,
        };
        let answer = self
            .client()
            .resolve_principal(pb::ResolvePrincipalRequest {
                kind: wire_kind as i32,
                id_or_name: id_or_name.to_string(),
            })
            .await
            .map_err(|status| self.peer.error(status))?
            .into_inner();
        Ok(Some(answer.id).filter(|id| !id.is_empty()).map(|id| match kind {
            PrincipalKind::User => Principal::User(id),
            PrincipalKind::Group => Principal::Group(id),
        }))
    }

    async fn groups_of(&self, user_id: &str) -> ServiceResult<Vec<String>> {
        let answer = self
            .client()
            .list_user_group_ids(pb::ListUserGroupIdsRequest {
                user_id: user_id.to_string(),
            })
            .await
            .map_err(|status| self.peer.error(status))?
            .into_inner();
        Ok(answer.group_ids)
    }
}
