//! The identity service: every use case, with no transport types. The gRPC adapter and the SCIM
//! routes are thin layers over it; tests and benches call it directly.

mod authenticate;
mod feed;
mod groups;
mod import;
mod mfa;
mod schedules;
mod subjects;
mod token_cache;
mod tokens;
mod users;

use std::sync::{Arc, RwLock, RwLockReadGuard};

use latch_runtime::config::IdentityConfig;
use latch_runtime::crypto::SecretBox;
use latch_runtime::{ServiceError, ServiceResult, SharedClock};
use tokio::sync::watch;

use crate::domain::change::{Change, ChangeKind};
use crate::domain::directory::Directory;
use crate::store::{IdentityStore, WriteTx};

pub use authenticate::LocalAuthenticator;
pub use groups::GroupDraft;
pub use import::{ImportDocument, ImportReport, draft_of, parse_import_document, parse_import_document_blocking};
pub use mfa::Enrollment;
pub use schedules::ScheduleDraft;
pub use tokens::{BOOTSTRAP_ADMIN, BootstrapOutcome, CreatedToken, SCOPE_API, SCOPE_SCIM};

/// The actor recorded for changes made through SCIM.
pub const SCIM_ACTOR: &str = "scim";

#[derive(Clone)]
pub struct IdentityService {
    inner: Arc<Inner>,
}

struct Inner {
    store: IdentityStore,
    directory: RwLock<Directory>,
    clock: SharedClock,
    secrets: SecretBox,
    config: IdentityConfig,
    /// The highest sequence the directory has applied; feed watchers wait on it.
    applied: watch::Sender<i64>,
    /// Serialises catch-up so two tasks never apply the same range concurrently.
    catch_up: tokio::sync::Mutex<()>,
    /// Set when the server shuts down, so open change streams end and the drain can finish.
    closing: watch::Sender<bool>,
    /// Tokens seen valid lately; revocations in the feed drop them.
    tokens: token_cache::TokenCache,
}

impl std::fmt::Debug for IdentityService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityService").finish_non_exhaustive()
    }
}

impl IdentityService {
    /// Loads the directory from the store.
    pub async fn open(
        store: IdentityStore,
        clock: SharedClock,
        secrets: SecretBox,
        config: IdentityConfig,
    ) -> ServiceResult<Self> {
        let directory = store.load_directory(&config.admin_group, &config.auditor_group).await?;
        let (applied, _) = watch::channel(directory.sequence());
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                directory: RwLock::new(directory),
                clock,
                secrets,
                config,
                applied,
                catch_up: tokio::sync::Mutex::new(()),
                closing: watch::channel(false).0,
                tokens: token_cache::TokenCache::default(),
            }),
        })
    }

    pub fn store(&self) -> &IdentityStore {
        &self.inner.store
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    /// A read view of the directory. Never hold it across an await.
    pub fn directory(&self) -> RwLockReadGuard<'_, Directory> {
        self.inner
            .directory
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn apply(&self, changes: &[Change]) {
        let mut directory = self
            .inner
            .directory
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for change in changes {
            directory.apply(change);
        }
        let sequence = directory.sequence();
        drop(directory);
        for change in changes.iter().filter(|c| c.kind == ChangeKind::TokenRevoked) {
            if let Some(id) = change.payload.get("id").and_then(|id| id.as_str()) {
                self.inner.tokens.forget(id);
            }
        }
        self.inner.applied.send_if_modified(|current| {
            let advanced = sequence > *current;
            *current = sequence.max(*current);
            advanced
        });
    }

    /// Applies changes committed by other replicas (or before a write on this one).
    pub async fn catch_up(&self) -> ServiceResult<()> {
        let _one_at_a_time = self.inner.catch_up.lock().await;
        loop {
            let after = self.directory().sequence();
            let changes = self.inner.store.changes_after(after, 1000).await?;
            if changes.is_empty() {
                return Ok(());
            }
            self.apply(&changes);
        }
    }

    /// Starts a write: takes the writer lock, then brings the directory up to date so that the
    /// checks made before writing see every committed change.
    async fn begin_write(&self, actor: &str) -> ServiceResult<WriteTx<'_>> {
        let tx = self.inner.store.begin_write(actor, self.now()).await?;
        self.catch_up().await?;
        Ok(tx)
    }

    /// Commits a write and applies its changes to the directory before returning, so a caller
    /// reads its own writes.
    async fn commit(&self, tx: WriteTx<'_>) -> ServiceResult<()> {
        let changes = tx.commit().await?;
        self.apply(&changes);
        Ok(())
    }

    /// The audit outbox after `upto`, once the entries up to it are deleted (the audit log,
    /// which asks, holds them).
    pub async fn audit_outbox(
        &self,
        upto: i64,
        limit: u32,
    ) -> ServiceResult<Vec<latch_runtime::audit::outbox::OutboxEntry>> {
        Ok(self.store().audit_outbox(upto, limit).await?)
    }

    /// Ends every open change stream; called when the server begins to shut down.
    pub fn close_streams(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Polls for changes written by other replicas until the service is dropped everywhere.
    pub fn spawn_follower(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let service = IdentityService { inner };
                if let Err(error) = service.catch_up().await {
                    tracing::warn!(%error, "directory catch-up failed, will retry");
                }
            }
        })
    }
}

/// Maps a unique-constraint race (lost to a concurrent writer) to ALREADY_EXISTS.
fn conflict_or(error: sea_orm::DbErr, what: impl Into<String>) -> ServiceError {
    let text = error.to_string().to_lowercase();
    if text.contains("unique") || text.contains("duplicate key") {
        ServiceError::AlreadyExists(what.into())
    } else {
        error.into()
    }
}

/// Idempotency keys are scoped to who asked and what they created, so one caller's key never
/// returns another caller's resource. Empty when the caller sent no request id.
fn idempotency_key(actor: &str, collection: &str, request_id: &str) -> String {
    let request_id = request_id.trim();
    if request_id.is_empty() {
        String::new()
    } else {
        format!("{actor}|{collection}|{request_id}")
    }
}

pub use latch_runtime::wire::parse_etag;

fn check_version(field: &str, expected: Option<i64>, actual: i64) -> ServiceResult<()> {
    match expected {
        Some(expected) if expected != actual => Err(ServiceError::Aborted(format!(
            "{field}: the resource changed since it was read (version {actual}, you sent {expected}); read it again"
        ))),
        _ => Ok(()),
    }
}
