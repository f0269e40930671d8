//! People, as the identity context tells them: facts from this process's directory replica (fed
//! by identity's change feed, so evaluation reads memory), schedules over `IdentityInternal`.

use latch_directory::DirectoryReplica;
use latch_proto::identity::v1 as pb;
use latch_runtime::ServiceResult;

use crate::domain::conditions::Facts;
use crate::ports::People;

pub struct IdentityPeople {
    replica: DirectoryReplica,
}

impl IdentityPeople {
    pub fn new(replica: DirectoryReplica) -> Self {
        Self { replica }
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

    async fn schedule_exists(&self, schedule: &str) -> ServiceResult<bool> {
        let answer = self
            .replica
            .client()
            .get_schedule_on_call(pb::GetScheduleOnCallRequest {
                schedule: schedule.to_string(),
                at: None,
            })
            .await
            .map_err(|status| self.replica.peer().error(status))?
            .into_inner();
        Ok(answer.schedule_exists)
    }
}
