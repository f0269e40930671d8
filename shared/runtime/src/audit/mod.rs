//! How a context reports its admin changes to the audit log (which the request context keeps):
//! each change's [`AuditRecord`] goes to the context's [`outbox`] in the transaction of the
//! change, and the request context pulls the outbox by cursor ([`outbox_wire`] is the contract).

pub mod outbox;
pub mod outbox_wire;

use crate::auth::Caller;

tokio::task_local! {
    /// Where the RPC being served came from; set by the auth layer around each call.
    pub static CALL_SOURCE: String;
}

/// Where the call being served came from ("latch" outside any call: Latch's own work).
pub fn current_source() -> String {
    CALL_SOURCE.try_with(Clone::clone).unwrap_or_else(|_| "latch".into())
}

/// One change, as the context that made it describes it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
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
