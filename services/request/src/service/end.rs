//! Ending access: at expiry, or revoked early. Each item releases its shared grant; the last
//! holder's release revokes it through a durable job that retries until the connector confirms.
//! The request ends (expired or revoked) when every item is released.

use std::collections::BTreeSet;

use latch_runtime::ServiceResult;

use super::grant::Attempt;
use super::{RequestService, Tx};
use crate::domain::lifecycle::{Event, State, next, revoked_state};
use crate::store::holds::{self, HoldRow, HoldState};
use crate::store::jobs::Job;
use crate::store::requests::{self, ItemRow, ItemState, RequestRow};

impl RequestService {
    /// Starts ending a granting or active request.
    pub(crate) async fn end(
        &self,
        tx: &Tx,
        request: &mut RequestRow,
        by_expiry: bool,
        actor: &str,
        detail: &str,
    ) -> ServiceResult<()> {
        request.ends_by = if by_expiry { "expiry" } else { "revoke" }.into();
        request.outcome = detail.to_string();
        let event = if by_expiry { Event::Expire } else { Event::Revoke };
        self.transition(tx, request, event, actor, detail).await?;
        for item in requests::items(&**tx, &request.id).await? {
            if item.state.holds() {
                self.release(tx, &item).await?;
            } else if item.state == ItemState::Pending {
                requests::set_item(&**tx, &item.request_id, item.position, ItemState::Skipped, None).await?;
            }
        }
        self.settle(tx, request).await
    }

    /// One item lets go of its shared grant. The last holder of a granted grant starts its
    /// revoke; while other requests still hold it, the connector grant stays.
    pub(crate) async fn release(&self, tx: &Tx, item: &ItemRow) -> ServiceResult<()> {
        let Some(hold_id) = item.hold_id.as_deref() else {
            requests::set_item(&**tx, &item.request_id, item.position, ItemState::Skipped, None).await?;
            return Ok(());
        };
        let others = requests::items_on_hold(&**tx, hold_id, &[ItemState::Granting, ItemState::Granted])
            .await?
            .into_iter()
            .filter(|i| !(i.request_id == item.request_id && i.position == item.position))
            .count();
        if others > 0 {
            requests::set_item(
                &**tx,
                &item.request_id,
                item.position,
                ItemState::Released,
                Some(hold_id),
            )
            .await?;
            return Ok(());
        }
        requests::set_item(
            &**tx,
            &item.request_id,
            item.position,
            ItemState::Releasing,
            Some(hold_id),
        )
        .await?;
        if let Some(mut hold) = holds::get(&**tx, hold_id).await?
            && hold.state == HoldState::Granted
        {
            hold.state = HoldState::Revoking;
            holds::update(&**tx, &hold).await?;
            self.enqueue(tx, "revoke", &hold.id, format!("revoke:{}", hold.id), self.now())
                .await?;
        }
        // A grant still being made is revoked by its grant job once it finds no holders.
        Ok(())
    }

    /// A revoking request whose items are all released ends, expired or revoked.
    pub(crate) async fn settle(&self, tx: &Tx, request: &mut RequestRow) -> ServiceResult<()> {
        if request.state != State::Revoking {
            return Ok(());
        }
        let items = requests::items(&**tx, &request.id).await?;
        if items
            .iter()
            .any(|i| matches!(i.state, ItemState::Granting | ItemState::Granted | ItemState::Releasing))
        {
            return Ok(());
        }
        next(request.state, Event::RevokeConfirmed)
            .map_err(|e| latch_runtime::ServiceError::Internal(e.to_string()))?;
        let to = revoked_state(request.ends_by == "expiry");
        let detail = if to == State::Expired {
            "access ended at expiry; revoke confirmed"
        } else {
            "access revoked; revoke confirmed"
        };
        self.set_state(tx, request, to, "ended", "latch", detail).await
    }

    /// Job `revoke`: asks the connector to revoke the shared grant, until it confirms.
    pub(crate) async fn run_revoke(&self, job: &Job) -> ServiceResult<Attempt> {
        let Some(hold) = holds::get(self.db(), &job.subject).await? else {
            let tx = self.begin("").await?;
            return self.finish(tx, job).await;
        };
        if hold.state != HoldState::Revoking {
            let tx = self.begin(&hold.grantee_id).await?;
            return self.finish(tx, job).await;
        }
        if let Err(error) = self.call_revoke(&hold).await {
            return Ok(Attempt::Retry(error));
        }
        let tx = self.begin(&hold.grantee_id).await?;
        if let Some(mut hold) = holds::get(&*tx, &hold.id).await?
            && hold.state == HoldState::Revoking
        {
            hold.state = HoldState::Revoked;
            hold.credentials = String::new();
            hold.error = String::new();
            hold.revoked_at = Some(self.now());
            holds::update(&*tx, &hold).await?;
            let mut request_ids = BTreeSet::new();
            for item in requests::items_on_hold(&*tx, &hold.id, &[ItemState::Releasing]).await? {
                requests::set_item(
                    &*tx,
                    &item.request_id,
                    item.position,
                    ItemState::Released,
                    Some(&hold.id),
                )
                .await?;
                request_ids.insert(item.request_id);
            }
            for id in request_ids {
                let mut request = self.load(&*tx, &id).await?;
                self.settle(&tx, &mut request).await?;
            }
        }
        self.finish(tx, job).await
    }

    /// Asks the hold's connector to revoke its grant id (revoking nothing counts as done).
    async fn call_revoke(&self, hold: &HoldRow) -> Result<(), String> {
        let connector = self
            .ports()
            .targets
            .connector(&hold.integration_id)
            .await
            .map_err(|e| e.to_string())?;
        connector
            .revoke(&latch_connector_sdk::Config::new(), &hold.id)
            .await
            .map_err(|e| e.to_string())
    }

    /// Job `revoke_stale`: revokes a grant id a stale run granted after its hold had ended.
    pub(crate) async fn run_revoke_stale(&self, job: &Job) -> ServiceResult<Attempt> {
        let Some(hold) = holds::get(self.db(), &job.subject).await? else {
            let tx = self.begin("").await?;
            return self.finish(tx, job).await;
        };
        if let Err(error) = self.call_revoke(&hold).await {
            return Ok(Attempt::Retry(error));
        }
        let tx = self.begin(&hold.grantee_id).await?;
        self.finish(tx, job).await
    }

    /// Job `expire`: the end time came. An extension scheduled a later job; this one stops.
    pub(crate) async fn run_expire(&self, job: &Job) -> ServiceResult<Attempt> {
        let (tx, mut request) = self.lock(&job.subject).await?;
        if request.state == State::Active
            && let Some(end) = request.ends_at
            && end <= self.now()
        {
            self.end(&tx, &mut request, true, "latch", "the granted time ran out")
                .await?;
        }
        self.finish(tx, job).await
    }

    /// Job `approval_timeout`: a request still pending at its deadline times out.
    pub(crate) async fn run_approval_timeout(&self, job: &Job) -> ServiceResult<Attempt> {
        let (tx, mut request) = self.lock(&job.subject).await?;
        if request.state == State::PendingApproval
            && request.approval_deadline.is_some_and(|deadline| deadline <= self.now())
        {
            request.outcome = "no decision before the approval deadline".into();
            self.transition(
                &tx,
                &mut request,
                Event::ApprovalTimedOut,
                "latch",
                "no decision before the approval deadline",
            )
            .await?;
        }
        self.finish(tx, job).await
    }
}
