use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Isolated;
use crate::connector::{Connector, ConnectorResult};
use crate::error::ConnectorError;
use crate::limits::MAX_LISTED_RESOURCES;
use crate::model::{Config, Description, GrantOutcome, GrantRecord, GrantRequest, Resource};

/// Panics in every call, with a secret of its config in the panic message; or lists too much.
struct Faulty {
    overflow: bool,
}

#[async_trait::async_trait]
impl Connector for Faulty {
    fn describe(&self) -> Description {
        Description {
            name: "faulty".into(),
            version: "0".into(),
            resource_types: vec![],
            config_fields: vec![],
        }
    }
    async fn validate_config(&self, config: &Config) -> ConnectorResult<Vec<String>> {
        panic!("cannot read {config:?}")
    }
    async fn list_resources(&self, config: &Config) -> ConnectorResult<Vec<Resource>> {
        if self.overflow {
            return Ok(vec![Resource::default(); MAX_LISTED_RESOURCES + 1]);
        }
        panic!("cannot read {config:?}")
    }
    async fn grant(&self, _: &Config, _: &GrantRequest) -> ConnectorResult<GrantOutcome> {
        panic!("grant")
    }
    async fn extend(&self, _: &Config, _: &str, _: Option<DateTime<Utc>>) -> ConnectorResult<()> {
        panic!("extend")
    }
    async fn revoke(&self, _: &Config, _: &str) -> ConnectorResult<()> {
        panic!("revoke")
    }
    async fn list_grants(&self, _: &Config) -> ConnectorResult<Vec<GrantRecord>> {
        panic!("list_grants")
    }
}

#[tokio::test]
async fn a_panic_in_a_call_becomes_an_error_of_that_call() {
    let connector = Isolated::new(Arc::new(Faulty { overflow: false }));
    let config = Config::from([("api_key".to_string(), "hunter2".to_string())]);
    for error in [
        connector.list_resources(&config).await.unwrap_err(),
        connector.validate_config(&config).await.unwrap_err(),
        connector.revoke(&config, "g1").await.unwrap_err(),
        connector.list_grants(&config).await.unwrap_err(),
    ] {
        let ConnectorError::Unavailable(message) = &error else {
            panic!("a panic is reported as unavailable, got {error:?}");
        };
        assert!(message.contains("faulty") && message.contains("panicked"), "{message}");
        assert!(
            !message.contains("hunter2"),
            "the panic message is not passed on: {message}"
        );
    }
}

#[tokio::test]
async fn an_answer_over_the_limit_is_refused() {
    let connector = Isolated::new(Arc::new(Faulty { overflow: true }));
    let error = connector.list_resources(&Config::new()).await.unwrap_err();
    assert!(
        matches!(&error, ConnectorError::FailedPrecondition(m) if m.contains(&MAX_LISTED_RESOURCES.to_string())),
        "{error:?}"
    );
}

/// A remote connector that streams more than the limit is cut off by the client as soon as it
/// goes over, before the answer is held in memory.
#[tokio::test]
async fn a_remote_answer_over_the_limit_is_refused_by_the_client() {
    let served = crate::testing::serve_on_loopback(Arc::new(Faulty { overflow: true })).await;
    let remote = crate::client::RemoteConnector::connect(&served.endpoint, &served.callers.catalog_dialer())
        .await
        .unwrap();
    let error = remote.list_resources(&Config::new()).await.unwrap_err();
    assert!(
        matches!(&error, ConnectorError::FailedPrecondition(m) if m.contains("more than 100000 resources")),
        "{error:?}"
    );
}
