//! The [`Targets`] port over `latch.catalog.v1.CatalogInternal`. Connector calls go to the
//! catalog, which makes them with the integration's config and secrets: this process never
//! holds either.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use latch_connector_sdk::convert as wire;
use latch_connector_sdk::limits::{MAX_LISTED_GRANTS, too_many};
use latch_connector_sdk::{
    Config, Connector, ConnectorError, ConnectorResult, Description, GrantOutcome, GrantRecord, GrantRequest, Resource,
};
use latch_proto::catalog::v1 as pb;
use latch_proto::catalog::v1::catalog_internal_client::CatalogInternalClient;
use latch_runtime::audit::outbox::OutboxEntry;
use latch_runtime::audit::outbox_wire;
use latch_runtime::peer::{Peer, PeerChannel};
use latch_runtime::{ServiceError, ServiceResult};
use tonic::Status;

use crate::ports::{AuditOutbox, ResourceInfo, Targets};

/// How long a proxied connector call may take: longer than the catalog's own limit on a remote
/// connector's answer (60 s), so that limit trips first and its error comes back as such.
const CONNECTOR_CALL_DEADLINE: Duration = Duration::from_secs(90);

/// A request to the catalog that waits on a connector.
fn connector_call<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(CONNECTOR_CALL_DEADLINE);
    request
}

/// How long what the catalog said of a resource is reused: each request stores its items'
/// names and owners, and a popular resource is asked for many times a second. An owner change
/// reaches new requests within this, inside the one-second propagation budget.
const RESOURCE_INFO_FOR: std::time::Duration = std::time::Duration::from_millis(500);
/// Resources remembered at most.
const MAX_REMEMBERED_RESOURCES: usize = 10_000;

type RememberedResources = std::collections::HashMap<(String, String), (std::time::Instant, ResourceInfo)>;

#[derive(Clone, Debug)]
pub struct CatalogPeer {
    peer: Peer,
    resources: std::sync::Arc<std::sync::Mutex<RememberedResources>>,
}

impl CatalogPeer {
    pub fn new(peer: Peer) -> Self {
        Self {
            peer,
            resources: Default::default(),
        }
    }

    fn remembered(&self, key: &(String, String)) -> Option<ResourceInfo> {
        let resources = self.resources.lock().unwrap_or_else(|p| p.into_inner());
        resources
            .get(key)
            .filter(|(at, _)| at.elapsed() < RESOURCE_INFO_FOR)
            .map(|(_, info)| info.clone())
    }

    fn remember(&self, key: (String, String), asked_at: std::time::Instant, info: &ResourceInfo) {
        let mut resources = self.resources.lock().unwrap_or_else(|p| p.into_inner());
        if resources.len() >= MAX_REMEMBERED_RESOURCES {
            resources.retain(|_, (at, _)| at.elapsed() < RESOURCE_INFO_FOR);
            if resources.len() >= MAX_REMEMBERED_RESOURCES {
                resources.clear();
            }
        }
        resources.insert(key, (asked_at, info.clone()));
    }
}

fn client(peer: &Peer) -> CatalogInternalClient<PeerChannel> {
    CatalogInternalClient::new(peer.channel())
}

#[async_trait::async_trait]
impl Targets for CatalogPeer {
    async fn resource(&self, integration_id: &str, resource_id: &str) -> ServiceResult<ResourceInfo> {
        let key = (integration_id.to_string(), resource_id.to_string());
        if let Some(info) = self.remembered(&key) {
            return Ok(info);
        }
        let asked_at = std::time::Instant::now();
        let info = client(&self.peer)
            .get_resource_info(pb::GetResourceInfoRequest {
                integration_id: integration_id.to_string(),
                resource_id: resource_id.to_string(),
            })
            .await
            .map_err(|s| self.peer.error(s))?
            .into_inner();
        let info = ResourceInfo {
            integration_name: info.integration_name,
            resource_type: info.resource_type,
            name: info.display_name,
            owners: info.owners,
        };
        self.remember(key, asked_at, &info);
        Ok(info)
    }

    async fn integration(&self, id_or_name: &str) -> ServiceResult<(String, String)> {
        let found = client(&self.peer)
            .find_integration(pb::FindIntegrationRequest {
                id_or_name: id_or_name.to_string(),
            })
            .await
            .map_err(|s| self.peer.error(s))?
            .into_inner();
        if !found.found {
            return Err(ServiceError::NotFound(format!("integration {id_or_name:?}")));
        }
        Ok((found.id, found.display_name))
    }

    async fn connector(&self, integration_id: &str) -> ServiceResult<Arc<dyn Connector>> {
        let description = client(&self.peer)
            .describe_connector(pb::IntegrationConnectorRequest {
                integration_id: integration_id.to_string(),
            })
            .await
            .map_err(|s| self.peer.error(s))?
            .into_inner();
        Ok(Arc::new(ProxiedConnector {
            peer: self.peer.clone(),
            integration_id: integration_id.to_string(),
            description: wire::description(description),
        }))
    }
}

/// One integration's connector, reached through the catalog. The `config` every call takes is
/// ignored: the catalog supplies the integration's own.
struct ProxiedConnector {
    peer: Peer,
    integration_id: String,
    description: Description,
}

impl ProxiedConnector {
    /// A failed hop as the connector error it carries; an unreachable catalog is UNAVAILABLE,
    /// so the call is retried.
    fn error(&self, status: Status) -> ConnectorError {
        ConnectorError::from(status)
    }

    fn not_proxied(&self, what: &str) -> ConnectorError {
        ConnectorError::FailedPrecondition(format!(
            "{what} is the catalog's work; the request service does not call it for integration {}",
            self.integration_id
        ))
    }
}

#[async_trait::async_trait]
impl Connector for ProxiedConnector {
    fn describe(&self) -> Description {
        self.description.clone()
    }

    async fn validate_config(&self, _config: &Config) -> ConnectorResult<Vec<String>> {
        Err(self.not_proxied("validating config"))
    }

    async fn list_resources(&self, _config: &Config) -> ConnectorResult<Vec<Resource>> {
        Err(self.not_proxied("listing resources"))
    }

    async fn grant(&self, _config: &Config, request: &GrantRequest) -> ConnectorResult<GrantOutcome> {
        let grant = wire::grant_request_to_proto(&Config::new(), request);
        let response = client(&self.peer)
            .grant(connector_call(pb::ProxyGrantRequest {
                integration_id: self.integration_id.clone(),
                grant: Some(grant),
            }))
            .await
            .map_err(|s| self.error(s))?;
        Ok(wire::outcome(response.into_inner()))
    }

    async fn extend(&self, _config: &Config, grant_id: &str, expires_at: Option<DateTime<Utc>>) -> ConnectorResult<()> {
        client(&self.peer)
            .extend(connector_call(pb::ProxyExtendRequest {
                integration_id: self.integration_id.clone(),
                grant_id: grant_id.to_string(),
                expires_at: expires_at.map(wire::timestamp),
            }))
            .await
            .map_err(|s| self.error(s))?;
        Ok(())
    }

    async fn revoke(&self, _config: &Config, grant_id: &str) -> ConnectorResult<()> {
        client(&self.peer)
            .revoke(connector_call(pb::ProxyRevokeRequest {
                integration_id: self.integration_id.clone(),
                grant_id: grant_id.to_string(),
            }))
            .await
            .map_err(|s| self.error(s))?;
        Ok(())
    }

    async fn list_grants(&self, _config: &Config) -> ConnectorResult<Vec<GrantRecord>> {
        let mut stream = client(&self.peer)
            .list_grants(connector_call(pb::IntegrationConnectorRequest {
                integration_id: self.integration_id.clone(),
            }))
            .await
            .map_err(|s| self.error(s))?
            .into_inner();
        let mut records = Vec::new();
        while let Some(record) = stream.message().await.map_err(|s| self.error(s))? {
            if records.len() == MAX_LISTED_GRANTS {
                return Err(too_many("grants", MAX_LISTED_GRANTS));
            }
            records.push(wire::record(record)?);
        }
        Ok(records)
    }
}

#[async_trait::async_trait]
impl AuditOutbox for CatalogPeer {
    async fn audit_outbox(&self, after: i64, limit: u32) -> ServiceResult<Vec<OutboxEntry>> {
        let answer = client(&self.peer)
            .list_audit_outbox(outbox_wire::request(after, limit))
            .await
            .map_err(|s| self.peer.error(s))?
            .into_inner();
        outbox_wire::entries(after, answer)
    }
}
