//! A connector passing every call on to another, under its own name, and telling a [`Watch`] of
//! the calls that change access.

use latch_connector_sdk::{
    Config, Connector, ConnectorResult, Description, GrantOutcome, GrantRecord, GrantRequest, Resource,
};

/// What a [`Watched`] connector notes of the calls it passes on.
pub trait Watch: Send + Sync + 'static {
    /// Called before a grant call is passed on.
    fn granting(&self, _request: &GrantRequest) {}

    /// The result of a grant, extend or revoke call, on its way back.
    fn answered<T>(&self, result: ConnectorResult<T>) -> ConnectorResult<T> {
        result
    }
}

/// `inner`, described as `name`, telling `watch` of its calls.
pub struct Watched<C, W> {
    name: &'static str,
    inner: C,
    pub watch: W,
}

impl<C: Default, W: Default> Watched<C, W> {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            inner: C::default(),
            watch: W::default(),
        }
    }
}

#[async_trait::async_trait]
impl<C: Connector, W: Watch> Connector for Watched<C, W> {
    fn describe(&self) -> Description {
        Description {
            name: self.name.into(),
            ..self.inner.describe()
        }
    }
    async fn validate_config(&self, config: &Config) -> ConnectorResult<Vec<String>> {
        self.inner.validate_config(config).await
    }
    async fn list_resources(&self, config: &Config) -> ConnectorResult<Vec<Resource>> {
        self.inner.list_resources(config).await
    }
    async fn grant(&self, config: &Config, request: &GrantRequest) -> ConnectorResult<GrantOutcome> {
        self.watch.granting(request);
        self.watch.answered(self.inner.grant(config, request).await)
    }
    async fn extend(
        &self,
        config: &Config,
        grant_id: &str,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> ConnectorResult<()> {
        self.watch
            .answered(self.inner.extend(config, grant_id, expires_at).await)
    }
    async fn revoke(&self, config: &Config, grant_id: &str) -> ConnectorResult<()> {
        self.watch.answered(self.inner.revoke(config, grant_id).await)
    }
    async fn list_grants(&self, config: &Config) -> ConnectorResult<Vec<GrantRecord>> {
        self.inner.list_grants(config).await
    }
}
