//! Grants a target system lost behind Latch's back (restored from a backup, an in-memory
//! system restarted). That is drift, found by the drift check or by an extend call answering
//! NOT_FOUND: the grant is given again under the same grant id and recorded in the history of
//! every request holding it; when the connector refuses it for good, those requests end with
//! the reason. Nothing is retried forever.

use std::collections::BTreeSet;

use latch_connector_sdk::ConnectorError;
use latch_runtime::{ServiceError, ServiceResult};

use super::RequestService;
use super::grant::Attempt;
use crate::domain::expiry::needs_extend;
use crate::store::holds::{self, HoldRow, HoldState};
use crate::store::jobs::Job;
use crate::store::requests::{self, ItemState};

/// What giving a missing grant again came to.
#[derive(Debug)]
pub(crate) enum GivenAgain {
    Given,
    /// Latch no longer holds it as given (it ended meanwhile): nothing to give.
    NoLongerGiven,
    Refused(ConnectorError),
}

impl RequestService {
    /// Gives a grant Latch holds as given again under its grant id, and records it in the
    /// history of the requests holding it (`why` says how it was found missing). The connector
    /// is called outside any lock; the result is kept only if the grant is still given,
    /// otherwise what was just granted is taken back.
    pub(crate) async fn give_again(&self, hold_id: &str, why: &str) -> ServiceResult<GivenAgain> {
        let Some(current) = holds::get(self.db(), hold_id).await? else {
            return Ok(GivenAgain::NoLongerGiven);
        };
        if current.state != HoldState::Granted {
            return Ok(GivenAgain::NoLongerGiven);
        }
        let told = self.told(current.ends_at);
        let outcome = match self.call_grant(&current).await {
            Ok(outcome) => outcome,
            Err(error) => return Ok(GivenAgain::Refused(error)),
        };
        let tx = self.begin(&current.grantee_id).await?;
        let given = match holds::get(&*tx, hold_id).await? {
            Some(mut hold) if hold.state == HoldState::Granted => {
                hold.account = outcome.account.clone();
                if !outcome.credentials.is_empty() {
                    let json = serde_json::to_vec(&outcome.credentials).map_err(ServiceError::internal)?;
                    hold.credentials = self.secrets().seal_bound(&json, hold.id.as_bytes());
                }
                // A fresh grant holds what this call told; racing extend calls see the bump.
                hold.told_until = told;
                hold.extend_seq += 1;
                hold.error = String::new();
                holds::update(&*tx, &hold).await?;
                if needs_extend(hold.ends_at, hold.told_until) {
                    let id = format!("extend:{}:{}", hold.id, uuid::Uuid::now_v7().simple());
                    self.enqueue(&tx, "extend", &hold.id, id, self.now()).await?;
                }
                tracing::warn!(
                    grant_id = %hold.id,
                    integration = %hold.integration_id,
                    resource = %hold.resource_id,
                    permission = %hold.permission,
                    why,
                    "a grant was missing at the target system; given again under the same grant id"
                );
                let detail = format!(
                    "{why}: {} {} was missing at the target system and was given again under the same grant id",
                    hold.resource_id, hold.permission
                );
                for request_id in self.holders(&tx, &hold.id).await? {
                    let mut request = self.load(&*tx, &request_id).await?;
                    self.record(&tx, &mut request, "regranted", "latch", &detail).await?;
                }
                GivenAgain::Given
            }
            _ => {
                let id = format!("revoke_stale:{hold_id}:{}", uuid::Uuid::now_v7().simple());
                self.enqueue(&tx, "revoke_stale", hold_id, id, self.now()).await?;
                GivenAgain::NoLongerGiven
            }
        };
        tx.commit().await?;
        Ok(given)
    }

    /// The requests whose items hold the granted grant `hold_id`.
    async fn holders(&self, tx: &super::Tx, hold_id: &str) -> ServiceResult<BTreeSet<String>> {
        Ok(requests::items_on_hold(&**tx, hold_id, &[ItemState::Granted])
            .await?
            .into_iter()
            .map(|item| item.request_id)
            .collect())
    }

    /// The extend job's answer to a connector error: a missing grant is given again; a passing
    /// fault is retried; a permanent refusal is recorded and not retried.
    pub(crate) async fn extend_failed(
        &self,
        job: &Job,
        hold: &HoldRow,
        error: ConnectorError,
    ) -> ServiceResult<Attempt> {
        if error.is_retryable() {
            return Ok(Attempt::Retry(error.to_string()));
        }
        if !matches!(error, ConnectorError::NotFound(_)) {
            return self.extend_refused(job, hold, &error).await;
        }
        tracing::warn!(grant_id = %hold.id, %error, "an extend found the grant missing at the target system");
        match self.give_again(&hold.id, "drift found by an extend").await? {
            GivenAgain::Given | GivenAgain::NoLongerGiven => {
                let tx = self.begin(&hold.grantee_id).await?;
                self.finish(tx, job).await
            }
            GivenAgain::Refused(refusal)
                if refusal.is_retryable() && job.attempts + 1 < self.config().max_grant_attempts =>
            {
                Ok(Attempt::Retry(format!(
                    "the grant is missing at the target system; giving it again failed: {refusal}"
                )))
            }
            GivenAgain::Refused(refusal) => {
                let reason = format!(
                    "the grant of {} {} was lost at the target system and giving it again was refused: {refusal}",
                    hold.resource_id, hold.permission
                );
                self.lost_for_good(job, &hold.id, &reason).await
            }
        }
    }

    /// A lost grant cannot be given again: every request holding it ends (revoked) with the
    /// reason, and the grant id is revoked all the same (an attempt may have half-granted).
    async fn lost_for_good(&self, job: &Job, hold_id: &str, reason: &str) -> ServiceResult<Attempt> {
        let (tx, hold) = self.lock_hold(hold_id, HoldState::Granted).await?;
        if let Some(mut hold) = hold {
            tracing::warn!(grant_id = %hold_id, reason, "a lost grant could not be given again; its requests end");
            hold.error = reason.to_string();
            holds::update(&*tx, &hold).await?;
            for request_id in self.holders(&tx, hold_id).await? {
                let mut request = self.load(&*tx, &request_id).await?;
                if request.state.may_hold_access() {
                    self.end(&tx, &mut request, false, "latch", reason).await?;
                }
            }
        }
        self.finish(tx, job).await
    }

    /// The connector refused to move a grant's expiry for good (not a missing grant): retrying
    /// cannot help, so the refusal is recorded on the grant and in its holders' history, and
    /// the grant keeps the expiry the connector holds.
    async fn extend_refused(&self, job: &Job, hold: &HoldRow, error: &ConnectorError) -> ServiceResult<Attempt> {
        tracing::warn!(grant_id = %hold.id, %error, "the connector refused to move a grant's expiry");
        let tx = self.begin(&hold.grantee_id).await?;
        if let Some(mut current) = holds::get(&*tx, &hold.id).await?
            && current.state == HoldState::Granted
        {
            current.error = format!("extend refused: {error}");
            holds::update(&*tx, &current).await?;
            let until = current
                .told_until
                .map(|t| format!("; the target system may end access at {}", t.to_rfc3339()))
                .unwrap_or_default();
            let detail = format!(
                "the connector refused to move the expiry of {} {}: {error}{until}",
                current.resource_id, current.permission
            );
            for request_id in self.holders(&tx, &current.id).await? {
                let mut request = self.load(&*tx, &request_id).await?;
                self.record(&tx, &mut request, "extend_refused", "latch", &detail)
                    .await?;
            }
        }
        self.finish(tx, job).await
    }
}
