//! A connector in another process, reached over gRPC, behind the same [`Connector`] trait.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use latch_proto::connector::v1 as pb;
use latch_proto::connector::v1::connector_service_client::ConnectorServiceClient;
use latch_tls::client::TlsConnector;
use tonic::transport::Channel;

use crate::connector::{Connector, ConnectorResult};
use crate::convert;
use crate::error::ConnectorError;
use crate::limits::{MAX_LISTED_GRANTS, MAX_LISTED_RESOURCES, too_many};
use crate::model::{Config, Description, GrantOutcome, GrantRecord, GrantRequest, Resource};

pub struct RemoteConnector {
    client: ConnectorServiceClient<Channel>,
    description: Description,
}

impl RemoteConnector {
    /// Connects to `endpoint` (`https://host:port`) with `dialer` (this process's client
    /// certificate) and asks it to describe itself.
    pub async fn connect(endpoint: &str, dialer: &TlsConnector) -> ConnectorResult<Self> {
        let endpoint_config = Channel::from_shared(endpoint.to_string())
            .map_err(|e| ConnectorError::invalid("endpoint", e.to_string()))?
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(60));
        let channel = dialer
            .connect(endpoint_config)
            .await
            .map_err(|e| ConnectorError::Unavailable(format!("cannot reach connector at {endpoint}: {}", chain(&e))))?;
        let mut client = ConnectorServiceClient::new(channel);
        let description = convert::description(client.describe(pb::DescribeRequest {}).await?.into_inner());
        Ok(Self { client, description })
    }
}

#[async_trait::async_trait]
impl Connector for RemoteConnector {
    fn describe(&self) -> Description {
        self.description.clone()
    }

    async fn validate_config(&self, config: &Config) -> ConnectorResult<Vec<String>> {
        let request = pb::ValidateConfigRequest {
            config: convert::config_to_proto(config),
        };
        Ok(self
            .client
            .clone()
            .validate_config(request)
            .await?
            .into_inner()
            .problems)
    }

    async fn list_resources(&self, config: &Config) -> ConnectorResult<Vec<Resource>> {
        let request = pb::ListResourcesRequest {
            config: convert::config_to_proto(config),
        };
        let stream = self.client.clone().list_resources(request).await?.into_inner();
        let resources = collect_at_most(stream, MAX_LISTED_RESOURCES, "resources").await?;
        Ok(resources.into_iter().map(convert::resource).collect())
    }

    async fn grant(&self, config: &Config, request: &GrantRequest) -> ConnectorResult<GrantOutcome> {
        let response = self
            .client
            .clone()
            .grant(convert::grant_request_to_proto(config, request))
            .await?;
        Ok(convert::outcome(response.into_inner()))
    }

    async fn extend(&self, config: &Config, grant_id: &str, expires_at: Option<DateTime<Utc>>) -> ConnectorResult<()> {
        let request = pb::ExtendRequest {
            grant_id: grant_id.to_string(),
            config: convert::config_to_proto(config),
            expires_at: expires_at.map(convert::timestamp),
        };
        self.client.clone().extend(request).await?;
        Ok(())
    }

    async fn revoke(&self, config: &Config, grant_id: &str) -> ConnectorResult<()> {
        let request = pb::RevokeRequest {
            grant_id: grant_id.to_string(),
            config: convert::config_to_proto(config),
        };
        self.client.clone().revoke(request).await?;
        Ok(())
    }

    async fn list_grants(&self, config: &Config) -> ConnectorResult<Vec<GrantRecord>> {
        let request = pb::ListGrantsRequest {
            config: convert::config_to_proto(config),
        };
        let stream = self.client.clone().list_grants(request).await?.into_inner();
        let records = collect_at_most(stream, MAX_LISTED_GRANTS, "grants").await?;
        records.into_iter().map(convert::record).collect()
    }
}

/// Reads a stream up to `limit` items: a remote connector that sends more is refused as soon
/// as it does, before it can exhaust memory.
async fn collect_at_most<T>(mut stream: tonic::Streaming<T>, limit: usize, what: &str) -> ConnectorResult<Vec<T>> {
    let mut items = Vec::new();
    while let Some(item) = stream.try_next().await? {
        if items.len() == limit {
            return Err(too_many(what, limit));
        }
        items.push(item);
    }
    Ok(items)
}

/// An error with its causes, so a refused certificate says why ("UnknownCA").
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
