//! Routing a gRPC call to its context: by the package in the path, streaming both ways.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use latch_runtime::config::PeersConfig;
use latch_runtime::service_identity::{ServiceName, internal_service_of};
use latch_tls::client::TlsConnector;
use latch_tls::server::PeerInfo;
use tonic::Status;
use tonic::transport::{Channel, Endpoint};
use tower::ServiceExt as _;

/// How long connecting to a context may take before the call is UNAVAILABLE.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The context each proto package belongs to.
fn context_of(package: &str) -> Option<ServiceName> {
    match package {
        "latch.identity.v1" => Some(ServiceName::Identity),
        "latch.catalog.v1" => Some(ServiceName::Catalog),
        "latch.flow.v1" => Some(ServiceName::Flow),
        "latch.request.v1" => Some(ServiceName::Request),
        _ => None,
    }
}

/// Where a path goes, or why it goes nowhere.
fn destination(path: &str) -> Result<ServiceName, Status> {
    if let Some(service) = internal_service_of(path) {
        return Err(Status::permission_denied(format!(
            "{service} is internal to Latch and is not served through the gateway"
        )));
    }
    let service = path
        .strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .map(|(service, _)| service)
        .unwrap_or_default();
    service
        .rsplit_once('.')
        .and_then(|(package, _)| context_of(package))
        .ok_or_else(|| {
            Status::unimplemented(format!(
                "no Latch service {:?}",
                latch_runtime::text::prefix(service, 80)
            ))
        })
}

/// A channel to every context, from `peers.*`.
#[derive(Clone, Debug)]
pub struct Backends {
    channels: BTreeMap<ServiceName, Channel>,
}

impl Backends {
    /// Channels to the four contexts; an error naming the first peer setting that is missing.
    pub fn from_peers(peers: &PeersConfig, dialer: &TlsConnector) -> anyhow::Result<Self> {
        let mut channels = BTreeMap::new();
        for service in [
            ServiceName::Identity,
            ServiceName::Catalog,
            ServiceName::Flow,
            ServiceName::Request,
        ] {
            let Some(url) = peers.of(service) else {
                anyhow::bail!(
                    "the gateway routes to every context: set peers.{service} (LATCH_PEERS__{}) to the {service} service's gRPC address",
                    service.as_str().to_uppercase()
                );
            };
            let endpoint = Endpoint::from_shared(url.to_string())
                .map_err(|e| anyhow::anyhow!("peers.{service}: {url:?} is not a URL: {e}"))?
                .connect_timeout(CONNECT_TIMEOUT)
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(20))
                .keep_alive_while_idle(true);
            channels.insert(service, dialer.expecting(service.as_str()).channel(endpoint));
        }
        Ok(Self { channels })
    }

    /// Forwards one call to its context and streams the answer back.
    async fn forward(&self, client: Option<SocketAddr>, request: Request) -> Response {
        let to = match destination(request.uri().path()) {
            Ok(to) => to,
            Err(status) => return status.into_http::<axum::body::Body>().into_response(),
        };
        let Some(channel) = self.channels.get(&to).cloned() else {
            return Status::unavailable(format!("the gateway has no route to the {to} service"))
                .into_http::<axum::body::Body>()
                .into_response();
        };
        let (mut parts, body) = request.into_parts();
        // The context records who called; the gateway says where the call came from.
        if let Some(client) = client {
            let forwarded = match parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
                Some(earlier) => format!("{earlier}, {}", client.ip()),
                None => client.ip().to_string(),
            };
            if let Ok(value) = forwarded.parse() {
                parts.headers.insert("x-forwarded-for", value);
            }
        }
        // A service credential is never accepted from outside.
        parts.headers.remove(latch_runtime::service_identity::SERVICE_HEADER);
        let forwarded = http::Request::from_parts(parts, tonic::body::Body::new(body));
        match channel.oneshot(forwarded).await {
            Ok(response) => response.map(axum::body::Body::new).into_response(),
            Err(error) => {
                tracing::warn!(service = %to, %error, "could not reach a context");
                Status::unavailable(format!("the {to} service is unavailable: {error}"))
                    .into_http::<axum::body::Body>()
                    .into_response()
            }
        }
    }
}

/// The gateway's gRPC router (its own health and reflection, every other call forwarded) and
/// the reporter that marks it serving.
pub fn router(backends: Backends) -> anyhow::Result<(axum::Router, tonic_health::server::HealthReporter)> {
    let (reporter, health) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(latch_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let own = tonic::service::Routes::new(health)
        .add_service(reflection)
        .into_axum_router();
    let router = own.fallback(move |request: Request| {
        let backends = backends.clone();
        let client = request
            .extensions()
            .get::<ConnectInfo<PeerInfo>>()
            .map(|c| c.0.remote_addr)
            .or_else(|| request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0));
        async move { backends.forward(client, request).await }
    });
    Ok((router, reporter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_go_to_the_context_of_their_package() {
        assert_eq!(
            destination("/latch.flow.v1.FlowService/GetFlow").unwrap(),
            ServiceName::Flow
        );
        assert_eq!(
            destination("/latch.request.v1.AuditService/ListAuditEvents").unwrap(),
            ServiceName::Request
        );
        assert_eq!(
            destination("/latch.identity.v1.IdentityService/WhoAmI").unwrap(),
            ServiceName::Identity
        );
    }

    #[test]
    fn internal_and_unknown_services_go_nowhere() {
        assert_eq!(
            destination("/latch.flow.v1.FlowInternal/Decide").unwrap_err().code(),
            tonic::Code::PermissionDenied
        );
        assert_eq!(
            destination("/evil.v1.Thing/Do").unwrap_err().code(),
            tonic::Code::Unimplemented
        );
        assert_eq!(destination("garbage").unwrap_err().code(), tonic::Code::Unimplemented);
    }

    #[tokio::test]
    async fn every_missing_peer_is_named() {
        let error = Backends::from_peers(&PeersConfig::default(), &TlsConnector::plain()).unwrap_err();
        assert!(error.to_string().contains("peers.identity"), "{error}");
        let peers = PeersConfig {
            identity: "http://127.0.0.1:1".into(),
            catalog: "http://127.0.0.1:2".into(),
            flow: "http://127.0.0.1:3".into(),
            request: String::new(),
        };
        let error = Backends::from_peers(&peers, &TlsConnector::plain()).unwrap_err();
        assert!(error.to_string().contains("LATCH_PEERS__REQUEST"), "{error}");
    }
}
