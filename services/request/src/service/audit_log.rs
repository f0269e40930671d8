//! The audit log. Request changes are appended in the transaction of the change; other
//! contexts' admin changes are copied from their outboxes (see `audit_outbox`); directory
//! changes are copied from the identity change feed with a durable cursor (in the same transaction as the cursor, so
//! none is lost or doubled). One sealer at a time chains appended events with hashes. Admins
//! and auditors read it.

use std::time::Duration;

use futures::StreamExt;
use latch_runtime::audit::{AuditRecord, current_source};
use latch_runtime::database::statement;
use latch_runtime::{Caller, ServiceError, ServiceResult};
use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};

use super::audit_checkpoints::{CheckpointOptions, CheckpointVerification};
use super::{RequestService, Tx};
use crate::domain::audit::{AuditEvent, Broken, GENESIS, Verifier, seal};
use crate::ports::DirectoryChange;
use crate::store::audit::{self, AuditFilter};
use crate::store::automatic;
use crate::store::requests::{EventRow, RequestRow};

/// The audit log's cursor in the directory change feed.
pub const AUDIT_FEED: &str = "audit:directory";
/// Events sealed per transaction.
const SEAL_BATCH: u32 = 1000;

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    /// Sealed events checked and found intact (up to the first broken one).
    pub verified: i64,
    /// Events appended but not sealed yet.
    pub pending: i64,
    pub head_hash: String,
    pub broken: Option<Broken>,
    /// When asked for: what the signed checkpoints say.
    pub checkpoints: Option<CheckpointVerification>,
}

fn json_state(state: &str) -> String {
    if state.is_empty() {
        "null".into()
    } else {
        serde_json::json!({ "state": state }).to_string()
    }
}

fn new_event(at: chrono::DateTime<chrono::Utc>) -> AuditEvent {
    AuditEvent {
        id: uuid::Uuid::now_v7().to_string(),
        at,
        actor: String::new(),
        action: String::new(),
        subject: String::new(),
        source: String::new(),
        grantee: String::new(),
        flow: String::new(),
        resources: String::new(),
        before: "null".into(),
        after: "null".into(),
        detail: String::new(),
        sequence: None,
        previous_hash: String::new(),
        hash: String::new(),
    }
}

/// A change a context described, made at `at`, as an audit event.
pub(super) fn record_event(record: AuditRecord, at: chrono::DateTime<chrono::Utc>) -> AuditEvent {
    AuditEvent {
        actor: record.actor,
        action: record.action,
        subject: record.subject,
        source: if record.source.is_empty() {
            current_source()
        } else {
            record.source
        },
        grantee: record.grantee,
        flow: record.flow,
        resources: record.resources.join(","),
        before: record.before.to_string(),
        after: record.after.to_string(),
        detail: record.detail,
        ..new_event(at)
    }
}

/// A directory change as an audit event.
fn directory_event(change: &DirectoryChange) -> AuditEvent {
    let deleted = change.kind.ends_with("_deleted");
    let payload = change.payload.to_string();
    AuditEvent {
        actor: change.actor.clone(),
        action: format!("identity.{}", change.kind),
        subject: change.resource.clone(),
        source: "identity".into(),
        grantee: change
            .resource
            .strip_prefix("users/")
            .map(str::to_string)
            .unwrap_or_default(),
        before: if deleted { payload.clone() } else { "null".into() },
        after: if deleted { "null".into() } else { payload },
        detail: format!("directory change {}", change.sequence),
        ..new_event(change.at)
    }
}

impl RequestService {
    /// Audit events for a request's history events.
    pub(crate) fn audit_rows(&self, request: &RequestRow, events: &[EventRow]) -> Vec<AuditEvent> {
        let source = current_source();
        events
            .iter()
            .map(|e| AuditEvent {
                actor: e.actor.clone(),
                action: format!("request.{}", e.kind),
                subject: format!("requests/{}", request.id),
                source: if e.actor.starts_with("users/") {
                    source.clone()
                } else {
                    "latch".into()
                },
                grantee: request.grantee_id.clone(),
                flow: request.flow_name.clone(),
                before: json_state(if e.from_state == e.state { "" } else { &e.from_state }),
                after: json_state(&e.state),
                detail: e.detail.clone(),
                ..new_event(e.at)
            })
            .collect()
    }

    /// Appends a change the request context made outside a request's transaction (sealed
    /// shortly after).
    pub async fn append_audit(&self, record: AuditRecord) -> ServiceResult<()> {
        let event = record_event(record, self.now());
        let _turn = self.writer_turn().await;
        audit::insert(self.db(), &[event]).await?;
        Ok(())
    }

    /// Begins the sealer's transaction: one sealer at a time (the SQLite writer's turn, or a
    /// transaction-scoped advisory lock on PostgreSQL).
    pub(super) async fn begin_sealing(&self) -> ServiceResult<Tx> {
        let guard = self.writer_turn().await;
        let tx = self.db().begin().await?;
        if tx.get_database_backend() == DbBackend::Postgres {
            tx.execute_raw(statement(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock(7072, 0)",
                vec![],
            ))
            .await?;
        }
        Ok(Tx::unannounced(tx, guard))
    }

    /// Chains every appended event, one sealer at a time, and in the same transaction signs a
    /// checkpoint of the head when one is due. Returns how many it sealed.
    pub async fn seal_audit(&self) -> ServiceResult<usize> {
        let mut sealed = 0;
        loop {
            let tx = self.begin_sealing().await?;
            let batch = audit::unsealed(&*tx, SEAL_BATCH).await?;
            if !batch.is_empty() {
                let (mut sequence, mut hash) = audit::head(&*tx).await?.unwrap_or((0, GENESIS.to_string()));
                for mut event in batch.iter().cloned() {
                    seal(&mut event, sequence, &hash);
                    audit::seal(&*tx, &event).await?;
                    sequence = event.sequence.unwrap_or(sequence);
                    hash = event.hash;
                }
            }
            self.checkpoint_if_due(&tx, !batch.is_empty()).await?;
            tx.commit().await?;
            sealed += batch.len();
            if batch.len() < SEAL_BATCH as usize {
                return Ok(sealed);
            }
        }
    }

    /// Copies directory changes into the log, each batch with the cursor in one transaction.
    async fn copy_directory_changes(&self, changes: &[DirectoryChange]) -> ServiceResult<()> {
        let Some(last) = changes.last() else {
            return Ok(());
        };
        self.copy_by_cursor(AUDIT_FEED, 1, last.sequence, |done| {
            changes
                .iter()
                .filter(|c| c.sequence > done)
                // Identity's own audit record ("token.revoked") already tells the revocation.
                .filter(|c| c.kind != "token_revoked")
                .map(directory_event)
                .collect()
        })
        .await
    }

    /// Inserts into the log the events a source has past `cursor` (`fresh` is given the cursor
    /// as stored) and moves the cursor to `last`, in one transaction. Replicas may read the same
    /// source: on PostgreSQL they take turns by `lock`, and only the one that moves the cursor
    /// writes the events.
    pub(crate) async fn copy_by_cursor(
        &self,
        cursor: &str,
        lock: i32,
        last: i64,
        fresh: impl FnOnce(i64) -> Vec<AuditEvent>,
    ) -> ServiceResult<()> {
        let _turn = self.writer_turn().await;
        let tx = self.db().begin().await?;
        if tx.get_database_backend() == DbBackend::Postgres {
            tx.execute_raw(statement(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock(7072, ?)",
                vec![lock.into()],
            ))
            .await?;
        }
        let done = automatic::cursor(&tx, cursor).await?;
        audit::insert(&tx, &fresh(done)).await?;
        automatic::advance(&tx, cursor, last, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Seals the log as events arrive and copies directory changes into it, until dropped.
    pub fn spawn_audit(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        self.spawn_restarting("audit log writer", move |service| async move {
            service.run_audit(every).await
        })
    }

    async fn run_audit(&self, every: Duration) -> ServiceResult<()> {
        let cursor = automatic::cursor(self.db(), AUDIT_FEED).await?;
        let mut changes = self.ports().people.watch(cursor);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                change = changes.next() => {
                    let batch = super::follow::batch(change, &mut changes, 500)?;
                    self.copy_directory_changes(&batch).await?;
                }
                _ = tick.tick() => {
                    self.seal_audit().await?;
                }
            }
        }
    }

    /// Events matching `filter`, oldest first (names of people resolved to ids).
    pub async fn audit_events(
        &self,
        caller: &Caller,
        filter: AuditFilter,
        limit: u32,
    ) -> ServiceResult<Vec<AuditEvent>> {
        caller.require_auditor()?;
        let mut filter = filter;
        if !filter.actor.is_empty() && filter.actor != "latch" && !filter.actor.starts_with("users/") {
            filter.actor = format!("users/{}", self.user_id_of("actor", &filter.actor).await?);
        }
        if !filter.grantee.is_empty() {
            filter.grantee = self.user_id_of("grantee", &filter.grantee).await?;
        }
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && to < from
        {
            return Err(ServiceError::invalid("filter.to", "must not be before filter.from"));
        }
        Ok(audit::list(self.db(), &filter, limit.clamp(1, 1000)).await?)
    }

    /// A user named by id or user name; former users (no longer active) by id as given.
    async fn user_id_of(&self, field: &str, user: &str) -> ServiceResult<String> {
        match self.ports().people.facts(user).await? {
            Some(facts) => Ok(facts.user_id),
            None if user.len() >= 32 => Ok(user.to_string()),
            None => Err(ServiceError::invalid(
                format!("filter.{field}"),
                format!("no user {user:?} (former users: give their id)"),
            )),
        }
    }

    /// Walks the whole chain and names the first broken link, if any.
    pub async fn verify_audit(&self, caller: &Caller) -> ServiceResult<AuditVerification> {
        self.verify_audit_with(caller, CheckpointOptions::default()).await
    }

    /// Walks the whole chain and names the first broken link, and with `options.check` checks
    /// every stored and kept checkpoint against it (truncation, rewrites, forged checkpoints).
    pub async fn verify_audit_with(
        &self,
        caller: &Caller,
        options: CheckpointOptions,
    ) -> ServiceResult<AuditVerification> {
        caller.require_auditor()?;
        let mut checks = self.checkpoint_check(&options).await?;
        let mut verifier = Verifier::default();
        let mut broken = None;
        'walk: loop {
            let page = audit::sealed_after(self.db(), verifier.sequence, SEAL_BATCH).await?;
            if page.is_empty() {
                break;
            }
            for event in &page {
                if let Err(error) = verifier.check(event) {
                    broken = Some(error);
                    break 'walk;
                }
                if let Some(checks) = checks.as_mut() {
                    checks.observe(verifier.sequence, &verifier.hash);
                }
            }
        }
        let checkpoints = checks.map(|checks| {
            let checks = checks.finish(verifier.sequence, broken.is_none());
            CheckpointVerification {
                verified: checks.verified,
                latest_sequence: checks.latest,
                problems: checks.problems,
            }
        });
        Ok(AuditVerification {
            verified: verifier.sequence,
            pending: audit::count_unsealed(self.db()).await?,
            head_hash: verifier.hash,
            broken,
            checkpoints,
        })
    }
}
