//! `WatchChanges`: replay from a sequence, then follow new changes as they commit.

use std::time::Duration;

use futures::Stream;
use latch_runtime::ServiceResult;

use super::IdentityService;
use crate::domain::change::Change;

const BATCH: u64 = 500;
/// How long a watcher waits for a local notification before looking at the table itself
/// (changes from other replicas arrive that way when no follower runs).
const POLL: Duration = Duration::from_millis(500);

impl IdentityService {
    /// Every change after `after_sequence`, in order, without gaps, then live ones. Ends only when
    /// the receiver is dropped or the store fails.
    pub fn watch_changes(&self, after_sequence: i64) -> impl Stream<Item = ServiceResult<Change>> + Send + 'static {
        let service = self.clone();
        let (sender, receiver) = tokio::sync::mpsc::channel(BATCH as usize);
        tokio::spawn(async move {
            let mut cursor = after_sequence.max(0);
            let mut applied = service.inner.applied.subscribe();
            let mut closing = service.inner.closing.subscribe();
            loop {
                if *closing.borrow_and_update() {
                    return;
                }
                let changes = match service.store().changes_after(cursor, BATCH).await {
                    Ok(changes) => changes,
                    Err(error) => {
                        let _ = sender.send(Err(error.into())).await;
                        return;
                    }
                };
                let caught_up = (changes.len() as u64) < BATCH;
                for change in changes {
                    debug_assert!(change.sequence > cursor);
                    cursor = change.sequence;
                    if sender.send(Ok(change)).await.is_err() {
                        return;
                    }
                }
                if caught_up {
                    tokio::select! {
                        _ = sender.closed() => return,
                        _ = closing.changed() => return,
                        _ = applied.changed() => {}
                        _ = tokio::time::sleep(POLL) => {}
                    }
                }
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(receiver)
    }
}
