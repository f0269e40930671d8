//! `WatchChanges`: replay from a sequence, then follow new changes as they commit.

use std::time::Duration;

use futures::Stream;
use latch_runtime::ServiceResult;

use super::CatalogService;
use crate::domain::change::Change;

const BATCH: u64 = 500;
/// How long a watcher waits for a local notification before looking at the table itself
/// (changes from other replicas arrive that way).
const POLL: Duration = Duration::from_millis(250);

impl CatalogService {
    /// Every change after `after_sequence`, in order, without gaps, then live ones. A change is
    /// sent only once this replica's snapshot includes it, so a caller that re-reads on a change
    /// (resolves targets again) sees its effect. Ends when the receiver is dropped, the server
    /// stops or the store fails.
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
                if let Some(last) = changes.last()
                    && service.state().last_change < last.sequence
                    && let Err(error) = service.catch_up().await
                {
                    let _ = sender.send(Err(error)).await;
                    return;
                }
                for change in changes {
                    debug_assert_eq!(change.sequence, cursor + 1, "the feed has no gaps");
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

    /// Ends every change stream (the server is stopping).
    pub fn close_streams(&self) {
        self.inner.closing.send_replace(true);
    }
}
