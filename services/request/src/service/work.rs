//! The workers: claim due jobs under a lease, run them, record failures with backoff. Any
//! number of processes may run workers on one PostgreSQL database.

use futures::StreamExt;
use latch_runtime::ServiceResult;

use super::RequestService;
use super::grant::Attempt;
use crate::domain::backoff::retry_at;
use crate::store::holds;
use crate::store::jobs::{self, Job};

/// How many claimed jobs run at once.
const CONCURRENCY: usize = 16;

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
        futures::stream::iter(claimed)
            .for_each_concurrent(CONCURRENCY, |job| async move {
                self.run_job(&job).await;
            })
            .await;
        Ok(count)
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

    async fn run_job(&self, job: &Job) {
        let result = tokio::select! {
            result = self.dispatch(job) => result,
            () = self.keep_lease(job) => {
                // Another claim owns the job now; it does the work (connector calls are
                // idempotent on the grant id).
                return;
            }
        };
        let error = match result {
            Ok(Attempt::Done) => return,
            Ok(Attempt::Retry(error)) => error,
            Err(error) => error.to_string(),
        };
        let attempt = u32::try_from(job.attempts).unwrap_or(0) + 1;
        let retry = retry_at(&job.id, attempt, self.now());
        tracing::warn!(job = %job.id, attempt, %error, retry_at = %retry, "job failed; will retry");
        let _turn = self.writer_turn().await;
        if matches!(job.kind.as_str(), "grant" | "revoke" | "extend")
            && let Err(e) = holds::set_error(self.db(), &job.subject, &error).await
        {
            tracing::warn!(job = %job.id, error = %e, "could not record the job's error");
        }
        let claim = job.lease_owner.as_deref().unwrap_or_default();
        if let Err(e) = jobs::fail(self.db(), &job.id, claim, &error, retry).await {
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
