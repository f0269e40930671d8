//! Granting: a started request's items join the shared grant for their (grantee, resource,
//! permission) or open one with a grant job; the request is active when every item is granted,
//! and its clock starts then.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use latch_connector_sdk::{Config, ConnectorError, GrantOutcome, GrantRequest, Grantee};
use latch_runtime::{ServiceError, ServiceResult};

use super::{RequestService, Tx};
use crate::domain::expiry::{needs_extend, surely_held};
use crate::domain::lifecycle::{Event, State};
use crate::store::holds::{self, HoldRow, HoldState};
use crate::store::jobs::Job;
use crate::store::requests::{self, ItemRow, ItemState, RequestRow};

/// How a job attempt ended.
#[derive(Debug)]
pub(crate) enum Attempt {
    Done,
    /// Try again later; the error stays visible.
    Retry(String),
    /// The connector granted; what it said is still to be written (see [`Granted`]).
    Record(Box<Granted>),
}

/// A connector's answer to a grant job, to be written with the job's completion: alone, or on
/// SQLite together with the other grants that finished meanwhile, in one writer's turn.
#[derive(Debug)]
pub(crate) struct Granted {
    pub hold_id: String,
    pub grantee_id: String,
    pub outcome: GrantOutcome,
    /// The end the connector was told.
    pub told: Option<DateTime<Utc>>,
}

fn later(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    // `None` is indefinite: the latest of all.
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    }
}

impl RequestService {
    /// What the connector is told as the expiry for a Latch end (a safety net after it).
    pub(crate) fn told(&self, ends_at: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        ends_at.map(|end| end + self.config().connector_grace)
    }

    /// Job `start`: an approved request whose start time came begins granting.
    pub(crate) async fn run_start(&self, job: &Job) -> ServiceResult<Attempt> {
        let (tx, mut request) = self.lock(&job.subject).await?;
        if request.state == State::Approved {
            self.start_granting(&tx, &mut request).await?;
        }
        self.finish(tx, job).await
    }

    /// An approved request begins granting: its items join or open their shared grants.
    pub(crate) async fn start_granting(&self, tx: &Tx, request: &mut RequestRow) -> ServiceResult<()> {
        self.transition(tx, request, Event::GrantStarted, "latch", "granting")
            .await?;
        let mut items = requests::items(&**tx, &request.id).await?;
        self.open_holds(tx, request, &mut items).await?;
        for item in &items {
            requests::set_item(&**tx, &request.id, item.position, item.state, item.hold_id.as_deref()).await?;
        }
        self.activate_if_granted(tx, request).await
    }

    /// Each item joins the open shared grant for its access, or opens one with a grant job.
    /// Sets the items' state and hold in memory; the caller writes them.
    pub(crate) async fn open_holds(&self, tx: &Tx, request: &RequestRow, items: &mut [ItemRow]) -> ServiceResult<()> {
        let now = self.now();
        let planned = request.duration_secs.map(|s| now + TimeDelta::seconds(s));
        for item in items.iter_mut() {
            let hold = match holds::open_for(
                &**tx,
                &request.grantee_id,
                &item.integration_id,
                &item.resource_id,
                &item.permission,
            )
            .await?
            {
                Some(mut hold) => {
                    let ends = later(hold.ends_at, planned);
                    if ends != hold.ends_at {
                        hold.ends_at = ends;
                        holds::update(&**tx, &hold).await?;
                    }
                    // Items that let go of it while it was being granted no longer wait for a
                    // revoke: the grant stays, held by this item.
                    for id in
                        requests::move_items_on_hold(&**tx, &hold.id, ItemState::Releasing, ItemState::Released).await?
                    {
                        let mut other = self.load(&**tx, &id).await?;
                        self.settle(tx, &mut other).await?;
                    }
                    hold
                }
                None => {
                    let hold = HoldRow {
                        id: uuid::Uuid::now_v7().to_string(),
                        grantee_id: request.grantee_id.clone(),
                        integration_id: item.integration_id.clone(),
                        resource_id: item.resource_id.clone(),
                        resource_type: item.resource_type.clone(),
                        permission: item.permission.clone(),
                        state: HoldState::Granting,
                        account: String::new(),
                        credentials: String::new(),
                        ends_at: planned,
                        told_until: None,
                        error: String::new(),
                        created_at: now,
                        granted_at: None,
                        revoked_at: None,
                        extend_seq: 0,
                    };
                    holds::insert(&**tx, &hold).await?;
                    self.enqueue(tx, "grant", &hold.id, format!("grant:{}", hold.id), now)
                        .await?;
                    hold
                }
            };
            item.state = if hold.state == HoldState::Granted {
                ItemState::Granted
            } else {
                ItemState::Granting
            };
            item.hold_id = Some(hold.id);
        }
        Ok(())
    }

    /// Completes the job in the transaction and commits both; a job whose lease was lost is
    /// rolled back (its new owner does the work).
    pub(crate) async fn finish(&self, tx: Tx, job: &Job) -> ServiceResult<Attempt> {
        if self.complete(&tx, job).await? {
            tx.commit().await?;
        }
        Ok(Attempt::Done)
    }

    /// Marks the job done in the transaction; false (and a warning) when its lease was lost,
    /// and then the transaction must be rolled back: the lease's new owner does the work.
    pub(crate) async fn complete(&self, tx: &Tx, job: &Job) -> ServiceResult<bool> {
        let claim = job.lease_owner.as_deref().unwrap_or_default();
        let kept = crate::store::jobs::complete(&**tx, &job.id, claim, self.now()).await?;
        if !kept {
            tracing::warn!(job = %job.id, "lease lost; another worker took the job over");
        }
        Ok(kept)
    }

    /// A granting request whose items are all granted becomes active: the clock starts now.
    pub(crate) async fn activate_if_granted(&self, tx: &Tx, request: &mut RequestRow) -> ServiceResult<()> {
        if request.state != State::Granting {
            return Ok(());
        }
        let items = requests::items(&**tx, &request.id).await?;
        if !items.iter().all(|i| i.state == ItemState::Granted) {
            return Ok(());
        }
        let now = self.now();
        request.granted_at = Some(now);
        request.ends_at = request.duration_secs.map(|s| now + TimeDelta::seconds(s));
        let detail = match request.ends_at {
            Some(end) => format!("access granted until {}", end.to_rfc3339()),
            None => "access granted until revoked".to_string(),
        };
        self.transition(tx, request, Event::AllGranted, "latch", &detail)
            .await?;
        self.open_review_if_needed(tx, request).await?;
        self.schedule_expiry(tx, request).await?;
        self.stretch_holds(tx, request, &items).await
    }

    /// The job that ends the request at its end time (an earlier one finds a later end and stops).
    pub(crate) async fn schedule_expiry(&self, tx: &Tx, request: &RequestRow) -> ServiceResult<()> {
        if let Some(end) = request.ends_at {
            self.enqueue(
                tx,
                "expire",
                &request.id,
                format!("expire:{}:{}", request.id, request.version),
                end,
            )
            .await?;
            self.notify_expiring(tx, request).await?;
        }
        Ok(())
    }

    /// Moves each shared grant's end out to this request's end; tells the connector only when
    /// its own expiry would otherwise come first (see [`needs_extend`]).
    pub(crate) async fn stretch_holds(&self, tx: &Tx, request: &RequestRow, items: &[ItemRow]) -> ServiceResult<()> {
        let hold_ids: BTreeSet<&str> = items
            .iter()
            .filter(|i| i.state == ItemState::Granted)
            .filter_map(|i| i.hold_id.as_deref())
            .collect();
        for hold_id in hold_ids {
            let Some(mut hold) = holds::get(&**tx, hold_id).await? else {
                continue;
            };
            let ends = later(hold.ends_at, request.ends_at);
            let needs_telling = needs_extend(ends, hold.told_until);
            if ends != hold.ends_at {
                hold.ends_at = ends;
                holds::update(&**tx, &hold).await?;
            }
            if needs_telling && hold.state == HoldState::Granted {
                self.enqueue(
                    tx,
                    "extend",
                    &hold.id,
                    format!("extend:{}:{}:{}", hold.id, request.id, request.version),
                    self.now(),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Job `grant`: asks the connector for the shared grant; what it granted is written by
    /// [`Self::record_grant`] (the worker decides when). The grant id is the hold id, so a retry
    /// after a crash is the same grant.
    pub(crate) async fn run_grant(&self, job: &Job) -> ServiceResult<Attempt> {
        let Some(hold) = holds::get(self.db(), &job.subject).await? else {
            let tx = self.begin("").await?;
            return self.finish(tx, job).await;
        };
        if hold.state != HoldState::Granting {
            let tx = self.begin(&hold.grantee_id).await?;
            return self.finish(tx, job).await;
        }
        // What the connector is told now; the end may move while the call runs.
        let told = self.told(hold.ends_at);
        let outcome = match self.call_grant(&hold).await {
            Ok(outcome) => outcome,
            Err(error) if error.is_retryable() && job.attempts + 1 < self.config().max_grant_attempts => {
                return Ok(Attempt::Retry(error.to_string()));
            }
            Err(error) => {
                let reason = if error.is_retryable() {
                    format!("gave up after {} attempts: {error}", job.attempts + 1)
                } else {
                    error.to_string()
                };
                return self.grant_failed(job, &hold.id, &reason).await;
            }
        };
        Ok(Attempt::Record(Box::new(Granted {
            hold_id: hold.id,
            grantee_id: hold.grantee_id,
            outcome,
            told,
        })))
    }

    /// Writes a connector's grant in a transaction of its own.
    pub(crate) async fn record_grant_alone(&self, job: &Job, granted: &Granted) -> ServiceResult<Attempt> {
        let tx = self.begin(&granted.grantee_id).await?;
        if self.record_grant(&tx, job, granted).await? {
            tx.commit().await?;
        }
        Ok(Attempt::Done)
    }

    /// Writes what the connector granted: the shared grant is held, every item waiting on it is
    /// granted and their requests become active; the job is completed in `tx`. False when the
    /// job's lease was lost: `tx` must then be rolled back.
    pub(crate) async fn record_grant(&self, tx: &Tx, job: &Job, granted: &Granted) -> ServiceResult<bool> {
        let Some(mut hold) = holds::get(&**tx, &granted.hold_id).await? else {
            return self.complete(tx, job).await;
        };
        if matches!(hold.state, HoldState::Revoking | HoldState::Revoked | HoldState::Failed) {
            // A stale run (its lease ran out meanwhile) granted after the grant had ended:
            // take it back. The hold id is never granted again, so revoking it is always right.
            self.enqueue(
                tx,
                "revoke_stale",
                &hold.id,
                format!("revoke_stale:{}:{}", hold.id, uuid::Uuid::now_v7().simple()),
                self.now(),
            )
            .await?;
        }
        if hold.state == HoldState::Granting {
            let outcome = &granted.outcome;
            let now = self.now();
            hold.state = HoldState::Granted;
            hold.account = outcome.account.clone();
            hold.credentials = if outcome.credentials.is_empty() {
                String::new()
            } else {
                let json = serde_json::to_vec(&outcome.credentials).map_err(ServiceError::internal)?;
                self.secrets().seal_bound(&json, hold.id.as_bytes())
            };
            hold.granted_at = Some(now);
            hold.told_until = granted.told;
            hold.error = String::new();
            let waiting = requests::items_on_hold(&**tx, &hold.id, &[ItemState::Granting]).await?;
            if waiting.is_empty() {
                hold.state = HoldState::Revoking;
                self.enqueue(tx, "revoke", &hold.id, format!("revoke:{}", hold.id), now)
                    .await?;
            }
            holds::update(&**tx, &hold).await?;
            let mut request_ids = BTreeSet::new();
            for item in waiting {
                requests::set_item(
                    &**tx,
                    &item.request_id,
                    item.position,
                    ItemState::Granted,
                    Some(&hold.id),
                )
                .await?;
                request_ids.insert(item.request_id);
            }
            for id in request_ids {
                let mut request = self.load(&**tx, &id).await?;
                self.activate_if_granted(tx, &mut request).await?;
            }
        }
        self.complete(tx, job).await
    }

    pub(crate) async fn call_grant(&self, hold: &HoldRow) -> Result<GrantOutcome, ConnectorError> {
        let unavailable = |e: ServiceError| ConnectorError::Unavailable(e.to_string());
        let people = &self.ports().people;
        let grantee = people
            .facts(&hold.grantee_id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| ConnectorError::FailedPrecondition("the grantee is no longer an active user".into()))?;
        let connector = self
            .ports()
            .targets
            .connector(&hold.integration_id)
            .await
            .map_err(unavailable)?;
        connector
            .grant(
                &Config::new(),
                &GrantRequest {
                    grant_id: hold.id.clone(),
                    grantee: Grantee {
                        user_id: grantee.user_id,
                        user_name: grantee.user_name,
                        email: grantee.email,
                        attributes: grantee.attributes,
                    },
                    resource_type: hold.resource_type.clone(),
                    resource_id: hold.resource_id.clone(),
                    permission: hold.permission.clone(),
                    expires_at: self.told(hold.ends_at),
                    context: Default::default(),
                },
            )
            .await
    }

    /// Locks the grantee of grant `hold_id` (no one's if the grant is gone) and reads the grant
    /// inside the lock: `None` unless it is still in `state`.
    pub(super) async fn lock_hold(&self, hold_id: &str, state: HoldState) -> ServiceResult<(Tx, Option<HoldRow>)> {
        let grantee = holds::get(self.db(), hold_id)
            .await?
            .map(|h| h.grantee_id)
            .unwrap_or_default();
        let tx = self.begin(&grantee).await?;
        let hold = holds::get(&*tx, hold_id).await?.filter(|h| h.state == state);
        Ok((tx, hold))
    }

    /// The connector refused for good: every request waiting on this grant fails, and what
    /// they were already granted is rolled back.
    async fn grant_failed(&self, job: &Job, hold_id: &str, reason: &str) -> ServiceResult<Attempt> {
        let (tx, hold) = self.lock_hold(hold_id, HoldState::Granting).await?;
        if let Some(mut hold) = hold {
            // An attempt may have half-granted (or granted with its answer lost): revoke the
            // grant id all the same; connectors treat revoking nothing as done.
            hold.state = HoldState::Revoking;
            hold.error = reason.to_string();
            holds::update(&*tx, &hold).await?;
            self.enqueue(&tx, "revoke", &hold.id, format!("revoke:{}", hold.id), self.now())
                .await?;
            let request_ids =
                requests::move_items_on_hold(&*tx, hold_id, ItemState::Granting, ItemState::Skipped).await?;
            for id in request_ids {
                let mut request = self.load(&*tx, &id).await?;
                if request.state == State::Granting {
                    let outcome = format!(
                        "connector refused {} on {}: {reason}",
                        hold.permission, hold.resource_id
                    );
                    self.fail(&tx, &mut request, &outcome).await?;
                }
            }
        }
        self.finish(tx, job).await
    }

    /// Ends a granting request as failed, releasing what it already holds.
    async fn fail(&self, tx: &Tx, request: &mut RequestRow, outcome: &str) -> ServiceResult<()> {
        for item in requests::items(&**tx, &request.id).await? {
            if item.state.holds() {
                self.release(tx, &item).await?;
            } else if item.state == ItemState::Pending {
                requests::set_item(&**tx, &item.request_id, item.position, ItemState::Skipped, None).await?;
            }
        }
        request.outcome = outcome.to_string();
        self.transition(tx, request, Event::GrantFailed, "latch", outcome).await
    }

    /// Job `extend`: tells the connector the shared grant's later end.
    pub(crate) async fn run_extend(&self, job: &Job) -> ServiceResult<Attempt> {
        let Some(hold) = holds::get(self.db(), &job.subject).await? else {
            let tx = self.begin("").await?;
            return self.finish(tx, job).await;
        };
        if hold.state != HoldState::Granted || !needs_extend(hold.ends_at, hold.told_until) {
            let tx = self.begin(&hold.grantee_id).await?;
            return self.finish(tx, job).await;
        }
        let connector = match self.ports().targets.connector(&hold.integration_id).await {
            Ok(found) => found,
            Err(error) => return Ok(Attempt::Retry(error.to_string())),
        };
        let wanted = self.told(hold.ends_at);
        if let Err(error) = connector.extend(&Config::new(), &hold.id, wanted).await {
            return self.extend_failed(job, &hold, error).await;
        }
        let tx = self.begin(&hold.grantee_id).await?;
        if let Some(mut current) = holds::get(&*tx, &hold.id).await? {
            current.told_until = if current.extend_seq == hold.extend_seq {
                wanted
            } else {
                // Another extend call was recorded meanwhile and may have landed before or
                // after this one: the connector holds the earlier of the two for sure.
                surely_held(current.told_until, wanted)
            };
            if needs_extend(current.ends_at, current.told_until) {
                // The end moved on while the call ran: one more call with the latest end.
                self.enqueue(
                    &tx,
                    "extend",
                    &current.id,
                    format!("extend:{}:{}", current.id, uuid::Uuid::now_v7().simple()),
                    self.now(),
                )
                .await?;
            }
            current.extend_seq += 1;
            holds::update(&*tx, &current).await?;
        }
        self.finish(tx, job).await
    }
}
