//! The approver index at work: a request enters it when it starts waiting for approval and
//! leaves it when it stops; `ListApprovals` reads the caller's candidates from it and checks
//! each exactly, instead of checking every pending request.

use chrono::{DateTime, Utc};
use latch_runtime::{Caller, ServiceResult};

use super::policy::owners_of;
use super::views::RequestView;
use super::{Policy, RequestService, Tx};
use crate::domain::approver_keys::{ANY, ON_CALL, person_keys, request_keys};
use crate::domain::lifecycle::State;
use crate::store::approval_keys;
use crate::store::requests::{self, ItemRow, RequestFilter, RequestRow};

/// Stored for a request nobody may approve (an approver group without rows), so it counts as
/// indexed; no one holds it.
const NOBODY: &str = "nobody";
/// Candidates read per query.
const CANDIDATES: u32 = 200;
/// A person holding more keys than this is checked against every pending request instead.
const MAX_PERSON_KEYS: usize = 20_000;

/// A position in a newest-first listing: (created, id) of the last request looked at.
pub type Position = (DateTime<Utc>, String);

impl RequestService {
    /// Stores a request that now waits for approval under its approvers' keys.
    pub(crate) async fn index_approvers(&self, tx: &Tx, request: &RequestRow, items: &[ItemRow]) -> ServiceResult<()> {
        let mut keys: Vec<String> = match Policy::parse(&request.policy) {
            Ok(policy) => request_keys(policy.groups(), &request.grantee_id, &owners_of(items))
                .into_iter()
                .collect(),
            // Listed for everyone's exact check (which refuses it) rather than lost.
            Err(error) => {
                tracing::warn!(request = %request.id, %error, "stored policy unreadable; indexed for everyone");
                vec![ANY.to_string()]
            }
        };
        if keys.is_empty() {
            keys.push(NOBODY.to_string());
        }
        approval_keys::put(&**tx, &request.id, &keys, ON_CALL).await?;
        Ok(())
    }

    /// Every minute, indexes pending requests no index entry covers (written by a replica of
    /// a version before the index, during a rolling upgrade).
    pub fn spawn_indexer(&self) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                match service.index_unindexed_pending().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(requests = n, "pending requests added to the approver index"),
                    Err(error) => tracing::warn!(%error, "indexing pending approvals failed; will retry"),
                }
            }
        })
    }

    /// Indexes the pending requests written before the index existed; returns how many.
    pub async fn index_unindexed_pending(&self) -> ServiceResult<usize> {
        let mut indexed = 0;
        loop {
            let batch = approval_keys::unindexed_pending(self.db(), CANDIDATES).await?;
            if batch.is_empty() {
                return Ok(indexed);
            }
            for found in batch {
                let tx = self.begin(&found.grantee_id).await?;
                let request = self.load(&*tx, &found.id).await?;
                if request.state == State::PendingApproval {
                    let items = requests::items(&*tx, &request.id).await?;
                    self.index_approvers(&tx, &request, &items).await?;
                    indexed += 1;
                } else {
                    // Decided since it was read: it must not stay "unindexed and pending".
                    approval_keys::clear(&*tx, &request.id).await?;
                }
                tx.commit().await?;
            }
        }
    }

    /// Pending requests the caller may approve now and has not decided on, newest first: at
    /// most `size`, after `before`. Also returns where the next page starts (none at the end).
    pub async fn approvals_for(
        &self,
        caller: &Caller,
        size: u32,
        mut before: Option<Position>,
    ) -> ServiceResult<(Vec<RequestView>, Option<Position>)> {
        let people = &self.ports().people;
        let Some(me) = people.facts(&caller.user_id).await? else {
            return Ok((Vec::new(), None));
        };
        let reports = people.reports_of(&me.user_id).await?;
        let now = self.now();
        // Who is on call, per schedule some pending request names, asked together. A schedule
        // identity no longer has (deleted since) makes nobody on call for it; it must not
        // break the listing for everyone.
        let schedules = approval_keys::schedules(self.db()).await?;
        let answers = futures::future::join_all(schedules.iter().map(|s| people.on_call(s, now))).await;
        let mut on_call = Vec::new();
        for (schedule, answer) in schedules.into_iter().zip(answers) {
            match answer {
                Ok(users) if users.contains(&me.user_id) => on_call.push(schedule),
                Ok(_) => {}
                Err(error) => tracing::warn!(%schedule, %error, "on-call lookup failed; nobody counts as on call"),
            }
        }
        let keys: Vec<String> = person_keys(&me, &reports, &on_call).into_iter().collect();
        let mut out = Vec::new();
        loop {
            let page = if keys.len() <= MAX_PERSON_KEYS {
                approval_keys::pending_under(self.db(), &keys, before.clone(), CANDIDATES).await?
            } else {
                let filter = RequestFilter {
                    involving: String::new(),
                    states: vec![State::PendingApproval],
                    before: before.clone(),
                    limit: CANDIDATES,
                    ..Default::default()
                };
                requests::list_requests(self.db(), &filter).await?
            };
            let exhausted = page.len() < CANDIDATES as usize;
            for request in page {
                before = Some((request.created_at, request.id.clone()));
                let items = requests::items(self.db(), &request.id).await?;
                let decided = requests::approvals(self.db(), &request.id).await?;
                if self.may_decide(caller, &request, &items, &decided).await? {
                    // May approve, so may read: the view is built from what was just read.
                    out.push(self.view(request, items, decided, true).await?);
                    if out.len() >= size as usize {
                        return Ok((out, before));
                    }
                }
            }
            if exhausted {
                return Ok((out, None));
            }
        }
    }
}
