//! Runs the reconciler: follows the directory change feed from its durable cursor, watches
//! flows and the catalog for changes, and makes a full pass at start and periodically (the
//! safety net, and what catches time windows opening and closing).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use latch_runtime::{ServiceError, ServiceResult};

use super::RequestService;
use crate::store::automatic;

/// The reconciler's cursor in the directory change feed.
pub const DIRECTORY_FEED: &str = "reconciler:directory";
/// Changes taken from the feed before reconciling the users they name.
const BATCH: usize = 500;

impl RequestService {
    /// Keeps automatic access reconciled until the service is dropped; restarts after errors
    /// from where its cursor stands.
    pub fn spawn_reconciler(&self, full_every: Duration) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(error) = service.follow(full_every).await {
                    tracing::warn!(%error, "reconciler failed; starting again in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        })
    }

    async fn follow(&self, full_every: Duration) -> ServiceResult<()> {
        let cursor = automatic::cursor(self.db(), DIRECTORY_FEED).await?;
        let mut generation = self.ports().flows.generation();
        let done = self.reconcile_all().await?;
        tracing::info!(
            users = done.users,
            granted = done.granted,
            revoked = done.revoked,
            "reconciler started"
        );
        let mut last_full = Instant::now();
        let mut changes = self.ports().people.watch(cursor);
        let mut tick = tokio::time::interval(self.config().poll.max(Duration::from_millis(50)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                change = changes.next() => {
                    let Some(change) = change else {
                        return Err(ServiceError::Unavailable("the directory change feed ended".into()));
                    };
                    let mut batch = vec![change?];
                    while batch.len() < BATCH {
                        match changes.next().now_or_never() {
                            Some(Some(change)) => batch.push(change?),
                            _ => break,
                        }
                    }
                    if batch.iter().any(|c| c.broad) {
                        self.reconcile_all().await?;
                        last_full = Instant::now();
                    } else {
                        let users: BTreeSet<&str> = batch.iter().flat_map(|c| c.users.iter().map(String::as_str)).collect();
                        for user in users {
                            self.reconcile_user(user).await?;
                        }
                    }
                    let last = batch.last().map_or(0, |c| c.sequence);
                    let _turn = self.writer_turn().await;
                    automatic::advance(self.db(), DIRECTORY_FEED, last, self.now()).await?;
                }
                _ = tick.tick() => {
                    let now = self.ports().flows.generation();
                    if now != generation || last_full.elapsed() >= full_every {
                        generation = now;
                        self.reconcile_all().await?;
                        last_full = Instant::now();
                    }
                }
            }
        }
    }
}
