//! [`Isolated`]: a connector whose calls cannot take the server down.
//!
//! Every call runs in a task of its own, so a panic inside the connector (a bug, or a value
//! it failed to check) becomes an error of that one call instead of unwinding through the
//! caller (a sync loop, a grant worker). Answers over the [`crate::limits`] are refused.
//!
//! A panic is reported as UNAVAILABLE: nothing says a retry cannot help, and a revoke must
//! never be given up on. Its message is not passed on (it may quote the config, secrets
//! included); the log names the connector and the call.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::connector::{Connector, ConnectorResult};
use crate::error::ConnectorError;
use crate::limits::{MAX_LISTED_GRANTS, MAX_LISTED_RESOURCES, too_many};
use crate::model::{Config, Description, GrantOutcome, GrantRecord, GrantRequest, Resource};

pub struct Isolated {
    inner: Arc<dyn Connector>,
    name: String,
}

impl Isolated {
    pub fn new(inner: Arc<dyn Connector>) -> Self {
        let name = inner.describe().name;
        Self { inner, name }
    }

    /// Runs one call in its own task; the task is aborted if the caller stops waiting.
    async fn run<T: Send + 'static>(
        &self,
        call: &'static str,
        work: impl Future<Output = ConnectorResult<T>> + Send + 'static,
    ) -> ConnectorResult<T> {
        let mut task = AbortOnDrop(tokio::spawn(work));
        match (&mut task.0).await {
            Ok(result) => result,
            Err(error) if error.is_panic() => {
                tracing::error!(connector = %self.name, call, "connector call panicked; reported as an error of this call");
                Err(ConnectorError::Unavailable(format!(
                    "connector {} failed unexpectedly in {call} (it panicked); see the server log",
                    self.name
                )))
            }
            Err(_) => Err(ConnectorError::Unavailable(format!(
                "connector {} call {call} was cancelled",
                self.name
            ))),
        }
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[async_trait::async_trait]
impl Connector for Isolated {
    fn describe(&self) -> Description {
        self.inner.describe()
    }

    async fn validate_config(&self, config: &Config) -> ConnectorResult<Vec<String>> {
        let (inner, config) = (self.inner.clone(), config.clone());
        self.run("validate_config", async move { inner.validate_config(&config).await })
            .await
    }

    async fn list_resources(&self, config: &Config) -> ConnectorResult<Vec<Resource>> {
        let (inner, config) = (self.inner.clone(), config.clone());
        let resources = self
            .run("list_resources", async move { inner.list_resources(&config).await })
            .await?;
        if resources.len() > MAX_LISTED_RESOURCES {
            return Err(too_many("resources", MAX_LISTED_RESOURCES));
        }
        Ok(resources)
    }

    async fn grant(&self, config: &Config, request: &GrantRequest) -> ConnectorResult<GrantOutcome> {
        let (inner, config, request) = (self.inner.clone(), config.clone(), request.clone());
        self.run("grant", async move { inner.grant(&config, &request).await })
            .await
    }

    async fn extend(&self, config: &Config, grant_id: &str, expires_at: Option<DateTime<Utc>>) -> ConnectorResult<()> {
        let (inner, config, grant_id) = (self.inner.clone(), config.clone(), grant_id.to_string());
        self.run(
            "extend",
            async move { inner.extend(&config, &grant_id, expires_at).await },
        )
        .await
    }

    async fn revoke(&self, config: &Config, grant_id: &str) -> ConnectorResult<()> {
        let (inner, config, grant_id) = (self.inner.clone(), config.clone(), grant_id.to_string());
        self.run("revoke", async move { inner.revoke(&config, &grant_id).await })
            .await
    }

    async fn list_grants(&self, config: &Config) -> ConnectorResult<Vec<GrantRecord>> {
        let (inner, config) = (self.inner.clone(), config.clone());
        let grants = self
            .run("list_grants", async move { inner.list_grants(&config).await })
            .await?;
        if grants.len() > MAX_LISTED_GRANTS {
            return Err(too_many("grants", MAX_LISTED_GRANTS));
        }
        Ok(grants)
    }
}

#[cfg(test)]
mod tests;
