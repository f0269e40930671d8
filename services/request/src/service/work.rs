//! The workers: claim due jobs under a lease, run them, record failures with backoff. Any
//! number of processes may run workers on one PostgreSQL database.

use futures::StreamExt;
use latch_runtime::ServiceResult;

use super::RequestService;
use super::grant::{Attempt, Granted};
use crate::domain::backoff::retry_at;
use crate::store::holds;
use crate::store::jobs::{self, Job};

/// How many claimed jobs run at once.
const CONCURRENCY: usize = 16;
/// Most grants written in one transaction (SQLite).
const MAX_GRANTS_PER_WRITE: usize = 64;

/// Where a worker hands the grants it made to the one writing them (SQLite).
type Recorder = tokio::sync::mpsc::UnboundedSender<(Job, Box<Granted>)>;

impl RequestService {
    /// Claims and runs the jobs due now; returns how many ran.
    pub async fn run_due_jobs(&self) -> ServiceResult<usize> {
        let config = self.config();
        let claim = format!("{}:{}", self.worker_name(), uuid::Uuid::now_v7().simple());
        let claimed = {
            let _turn = self.writer_turn().await;
            jobs::claim(self.db(), &claim, self.now(), config.lease, config.batch).await?
        };
        let count = claimed.len();
        // On SQLite every write waits for the one writer's turn: the grants that finish while
        // one batch is written are written together in the next turn (group commit), instead
        // of each queueing behind every submit for a turn and a commit of its own.
        let (recorder, mut granted) = match self.inner.writer {
            Some(_) => {
                let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
                (Some(sender), Some(receiver))
            }
            None => (None, None),
        };
        let run = async move {
            let recorder = recorder.as_ref();
            futures::stream::iter(claimed)
                .for_each_concurrent(CONCURRENCY, |job| async move {
                    self.run_job(&job, recorder).await;
                })
                .await;
            // The recorder is dropped here: the writer below ends once it has written the rest.
        };
        let write = async {
            if let Some(granted) = granted.as_mut() {
                self.write_grants(granted).await;
            }
        };
        futures::join!(run, write);
        Ok(count)
    }

    /// Writes the grants handed over, as many as are waiting in each transaction.
    async fn write_grants(&self, granted: &mut tokio::sync::mpsc::UnboundedReceiver<(Job, Box<Granted>)>) {
        while let Some(first) = granted.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_GRANTS_PER_WRITE
                && let Ok(next) = granted.try_recv()
            {
                batch.push(next);
            }
            let failures = match self.write_grant_batch(&batch).await {
                Ok(failures) => failures,
                // The transaction itself failed: nothing of the batch was written.
                Err(error) => batch.iter().map(|(job, _)| (job, error.to_string())).collect(),
            };
            for (job, error) in failures {
                self.record_failure(job, &error).await;
            }
        }
    }

    /// One transaction, one savepoint per grant: a grant that cannot be written (or whose lease
    /// was lost) is undone alone and the rest commit. Returns the grants that failed.
    async fn write_grant_batch<'a>(&self, batch: &'a [(Job, Box<Granted>)]) -> ServiceResult<Vec<(&'a Job, String)>> {
        // SQLite only: the writer's turn is the grantee lock.
        let tx = self.begin("").await?;
        let mut failures = Vec::new();
        for (job, granted) in batch {
            let step = tx.savepoint().await?;
            match self.record_grant(&step, job, granted).await {
                Ok(true) => step.commit().await?,
                Ok(false) => step.rollback().await?,
                Err(error) => {
                    step.rollback().await?;
                    failures.push((job, error.to_string()));
                }
            }
        }
        tx.commit().await?;
        Ok(failures)
    }

    async fn dispatch(&self, job: &Job) -> ServiceResult<Attempt> {
        match job.kind.as_str() {
            "start" => self.run_start(job).await,
            "grant" => self.run_grant(job).await,
            "extend" => self.run_extend(job).await,
            "revoke" => self.run_revoke(job).await,
            "revoke_stale" => self.run_revoke_stale(job).await,
            "expire" => self.run_expire(job).await,
            "approval_timeout" => self.run_approval_timeout(job).await,
            "notify" => self.run_notify(job).await,
            "review_reminder" => self.run_review_reminder(job).await,
            "reconcile" => self.run_reconcile(job).await,
            other => Ok(Attempt::Retry(format!("unknown job kind {other:?}"))),
        }
    }

    /// Keeps the lease of a running job alive (a slow connector call must not let another
    /// worker start the same job); returns only if the lease was lost.
    async fn keep_lease(&self, job: &Job) {
        let claim = job.lease_owner.clone().unwrap_or_default();
        let lease = self.config().lease;
        let every = (lease / 3).to_std().unwrap_or(std::time::Duration::from_secs(10));
        loop {
            tokio::time::sleep(every).await;
            let renewed = {
                let _turn = self.writer_turn().await;
                jobs::renew(self.db(), &job.id, &claim, self.now() + lease).await
            };
            match renewed {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(job = %job.id, "lease lost while running");
                    return;
                }
                Err(error) => tracing::warn!(job = %job.id, %error, "could not renew the lease"),
            }
        }
    }

    async fn run_job(&self, job: &Job, recorder: Option<&Recorder>) {
        let result = tokio::select! {
            result = self.dispatch(job) => result,
            () = self.keep_lease(job) => {
                // Another claim owns the job now; it does the work (connector calls are
                // idempotent on the grant id).
                return;
            }
        };
        let result = match result {
            Ok(Attempt::Record(granted)) => match recorder {
                Some(recorder) => match recorder.send((job.clone(), granted)) {
                    Ok(()) => return,
                    Err(unsent) => self.record_grant_alone(job, &unsent.0.1).await,
                },
                None => self.record_grant_alone(job, &granted).await,
            },
            other => other,
        };
        let error = match result {
            Ok(Attempt::Done | Attempt::Record(_)) => return,
            Ok(Attempt::Retry(error)) => error,
            Err(error) => error.to_string(),
        };
        self.record_failure(job, &error).await;
    }

    /// A failed attempt: the job runs again after its backoff, and a grant's error is shown.
    async fn record_failure(&self, job: &Job, error: &str) {
        let attempt = u32::try_from(job.attempts).unwrap_or(0) + 1;
        let retry = retry_at(&job.id, attempt, self.now());
        tracing::warn!(job = %job.id, attempt, %error, retry_at = %retry, "job failed; will retry");
        let _turn = self.writer_turn().await;
        if matches!(job.kind.as_str(), "grant" | "revoke" | "extend")
            && let Err(e) = holds::set_error(self.db(), &job.subject, error).await
        {
            tracing::warn!(job = %job.id, error = %e, "could not record the job's error");
        }
        let claim = job.lease_owner.as_deref().unwrap_or_default();
        if let Err(e) = jobs::fail(self.db(), &job.id, claim, error, retry).await {
            // The lease runs out and the job is claimed again: nothing is lost.
            tracing::warn!(job = %job.id, error = %e, "could not record the failed attempt");
        }
    }

    /// Runs workers until the task is aborted: all due jobs, then waits for new ones.
    pub fn spawn_workers(&self) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let released = {
                let _turn = service.writer_turn().await;
                jobs::release_leases(service.db(), service.worker_name()).await
            };
            match released {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "took back the jobs this worker held before a restart"),
                Err(error) => tracing::warn!(%error, "could not take back this worker's leases"),
            }
            loop {
                match service.run_due_jobs().await {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "claiming jobs failed"),
                }
                tokio::select! {
                    () = tokio::time::sleep(service.config().poll) => {}
                    () = service.wake().notified() => {}
                }
            }
        })
    }

    /// Hands back the leases this process holds (after its workers stopped), so the jobs run
    /// again at once elsewhere or after a restart.
    pub async fn release_own_leases(&self) -> ServiceResult<u64> {
        let _turn = self.writer_turn().await;
        Ok(jobs::release_leases(self.db(), self.worker_name()).await?)
    }

    /// Jobs not done yet, with their attempts and last errors.
    pub async fn pending_jobs(&self) -> ServiceResult<Vec<Job>> {
        Ok(jobs::pending(self.db()).await?)
    }
}
