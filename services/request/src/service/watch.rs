//! `WatchRequest`: a request as it is now, then again each time it changes, until it ends.
//!
//! A watcher registers its request; every commit of this process tells the watchers of the
//! requests it changed (and no one else). A watcher reads its request again when told, and at
//! least every [`RECHECK`] (changes committed by another replica). It sends only what differs
//! from what it sent last, and ends after sending a final state.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latch_runtime::{Caller, ServiceError, ServiceResult};

use super::RequestService;
use super::views::RequestView;

/// Open watch streams per process.
pub const MAX_WATCHERS: usize = 10_000;
/// The longest a watcher goes without reading its request.
const RECHECK: Duration = Duration::from_secs(1);

/// A watched request's change counter and how many watch it.
type Watched = (tokio::sync::watch::Sender<u64>, usize);

/// The watched requests by id.
#[derive(Default)]
pub(crate) struct Watching {
    requests: Mutex<HashMap<Arc<str>, Watched>>,
}

impl Watching {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Watched>> {
        self.requests.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells the watchers of these requests that a commit changed them.
    pub(crate) fn changed(&self, ids: &[Arc<str>]) {
        let requests = self.lock();
        for id in ids {
            if let Some((counter, _)) = requests.get(id) {
                counter.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    fn register(self: &Arc<Self>, id: Arc<str>) -> Registration {
        let mut requests = self.lock();
        let entry = requests
            .entry(id.clone())
            .or_insert_with(|| (tokio::sync::watch::channel(0).0, 0));
        entry.1 += 1;
        Registration {
            changes: entry.0.subscribe(),
            watching: self.clone(),
            id,
        }
    }
}

/// One watcher's registration; dropping it unregisters.
struct Registration {
    changes: tokio::sync::watch::Receiver<u64>,
    watching: Arc<Watching>,
    id: Arc<str>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut requests = self.watching.lock();
        if let Some(entry) = requests.get_mut(&self.id) {
            entry.1 -= 1;
            if entry.1 == 0 {
                requests.remove(&self.id);
            }
        }
    }
}

fn fingerprint(view: &RequestView) -> u64 {
    let mut hasher = DefaultHasher::new();
    format!("{view:?}").hash(&mut hasher);
    hasher.finish()
}

impl RequestService {
    /// The stream of a request's views for `caller` (who must be allowed to read it; checked
    /// at every read, so a caller who loses the right stops receiving).
    pub async fn watch(
        &self,
        caller: Caller,
        id: String,
    ) -> ServiceResult<tokio_stream::wrappers::ReceiverStream<ServiceResult<RequestView>>> {
        let permit = self
            .inner
            .watchers
            .clone()
            .try_acquire_owned()
            .map_err(|_| ServiceError::ResourceExhausted(format!("more than {MAX_WATCHERS} open watch streams")))?;
        // Registered before the first read: a change committed in between is not missed.
        let mut registration = self.inner.watching.register(id.as_str().into());
        let first = self.get(&caller, &id).await?;
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        let service = self.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut closing = service.inner.closing.subscribe();
            let mut last = fingerprint(&first);
            let mut done = first.request.state.is_terminal();
            if sender.send(Ok(first)).await.is_err() || done {
                return;
            }
            while !done {
                tokio::select! {
                    () = tokio::time::sleep(RECHECK) => {}
                    () = sender.closed() => return,
                    _ = closing.changed() => return,
                    changed = registration.changes.changed() => {
                        if changed.is_err() {
                            return;
                        }
                    }
                }
                registration.changes.mark_unchanged();
                let view = match service.get(&caller, &id).await {
                    Ok(view) => view,
                    Err(error) => {
                        let _ = sender.send(Err(error)).await;
                        return;
                    }
                };
                done = view.request.state.is_terminal();
                let now = fingerprint(&view);
                if now != last {
                    last = now;
                    if sender.send(Ok(view)).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(tokio_stream::wrappers::ReceiverStream::new(receiver))
    }

    /// Ends every open watch stream; called when the server begins to shut down.
    pub fn close_streams(&self) {
        self.inner.closing.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_watchers_of_a_changed_request_are_told_and_the_last_one_out_unregisters() {
        let watching = Arc::new(Watching::default());
        let mut first = watching.register("r1".into());
        let second = watching.register("r1".into());
        let mut other = watching.register("r2".into());
        watching.changed(&["r1".into()]);
        assert!(first.changes.has_changed().unwrap());
        assert!(!other.changes.has_changed().unwrap(), "r2 did not change");
        first.changes.mark_unchanged();
        other.changes.mark_unchanged();
        drop(second);
        assert!(watching.lock().contains_key("r1"), "one watcher is left");
        drop(first);
        assert!(!watching.lock().contains_key("r1"));
        drop(other);
        assert!(watching.lock().is_empty());
    }
}
