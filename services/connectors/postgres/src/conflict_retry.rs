//! Conflicts with a concurrent change, retried here at once.
//!
//! A serialization failure, a deadlock or a catalog row updated concurrently says another
//! transaction got there first; the same call a moment later succeeds. Handing it back to
//! Latch would send it to the job queue's backoff of seconds, and for those seconds a revoked
//! user keeps access. Each operation is idempotent on its grant id, so running it again whole
//! is safe.

use std::future::Future;
use std::time::Duration;

use latch_connector_sdk::ConnectorError;
use rand::Rng;

/// Calls in all, the first included, before a conflict is handed back to the caller.
pub const ATTEMPTS: u32 = 5;
/// The pause before attempt n+1 is n times this, plus as much again at random, so callers that
/// collided do not collide again in step.
const PAUSE_STEP: Duration = Duration::from_millis(5);

/// Runs `call`, again at once while it fails with [`ConnectorError::Aborted`] (the connector's
/// kind for a conflict with a concurrent change), at most [`ATTEMPTS`] times.
pub async fn retrying_conflicts<T, F, Fut>(operation: &str, mut call: F) -> Result<T, ConnectorError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ConnectorError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(ConnectorError::Aborted(message)) if attempt < ATTEMPTS => {
                tracing::debug!(operation, attempt, error = %message, "conflict with a concurrent change, retrying at once");
                let jitter = rand::rng().random_range(0..=PAUSE_STEP.as_micros() as u64);
                tokio::time::sleep(PAUSE_STEP * attempt + Duration::from_micros(jitter)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    async fn calls_until(outcomes: Vec<Result<(), ConnectorError>>) -> (Result<(), ConnectorError>, u32) {
        let calls = AtomicU32::new(0);
        let outcomes = std::sync::Mutex::new(outcomes.into_iter());
        let result = retrying_conflicts("test", || {
            calls.fetch_add(1, Ordering::SeqCst);
            let next = outcomes.lock().unwrap().next().unwrap_or(Ok(()));
            async move { next }
        })
        .await;
        (result, calls.load(Ordering::SeqCst))
    }

    fn conflict() -> Result<(), ConnectorError> {
        Err(ConnectorError::Aborted("tuple concurrently updated".into()))
    }

    #[tokio::test]
    async fn a_conflict_is_retried_until_the_call_succeeds() {
        let (result, calls) = calls_until(vec![conflict(), conflict()]).await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(calls, 3);
    }

    #[tokio::test]
    async fn a_lasting_conflict_is_handed_back_after_the_last_attempt() {
        let (result, calls) = calls_until((0..10).map(|_| conflict()).collect()).await;
        assert!(matches!(result, Err(ConnectorError::Aborted(_))), "{result:?}");
        assert_eq!(calls, ATTEMPTS);
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let unavailable = Err(ConnectorError::Unavailable("down".into()));
        let (result, calls) = calls_until(vec![unavailable]).await;
        assert!(matches!(result, Err(ConnectorError::Unavailable(_))), "{result:?}");
        assert_eq!(calls, 1);
        let refused = Err(ConnectorError::FailedPrecondition("no such table".into()));
        let (_, calls) = calls_until(vec![refused]).await;
        assert_eq!(calls, 1);
    }
}
