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
/// Open watch streams per caller: one user cannot take every stream.
pub const MAX_WATCHERS_PER_CALLER: usize = 64;
/// The longest a watcher goes without reading its request.
const RECHECK: Duration = Duration::from_secs(1);
/// The longest a stream lasts: the client opens a new one, which authenticates its token again
/// (a revoked token or a lost role stops a watch within this).
pub const MAX_STREAM: Duration = Duration::from_secs(10 * 60);

/// A watched request's change counter and how many watch it.
type Watched = (tokio::sync::watch::Sender<u64>, usize);

/// The watched requests by id, and how many streams each caller holds.
#[derive(Default)]
pub(crate) struct Watching {
    requests: Mutex<HashMap<Arc<str>, Watched>>,
    callers: Mutex<HashMap<String, usize>>,
}

/// One caller's open stream; dropping it gives the slot back.
struct CallerSlot {
    watching: Arc<Watching>,
    user_id: String,
}

impl Drop for CallerSlot {
    fn drop(&mut self) {
        let mut callers = self.watching.callers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = callers.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                callers.remove(&self.user_id);
            }
        }
    }
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

    /// A stream slot for `user_id`, unless they hold [`MAX_WATCHERS_PER_CALLER`] already.
    fn slot(self: &Arc<Self>, user_id: &str) -> Option<CallerSlot> {
        let mut callers = self.callers.lock().unwrap_or_else(|p| p.into_inner());
        let count = callers.entry(user_id.to_string()).or_default();
        if *count >= MAX_WATCHERS_PER_CALLER {
            return None;
        }
        *count += 1;
        Some(CallerSlot {
            watching: self.clone(),
            user_id: user_id.to_string(),
        })
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
    /// The stream of a request's views for `caller`. Who may read it is checked at every read
    /// (a requester, grantee or approver who loses the right stops receiving); the token is
    /// checked again when the client reconnects, at the latest after [`MAX_STREAM`].
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
        let slot = self.inner.watching.slot(&caller.user_id).ok_or_else(|| {
            ServiceError::ResourceExhausted(format!(
                "at most {MAX_WATCHERS_PER_CALLER} open watch streams per caller"
            ))
        })?;
        // Subscribed before the first read: a close or a change in between is not missed.
        let mut closing = self.inner.closing.subscribe();
        let mut registration = self.inner.watching.register(id.as_str().into());
        let first = self.get(&caller, &id).await?;
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        let service = self.clone();
        tokio::spawn(async move {
            let (_permit, _slot) = (permit, slot);
            let ends = tokio::time::Instant::now() + MAX_STREAM;
            // A send waits for a slow reader, but never past a shutdown or the stream's end.
            let send = async |update: ServiceResult<RequestView>, closing: &mut tokio::sync::watch::Receiver<bool>| {
                if *closing.borrow() {
                    return false;
                }
                tokio::select! {
                    sent = sender.send(update) => sent.is_ok(),
                    _ = closing.changed() => false,
                    () = tokio::time::sleep_until(ends) => false,
                }
            };
            let mut last = fingerprint(&first);
            let mut done = first.request.state.is_terminal();
            if !send(Ok(first), &mut closing).await || done {
                return;
            }
            while !done {
                tokio::select! {
                    () = tokio::time::sleep(RECHECK) => {}
                    () = sender.closed() => return,
                    _ = closing.changed() => return,
                    () = tokio::time::sleep_until(ends) => return,
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
                        send(Err(error), &mut closing).await;
                        return;
                    }
                };
                done = view.request.state.is_terminal();
                let now = fingerprint(&view);
                if now != last {
                    last = now;
                    if !send(Ok(view), &mut closing).await {
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

    #[test]
    fn one_caller_cannot_hold_every_stream() {
        let watching = Arc::new(Watching::default());
        let mine: Vec<_> = (0..MAX_WATCHERS_PER_CALLER)
            .map(|_| watching.slot("u1").expect("a slot"))
            .collect();
        assert!(watching.slot("u1").is_none(), "the caller's limit");
        assert!(watching.slot("u2").is_some(), "others still watch");
        drop(mine);
        assert!(watching.slot("u1").is_some(), "slots come back");
    }
}
