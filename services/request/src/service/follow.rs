//! Runs the reconciler: follows the directory change feed from its durable cursor, watches
//! flows and the catalog for changes, and makes a full pass at start and periodically (the
//! safety net, and what catches time windows opening and closing).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use latch_runtime::{ServiceError, ServiceResult};

use super::RequestService;
use crate::ports::DirectoryChange;
use crate::store::automatic;

/// The reconciler's cursor in the directory change feed.
pub const DIRECTORY_FEED: &str = "reconciler:directory";
/// Changes taken from the feed before reconciling the users they name.
const BATCH: usize = 500;

/// A change from the feed and every other one ready now, up to `max` (an ended feed is an
/// error: the reader starts again from its cursor).
pub(crate) fn batch(
    first: Option<ServiceResult<DirectoryChange>>,
    changes: &mut BoxStream<'static, ServiceResult<DirectoryChange>>,
    max: usize,
) -> ServiceResult<Vec<DirectoryChange>> {
    let Some(first) = first else {
        return Err(ServiceError::Unavailable("the directory change feed ended".into()));
    };
    let mut batch = vec![first?];
    while batch.len() < max {
        match changes.next().now_or_never() {
            Some(Some(change)) => batch.push(change?),
            _ => break,
        }
    }
    Ok(batch)
}

impl RequestService {
    /// Keeps automatic access reconciled until the service is dropped; restarts after errors
    /// from where its cursor stands.
    pub fn spawn_reconciler(&self, full_every: Duration) -> tokio::task::JoinHandle<()> {
        self.spawn_restarting(
            "reconciler",
            move |service| async move { service.follow(full_every).await },
        )
    }

    /// Runs `task` until the service is dropped, starting it again a second after it fails.
    pub(crate) fn spawn_restarting<F, Fut>(&self, what: &'static str, task: F) -> tokio::task::JoinHandle<()>
    where
        F: Fn(RequestService) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ServiceResult<()>> + Send,
    {
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(error) = task(service.clone()).await {
                    tracing::warn!(%error, "{what} failed; starting again in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        })
    }

    async fn follow(&self, full_every: Duration) -> ServiceResult<()> {
        let cursor = automatic::cursor(self.db(), DIRECTORY_FEED).await?;
        let mut generation = self.ports().flows.generation().await?;
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
                    let batch = batch(change, &mut changes, BATCH)?;
                    // The users named first (a deactivation must not wait on anything), then a
                    // full pass when a change may touch users it does not name.
                    let users: BTreeSet<&str> = batch.iter().flat_map(|c| c.users.iter().map(String::as_str)).collect();
                    for user in users {
                        self.reconcile_or_retry(user).await?;
                    }
                    if batch.iter().any(|c| c.broad) {
                        self.reconcile_all().await?;
                        last_full = Instant::now();
                    }
                    let last = batch.last().map_or(0, |c| c.sequence);
                    let _turn = self.writer_turn().await;
                    automatic::advance(self.db(), DIRECTORY_FEED, last, self.now()).await?;
                }
                _ = tick.tick() => {
                    // A flow service out of reach now is asked again at the next tick.
                    let now = match self.ports().flows.generation().await {
                        Ok(now) => now,
                        Err(error) => {
                            tracing::warn!(%error, "cannot ask the flow service where flows stand; will retry");
                            generation
                        }
                    };
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
