//! How a context reports its admin changes to the audit log (which the request context keeps).
//! Contexts start before the audit log does, so they hold an [`AuditHandle`] that is pointed at
//! the log once it runs.

use std::sync::{Arc, OnceLock};

use crate::auth::Caller;
use crate::error::ServiceResult;

tokio::task_local! {
    /// Where the RPC being served came from; set by the auth layer around each call.
    pub static CALL_SOURCE: String;
}

/// Where the call being served came from ("latch" outside any call: Latch's own work).
pub fn current_source() -> String {
    CALL_SOURCE.try_with(Clone::clone).unwrap_or_else(|_| "latch".into())
}

/// One change, as the context that made it describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditRecord {
    /// `users/{id}`, or `latch` for Latch itself.
    pub actor: String,
    /// `flow.created`, `integration.deleted`, `token.revoked`, …
    pub action: String,
    /// What changed: `flows/{id}`, `integrations/{id}`, `tokens/{id}`.
    pub subject: String,
    /// Where the change came from (the caller's address).
    pub source: String,
    /// The user an access change is for, when there is one.
    pub grantee: String,
    /// The flow involved, by name, when there is one.
    pub flow: String,
    /// Resources involved, by name.
    pub resources: Vec<String>,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    pub detail: String,
}

impl AuditRecord {
    /// A change `caller` made to `subject`.
    pub fn by(caller: &Caller, action: &str, subject: String) -> Self {
        Self {
            actor: caller.actor(),
            action: action.to_string(),
            subject,
            source: caller.source.clone(),
            ..Self::default()
        }
    }

    pub fn states(mut self, before: impl serde::Serialize, after: impl serde::Serialize) -> Self {
        self.before = serde_json::to_value(before).unwrap_or_default();
        self.after = serde_json::to_value(after).unwrap_or_default();
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

#[async_trait::async_trait]
pub trait AuditSink: Send + Sync + 'static {
    /// Appends the record durably (it is chained into the log shortly after).
    async fn append(&self, record: AuditRecord) -> ServiceResult<()>;
}

/// Where a context sends its audit records; cheap to clone, set once.
#[derive(Clone, Default)]
pub struct AuditHandle(Arc<OnceLock<Arc<dyn AuditSink>>>);

impl std::fmt::Debug for AuditHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AuditHandle").field(&self.0.get().is_some()).finish()
    }
}

impl AuditHandle {
    /// Points the handle at the audit log (later calls change nothing).
    pub fn connect(&self, sink: Arc<dyn AuditSink>) {
        let _ = self.0.set(sink);
    }

    /// Records a change that has been committed. A failure is logged loudly, never returned: the
    /// change itself stands.
    pub async fn record(&self, record: AuditRecord) {
        match self.0.get() {
            Some(sink) => {
                let (action, subject) = (record.action.clone(), record.subject.clone());
                if let Err(error) = sink.append(record).await {
                    tracing::error!(%error, %action, %subject, "audit event not recorded");
                }
            }
            None => tracing::warn!(
                action = %record.action,
                subject = %record.subject,
                "no audit log runs in this process; event not recorded"
            ),
        }
    }
}
