//! The request service: submits and decides requests, and runs the durable jobs that grant,
//! extend and revoke access through the connectors.
//!
//! Every change of a request is one transaction holding the state change, its history event
//! and the jobs it needs. Writers touching one grantee's requests and shared grants are
//! serialised: by a transaction-scoped advisory lock on PostgreSQL (so replicas can run side by
//! side), by one writer lock on SQLite (which has one writer per file anyway).

mod approver_index;
mod audit_checkpoints;
pub mod audit_key;
mod audit_log;
mod audit_outbox;
mod decide;
mod drift;
mod end;
mod flow_status;
mod follow;
mod grant;
mod insights;
mod lost_grant;
mod notify;
mod policy;
mod reconcile;
mod review;
mod submit;
mod views;
mod watch;
mod work;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use latch_runtime::crypto::SecretBox;
use latch_runtime::database::statement;
use latch_runtime::{ServiceError, ServiceResult, SharedClock};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, TransactionTrait};

pub use audit_checkpoints::{CheckpointOptions, CheckpointVerification};
pub use audit_log::{AUDIT_FEED, AuditVerification};
pub use audit_outbox::outbox_cursor;
pub use drift::IntegrationDrift;
pub use flow_status::{DriftEntry, FlowStatus, Holder};
pub use follow::DIRECTORY_FEED;
pub use insights::{DurationInsight, Insights, SoleApprover, UnusedFlow};
pub use policy::Policy;
pub use reconcile::{AUTOMATIC_REQUESTER, Reconciled, items_key};
pub use submit::Submission;
pub use views::{CredentialView, ItemView, ListedRequest, RequestView};

use crate::domain::lifecycle::{Event, State, next};
use crate::ports::Ports;
use crate::store::audit;
use crate::store::jobs::{self, NewJob};
use crate::store::requests::{self, EventRow, RequestRow, state_name};

/// Tunables of the request context.
#[derive(Debug, Clone)]
pub struct RequestConfig {
    /// Pending approvals time out after this long (default 24 hours).
    pub approval_timeout: TimeDelta,
    /// How long a worker holds a claimed job before another may take it over.
    pub lease: TimeDelta,
    /// How often workers look for due jobs when idle.
    pub poll: std::time::Duration,
    /// Jobs claimed at once, and run concurrently.
    pub batch: u32,
    /// Connectors are told an expiry this much after Latch's own, as a safety net that never
    /// cuts access short; Latch's revoke job is what ends access.
    pub connector_grace: TimeDelta,
    /// A grant failing this many times in a row is given up (the request fails and rolls back).
    pub max_grant_attempts: i32,
    /// Webhook sinks notified about requests.
    pub webhooks: Vec<latch_runtime::config::WebhookConfig>,
    /// The grantee is warned this long before access ends.
    pub expiry_lead: TimeDelta,
    /// Unreviewed break-glass uses are brought up again this often.
    pub review_reminder: TimeDelta,
    /// Signs checkpoints of the audit chain's head; none are written without it.
    pub audit_key: Option<crate::domain::checkpoint::AuditSigningKey>,
    /// The sealer signs a checkpoint once this many events were sealed since the last one…
    pub checkpoint_every_events: i64,
    /// …or once this long has passed since the last one and events were sealed since.
    pub checkpoint_every: TimeDelta,
}

impl Default for RequestConfig {
    fn default() -> Self {
        Self {
            approval_timeout: TimeDelta::hours(24),
            lease: TimeDelta::seconds(30),
            poll: std::time::Duration::from_millis(100),
            batch: 64,
            connector_grace: TimeDelta::minutes(5),
            max_grant_attempts: 8,
            webhooks: Vec::new(),
            expiry_lead: TimeDelta::minutes(15),
            review_reminder: TimeDelta::hours(24),
            audit_key: None,
            checkpoint_every_events: 1000,
            checkpoint_every: TimeDelta::minutes(10),
        }
    }
}

#[derive(Clone)]
pub struct RequestService {
    inner: Arc<Inner>,
}

/// A reference to the request service that does not keep it alive.
#[derive(Clone)]
pub struct WeakRequestService(std::sync::Weak<Inner>);

impl WeakRequestService {
    pub fn upgrade(&self) -> Option<RequestService> {
        self.0.upgrade().map(|inner| RequestService { inner })
    }
}

struct Inner {
    db: DatabaseConnection,
    ports: Ports,
    clock: SharedClock,
    secrets: SecretBox,
    config: RequestConfig,
    /// SQLite only: one writer at a time.
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
    /// This process's worker name (leases are held in its name).
    worker: String,
    wake: tokio::sync::Notify,
    /// Posts webhook notifications.
    http: reqwest::Client,
    /// The requests someone watches, told when a commit of this process changes them.
    watching: Arc<watch::Watching>,
    /// Set when the server shuts down: open watch streams end.
    closing: tokio::sync::watch::Sender<bool>,
    /// Bounds the open watch streams.
    watchers: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for RequestService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestService")
            .field("worker", &self.inner.worker)
            .finish()
    }
}

/// A write transaction, with the writer lock it needs held until it ends.
pub(crate) struct Tx {
    pub tx: DatabaseTransaction,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// Requests this transaction (and its savepoints) wrote events for.
    touched: Arc<std::sync::Mutex<Vec<Arc<str>>>>,
    /// Where a top-level transaction announces them once committed (none for savepoints).
    announce: Option<Arc<watch::Watching>>,
}

impl std::ops::Deref for Tx {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.tx
    }
}

impl Tx {
    /// A transaction that changes no request (nothing to announce to watchers).
    pub(crate) fn unannounced(tx: DatabaseTransaction, guard: Option<tokio::sync::OwnedMutexGuard<()>>) -> Self {
        Tx {
            tx,
            _guard: guard,
            touched: Default::default(),
            announce: None,
        }
    }

    pub async fn commit(self) -> ServiceResult<()> {
        self.tx.commit().await?;
        if let Some(announce) = &self.announce {
            let touched = std::mem::take(&mut *self.touched.lock().unwrap_or_else(|p| p.into_inner()));
            announce.changed(&touched);
        }
        Ok(())
    }

    /// Notes that `request_id` changes in this transaction (announced when it commits).
    pub fn touch(&self, request_id: &str) {
        let mut touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
        if !touched.iter().any(|id| &**id == request_id) {
            touched.push(request_id.into());
        }
    }

    /// A savepoint in this transaction: committed, it joins the outer transaction's fate;
    /// rolled back, it undoes only its own writes. The outer one keeps the writer's turn.
    pub async fn savepoint(&self) -> ServiceResult<Tx> {
        Ok(Tx {
            tx: self.tx.begin().await?,
            _guard: None,
            touched: self.touched.clone(),
            announce: None,
        })
    }

    pub async fn rollback(self) -> ServiceResult<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}

impl RequestService {
    pub fn open(
        db: DatabaseConnection,
        ports: Ports,
        clock: SharedClock,
        secrets: SecretBox,
        config: RequestConfig,
    ) -> Self {
        let embedded = db.get_database_backend() != DbBackend::Postgres;
        let writer = embedded.then(|| Arc::new(tokio::sync::Mutex::new(())));
        // One process owns an SQLite file, so its worker name can be stable: after a crash the
        // restarted process takes its own leases back at once. Replicas on PostgreSQL each get a
        // name of their own; a dead replica's jobs return when its leases run out.
        let worker = if embedded {
            "embedded".to_string()
        } else {
            format!("worker-{}", uuid::Uuid::now_v7().simple())
        };
        Self {
            inner: Arc::new(Inner {
                db,
                ports,
                clock,
                secrets,
                config,
                writer,
                worker,
                wake: tokio::sync::Notify::new(),
                watching: Default::default(),
                closing: tokio::sync::watch::channel(false).0,
                watchers: Arc::new(tokio::sync::Semaphore::new(watch::MAX_WATCHERS)),
                http: reqwest::Client::builder()
                    .timeout(notify::WEBHOOK_TIMEOUT)
                    .build()
                    .unwrap_or_default(),
            }),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    pub fn downgrade(&self) -> WeakRequestService {
        WeakRequestService(Arc::downgrade(&self.inner))
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    pub(crate) fn ports(&self) -> &Ports {
        &self.inner.ports
    }

    pub(crate) fn config(&self) -> &RequestConfig {
        &self.inner.config
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub(crate) fn secrets(&self) -> &SecretBox {
        &self.inner.secrets
    }

    pub fn worker_name(&self) -> &str {
        &self.inner.worker
    }

    /// On SQLite, the one writer's turn: every write of this context takes it, so a
    /// transaction never finds its snapshot outdated by a write outside it.
    pub(crate) async fn writer_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.inner.writer {
            Some(writer) => Some(writer.clone().lock_owned().await),
            None => None,
        }
    }

    /// Begins a write that touches `grantee_id`'s requests and shared grants.
    pub(crate) async fn begin(&self, grantee_id: &str) -> ServiceResult<Tx> {
        let guard = self.writer_turn().await;
        let tx = self.inner.db.begin().await?;
        if tx.get_database_backend() == DbBackend::Postgres {
            tx.execute_raw(statement(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock(7071, hashtext(?))",
                vec![grantee_id.into()],
            ))
            .await?;
        }
        Ok(Tx {
            tx,
            _guard: guard,
            touched: Default::default(),
            announce: Some(self.inner.watching.clone()),
        })
    }

    /// The request as stored now.
    pub(crate) async fn load(&self, connection: &impl ConnectionTrait, id: &str) -> ServiceResult<RequestRow> {
        requests::get_request(connection, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("request {id:?}")))
    }

    /// Locks the request's grantee and reads the request inside the lock.
    pub(crate) async fn lock(&self, id: &str) -> ServiceResult<(Tx, RequestRow)> {
        let grantee = self.load(self.db(), id).await?.grantee_id;
        let tx = self.begin(&grantee).await?;
        let request = self.load(&*tx, id).await?;
        Ok((tx, request))
    }

    /// Applies a lifecycle event: checks the transition, bumps the version, writes the row and
    /// its history event.
    pub(crate) async fn transition(
        &self,
        tx: &Tx,
        request: &mut RequestRow,
        event: Event,
        actor: &str,
        detail: &str,
    ) -> ServiceResult<()> {
        let to = next(request.state, event).map_err(|e| ServiceError::FailedPrecondition(e.to_string()))?;
        self.set_state(tx, request, to, event_name(event), actor, detail).await
    }

    /// Writes `request` in state `to` with a history event (the caller checked the transition).
    pub(crate) async fn set_state(
        &self,
        tx: &Tx,
        request: &mut RequestRow,
        to: State,
        kind: &str,
        actor: &str,
        detail: &str,
    ) -> ServiceResult<()> {
        let from = request.state;
        request.state = to;
        let mut event = self.note(request, kind, actor, detail);
        event.from_state = state_name(from).to_string();
        requests::update_request(&**tx, request).await?;
        if from == State::PendingApproval && to != State::PendingApproval {
            crate::store::approval_keys::clear(&**tx, &request.id).await?;
        }
        self.publish(tx, request, &[event]).await
    }

    /// Writes `request` as it is now with a history event that is not a change of state.
    pub(crate) async fn record(
        &self,
        tx: &Tx,
        request: &mut RequestRow,
        kind: &str,
        actor: &str,
        detail: &str,
    ) -> ServiceResult<()> {
        let event = self.note(request, kind, actor, detail);
        requests::update_request(&**tx, request).await?;
        self.publish(tx, request, &[event]).await
    }

    /// Writes history events of `request` (whose row the caller writes), with what they set off.
    pub(crate) async fn publish(&self, tx: &Tx, request: &RequestRow, events: &[EventRow]) -> ServiceResult<()> {
        tx.touch(&request.id);
        requests::insert_events(&**tx, events).await?;
        audit::insert(&**tx, &self.audit_rows(request, events)).await?;
        self.notify(tx, request, events).await
    }

    /// A history event for `request` (version bumped), to write with the request.
    pub(crate) fn note(&self, request: &mut RequestRow, kind: &str, actor: &str, detail: &str) -> EventRow {
        let now = self.now();
        request.version += 1;
        request.updated_at = now;
        EventRow {
            request_id: request.id.clone(),
            seq: request.version,
            at: now,
            actor: actor.to_string(),
            kind: kind.to_string(),
            state: state_name(request.state).to_string(),
            detail: detail.to_string(),
            from_state: state_name(request.state).to_string(),
        }
    }

    /// A lifecycle event applied in memory (the transition checked), to write with the request.
    pub(crate) fn apply(
        &self,
        request: &mut RequestRow,
        event: Event,
        actor: &str,
        detail: &str,
    ) -> ServiceResult<EventRow> {
        let from = request.state;
        request.state = next(request.state, event).map_err(|e| ServiceError::FailedPrecondition(e.to_string()))?;
        let mut row = self.note(request, event_name(event), actor, detail);
        row.from_state = state_name(from).to_string();
        Ok(row)
    }

    /// Adds a job in the transaction and wakes this process's workers when it is due now.
    pub(crate) async fn enqueue(
        &self,
        tx: &Tx,
        kind: &str,
        subject: &str,
        id: String,
        due_at: DateTime<Utc>,
    ) -> ServiceResult<()> {
        self.enqueue_job(tx, kind, subject, id, due_at, String::new()).await
    }

    /// Adds a job with a payload in the transaction (see [`Self::enqueue`]).
    pub(crate) async fn enqueue_job(
        &self,
        tx: &Tx,
        kind: &str,
        subject: &str,
        id: String,
        due_at: DateTime<Utc>,
        payload: String,
    ) -> ServiceResult<()> {
        jobs::enqueue(
            &**tx,
            &NewJob {
                id,
                kind: kind.to_string(),
                subject: subject.to_string(),
                payload,
                due_at,
            },
            self.now(),
        )
        .await?;
        if due_at <= self.now() {
            self.inner.wake.notify_one();
        }
        Ok(())
    }

    pub(crate) fn wake(&self) -> &tokio::sync::Notify {
        &self.inner.wake
    }
}

pub(crate) fn event_name(event: Event) -> &'static str {
    match event {
        Event::MfaRequired => "mfa_required",
        Event::MfaVerified => "mfa_verified",
        Event::ApprovalRequired => "approval_required",
        Event::Approved => "approved",
        Event::Rejected => "rejected",
        Event::Cancelled => "cancelled",
        Event::ApprovalTimedOut => "approval_timed_out",
        Event::GrantStarted => "grant_started",
        Event::AllGranted => "granted",
        Event::GrantFailed => "failed",
        Event::Extended => "extended",
        Event::Expire => "expiring",
        Event::Revoke => "revoking",
        Event::RevokeConfirmed => "ended",
    }
}
