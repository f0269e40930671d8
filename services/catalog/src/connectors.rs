//! Which connector serves an integration: one built into this server, or a remote process.
//! Either way its calls run [`Isolated`]: a panic in a connector is an error of that call, and
//! answers over the SDK's limits are refused, so no connector can take the server down.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use latch_connector_sdk::client::RemoteConnector;
use latch_connector_sdk::isolated::Isolated;
use latch_connector_sdk::{Connector, ConnectorError, Description};
use latch_runtime::endpoint::canonical_endpoint;
use latch_runtime::{ServiceError, ServiceResult};
use latch_tls::client::TlsConnector;

use crate::domain::records::{Integration, REMOTE};

pub type SharedConnector = Arc<dyn Connector>;

#[derive(Default)]
pub struct ConnectorRegistry {
    builtins: BTreeMap<String, SharedConnector>,
    /// Dials remote connectors: `https://` with this process's certificate (mutual TLS).
    dialer: TlsConnector,
    remotes: tokio::sync::Mutex<HashMap<String, SharedConnector>>,
}

impl std::fmt::Debug for ConnectorRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorRegistry")
            .field("builtins", &self.builtins.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Connector errors as the catalog reports them: retryable ones as UNAVAILABLE.
pub fn service_error(error: ConnectorError) -> ServiceError {
    match error {
        ConnectorError::Unavailable(m) | ConnectorError::Aborted(m) => ServiceError::Unavailable(m),
        ConnectorError::FailedPrecondition(m) | ConnectorError::NotFound(m) => ServiceError::FailedPrecondition(m),
        ConnectorError::InvalidArgument { field, rule } => ServiceError::invalid(field, rule),
    }
}

impl ConnectorRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a built-in connector; its calls run [`Isolated`], as every connector's do.
    pub fn with(mut self, connector: SharedConnector) -> Self {
        self.builtins
            .insert(connector.describe().name, Arc::new(Isolated::new(connector)));
        self
    }

    /// How remote connectors are dialled (this process's TLS certificate, when it has one).
    pub fn with_dialer(mut self, dialer: TlsConnector) -> Self {
        self.dialer = dialer;
        self
    }

    pub fn builtin_descriptions(&self) -> Vec<Description> {
        self.builtins.values().map(|c| c.describe()).collect()
    }

    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtins.contains_key(name)
    }

    pub fn builtin_names(&self) -> Vec<&str> {
        self.builtins.keys().map(String::as_str).collect()
    }

    /// The connector for a kind and endpoint (remote connectors are connected once and reused).
    pub async fn resolve(&self, connector: &str, endpoint: &str) -> ServiceResult<SharedConnector> {
        if connector == REMOTE {
            // Also for endpoints stored before the rule was strict: never dial one it refuses.
            let endpoint = &canonical_endpoint(endpoint)
                .map_err(|rule| ServiceError::FailedPrecondition(format!("connector endpoint {rule}")))?;
            if let Some(found) = self.remotes.lock().await.get(endpoint) {
                return Ok(found.clone());
            }
            // Connect without holding the lock: one unreachable endpoint must not stall the others.
            let remote = RemoteConnector::connect(endpoint, &self.dialer)
                .await
                .map_err(service_error)?;
            let remote: SharedConnector = Arc::new(Isolated::new(Arc::new(remote)));
            let mut remotes = self.remotes.lock().await;
            return Ok(remotes.entry(endpoint.to_string()).or_insert(remote).clone());
        }
        self.builtins.get(connector).cloned().ok_or_else(|| {
            ServiceError::invalid(
                "integration.connector",
                format!(
                    "unknown connector {connector:?}; built in: {}, or \"remote\" with an endpoint",
                    self.builtin_names().join(", ")
                ),
            )
        })
    }

    pub async fn for_integration(&self, integration: &Integration) -> ServiceResult<SharedConnector> {
        self.resolve(&integration.connector, &integration.endpoint).await
    }
}
