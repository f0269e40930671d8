//! The replica: a full load, then identity's change feed from the sequence the load is current
//! at. A change re-reads the users it names; a broad change (a group renamed, deleted or
//! nested) re-reads everyone. After any failure it loads again and follows from there.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::FutureExt;
use latch_policy::conditions::Facts;
use latch_proto::identity::v1 as pb;
use latch_proto::identity::v1::identity_internal_client::IdentityInternalClient;
use latch_runtime::peer::{Peer, PeerChannel};
use latch_runtime::{ServiceError, ServiceResult};
use tokio::sync::watch;

use crate::convert::facts_from_proto;
use crate::state::People;

/// How long a reader waits for the replica to load or to reach a sequence.
pub const WAIT: Duration = Duration::from_secs(10);
/// Users asked for in one call, and changes applied as one batch.
const BATCH: usize = 500;
const RETRY_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Progress {
    /// Loaded at least once.
    loaded: bool,
    /// Following the feed now (false while reconnecting).
    following: bool,
    /// The last feed sequence whose effects the replica holds.
    sequence: i64,
}

struct Inner {
    peer: Peer,
    people: RwLock<People>,
    progress: watch::Sender<Progress>,
}

/// Cheap to clone; every clone reads the same replica.
#[derive(Clone)]
pub struct DirectoryReplica {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DirectoryReplica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryReplica")
            .field("progress", &*self.inner.progress.borrow())
            .finish_non_exhaustive()
    }
}

impl DirectoryReplica {
    /// An empty replica reading identity through `peer`; [`Self::spawn`] loads and follows.
    pub fn new(peer: Peer) -> Self {
        Self {
            inner: Arc::new(Inner {
                peer,
                people: RwLock::new(People::default()),
                progress: watch::channel(Progress::default()).0,
            }),
        }
    }

    /// The identity peer this replica reads (for calls the replica does not answer).
    pub fn peer(&self) -> &Peer {
        &self.inner.peer
    }

    pub fn client(&self) -> IdentityInternalClient<PeerChannel> {
        IdentityInternalClient::new(self.inner.peer.channel())
    }

    /// Loads, then follows the feed until the task is aborted; starts over after a failure.
    pub fn spawn(&self) -> tokio::task::JoinHandle<()> {
        let replica = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(error) = replica.load_and_follow().await {
                    tracing::warn!(%error, "directory replica lost identity's feed; loading again in 1 s");
                }
                replica.inner.progress.send_modify(|p| p.following = false);
                tokio::time::sleep(RETRY_AFTER).await;
            }
        })
    }

    fn people(&self) -> std::sync::RwLockReadGuard<'_, People> {
        self.inner.people.read().unwrap_or_else(|p| p.into_inner())
    }

    /// An active user's facts by id or user name, from memory.
    pub fn facts(&self, user: &str) -> Option<Facts> {
        self.people().find(user).map(|f| Facts::clone(f))
    }

    /// An active user's facts, reading identity's latest changes first when the replica does
    /// not know the user: a user created a moment ago (and already holding a token) is found,
    /// not refused. One feed-position call per miss.
    pub async fn facts_caught_up(&self, user: &str) -> ServiceResult<Option<Facts>> {
        self.wait_loaded().await?;
        if let Some(facts) = self.facts(user) {
            return Ok(Some(facts));
        }
        self.catch_up().await?;
        Ok(self.facts(user))
    }

    /// Visits every active user, ordered by user name, until `visit` returns false; nothing is
    /// copied. `visit` runs under the replica's read lock: keep it short.
    pub fn scan(&self, visit: impl FnMut(&Facts) -> bool) {
        self.people().scan(visit);
    }

    /// The active users `manager_id` manages directly, from memory.
    pub fn reports_of(&self, manager_id: &str) -> Vec<String> {
        self.people().reports_of(manager_id)
    }

    /// Every active user's facts, ordered by user name.
    pub fn everyone(&self) -> Vec<Facts> {
        self.people().everyone()
    }

    /// The last feed sequence whose effects this replica holds.
    pub fn sequence(&self) -> i64 {
        self.inner.progress.borrow().sequence
    }

    /// Loaded at least once (it may be reconnecting to identity now).
    pub fn is_loaded(&self) -> bool {
        self.inner.progress.borrow().loaded
    }

    /// Loaded and following identity's feed.
    pub fn is_caught_up(&self) -> bool {
        let progress = *self.inner.progress.borrow();
        progress.loaded && progress.following
    }

    /// Waits until the replica holds the effects of `sequence` (UNAVAILABLE after [`WAIT`]).
    pub async fn wait_for(&self, sequence: i64) -> ServiceResult<()> {
        let mut progress = self.inner.progress.subscribe();
        let reached = progress.wait_for(|p| p.loaded && p.sequence >= sequence);
        match tokio::time::timeout(WAIT, reached).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(ServiceError::Unavailable(format!(
                "the directory replica has not reached identity's change {sequence} (it holds {}): is the identity service reachable?",
                self.sequence()
            ))),
        }
    }

    /// Waits until the replica has loaded once.
    pub async fn wait_loaded(&self) -> ServiceResult<()> {
        self.wait_for(0).await
    }

    /// Waits until the replica holds every change identity had applied when asked.
    pub async fn catch_up(&self) -> ServiceResult<()> {
        let position = self
            .client()
            .get_feed_position(pb::GetFeedPositionRequest {})
            .await
            .map_err(|status| self.inner.peer.error(status))?
            .into_inner();
        self.wait_for(position.sequence).await
    }

    async fn load_and_follow(&self) -> ServiceResult<()> {
        let from = self.load_all(self.sequence()).await?;
        self.inner.progress.send_modify(|p| {
            p.loaded = true;
            p.following = true;
            p.sequence = p.sequence.max(from);
        });
        let users = self.people().len();
        tracing::debug!(sequence = from, users, "directory replica loaded");
        let mut changes = self
            .client()
            .watch_changes(pb::WatchChangesRequest { after_sequence: from })
            .await
            .map_err(|status| self.inner.peer.error(status))?
            .into_inner();
        loop {
            let Some(first) = changes.message().await.map_err(|s| self.inner.peer.error(s))? else {
                return Err(ServiceError::Unavailable("identity's change feed ended".into()));
            };
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match changes.message().now_or_never() {
                    Some(Ok(Some(change))) => batch.push(change),
                    Some(Err(status)) => return Err(self.inner.peer.error(status)),
                    _ => break,
                }
            }
            self.apply(&batch).await?;
        }
    }

    /// Re-reads whom a batch of changes affects, then moves the sequence past it.
    async fn apply(&self, batch: &[pb::Change]) -> ServiceResult<()> {
        let Some(last) = batch.last().map(|c| c.sequence) else {
            return Ok(());
        };
        if batch.iter().any(|c| c.broad) {
            self.load_all(last).await?;
        } else {
            let users: BTreeSet<&str> = batch
                .iter()
                .flat_map(|c| c.affected_users.iter().map(String::as_str))
                .collect();
            let users: Vec<&str> = users.into_iter().collect();
            for chunk in users.chunks(BATCH) {
                self.refresh(chunk, last).await?;
            }
        }
        self.inner.progress.send_modify(|p| p.sequence = p.sequence.max(last));
        Ok(())
    }

    /// Re-reads `users` as of at least `sequence`; those identity no longer has active go.
    async fn refresh(&self, users: &[&str], sequence: i64) -> ServiceResult<()> {
        let found = self
            .client()
            .batch_get_subject_facts(pb::BatchGetSubjectFactsRequest {
                user_ids: users.iter().map(|u| u.to_string()).collect(),
                min_sequence: sequence,
            })
            .await
            .map_err(|status| self.inner.peer.error(status))?
            .into_inner();
        let mut people = self.inner.people.write().unwrap_or_else(|p| p.into_inner());
        for user in users {
            people.remove(user);
        }
        for facts in found.facts {
            people.upsert(facts_from_proto(facts));
        }
        Ok(())
    }

    /// Loads every active user (as of at least `min_sequence`) and replaces what is held;
    /// returns the sequence the first page was current at (what to follow the feed from).
    async fn load_all(&self, min_sequence: i64) -> ServiceResult<i64> {
        let mut client = self.client();
        let mut all = Vec::new();
        let mut page_token = String::new();
        let mut first_sequence = None;
        loop {
            let page = client
                .list_subject_facts(pb::ListSubjectFactsRequest {
                    page_size: BATCH as i32,
                    page_token,
                    min_sequence,
                })
                .await
                .map_err(|status| self.inner.peer.error(status))?
                .into_inner();
            first_sequence.get_or_insert(page.sequence);
            all.extend(page.facts.into_iter().map(facts_from_proto));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        let loaded = People::from_facts(all);
        *self.inner.people.write().unwrap_or_else(|p| p.into_inner()) = loaded;
        Ok(first_sequence.unwrap_or(min_sequence))
    }
}
