//! The request context's view of people, answered in this process (flows and the catalog it
//! asks over their contracts).

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use latch_flow::domain::conditions::Facts;
use latch_identity::domain::change::{Change, ChangePayload};
use latch_identity::domain::group::MemberKind;
use latch_request::ports::{DirectoryChange, People};
use latch_runtime::ServiceResult;

use crate::local_flow_ports::LocalPeople;

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
