//! The gRPC connection to latchd, with the caller's token on every request.

use std::time::Duration;

use latch_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use latch_proto::flow::v1::flow_service_client::FlowServiceClient;
use latch_proto::identity::v1::identity_service_client::IdentityServiceClient;
use latch_proto::request::v1::audit_service_client::AuditServiceClient;
use latch_proto::request::v1::request_service_client::RequestServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

use crate::error::CliError;

pub type IdentityClient = IdentityServiceClient<InterceptedService<Channel, BearerAuth>>;
pub type CatalogClient = CatalogServiceClient<InterceptedService<Channel, BearerAuth>>;
pub type FlowClient = FlowServiceClient<InterceptedService<Channel, BearerAuth>>;
pub type RequestClient = RequestServiceClient<InterceptedService<Channel, BearerAuth>>;
pub type AuditClient = AuditServiceClient<InterceptedService<Channel, BearerAuth>>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Debug, Clone)]
pub struct BearerAuth {
    header: MetadataValue<Ascii>,
}

impl BearerAuth {
    pub fn new(token: &str) -> Result<Self, CliError> {
        let header = format!("Bearer {}", token.trim())
            .parse()
            .map_err(|_| CliError::MalformedToken)?;
        Ok(Self { header })
    }
}

impl Interceptor for BearerAuth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request.metadata_mut().insert("authorization", self.header.clone());
        Ok(request)
    }
}

/// Connects eagerly, so an unreachable server is reported as such before any request is built.
pub async fn connect(server: &str, token: &str) -> Result<IdentityClient, CliError> {
    let (channel, auth) = authenticated_channel(server, token).await?;
    Ok(IdentityServiceClient::with_interceptor(channel, auth))
}

/// The catalog lives on the same server as the identity service, behind the same token.
pub async fn connect_catalog(server: &str, token: &str) -> Result<CatalogClient, CliError> {
    let (channel, auth) = authenticated_channel(server, token).await?;
    Ok(CatalogServiceClient::with_interceptor(channel, auth))
}

/// Access flows live on the same server too, behind the same token.
pub async fn connect_flow(server: &str, token: &str) -> Result<FlowClient, CliError> {
    let (channel, auth) = authenticated_channel(server, token).await?;
    Ok(FlowServiceClient::with_interceptor(channel, auth))
}

/// Requests live on the same server too, behind the same token.
pub async fn connect_request(server: &str, token: &str) -> Result<RequestClient, CliError> {
    let (channel, auth) = authenticated_channel(server, token).await?;
    Ok(RequestServiceClient::with_interceptor(channel, auth))
}

/// The audit log lives with requests, behind the same token.
pub async fn connect_audit(server: &str, token: &str) -> Result<AuditClient, CliError> {
    let (channel, auth) = authenticated_channel(server, token).await?;
    Ok(AuditServiceClient::with_interceptor(channel, auth))
}

static CA_FILE: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();

/// The authorities an `https://` server's certificate must come from (`--ca-file`); the
/// public web roots when not given.
pub fn trust(ca_file: Option<std::path::PathBuf>) {
    let _ = CA_FILE.set(ca_file);
}

fn dialer(server: &str) -> Result<latch_tls::client::TlsConnector, CliError> {
    if !server.trim().to_ascii_lowercase().starts_with("https://") {
        // The token travels with every call: in plain text only to this machine.
        let local = server
            .trim()
            .parse::<http::Uri>()
            .ok()
            .and_then(|uri| uri.host().map(latch_tls::client::is_loopback_host))
            .unwrap_or(false);
        if !local {
            return Err(CliError::Usage(format!(
                "{server:?}: plain http:// only to this machine (127.0.0.1, [::1], localhost); use https:// (with --ca-file for a private authority)"
            )));
        }
        return Ok(latch_tls::client::TlsConnector::plain());
    }
    let authorities = match CA_FILE.get().cloned().flatten() {
        Some(path) => Some(
            std::fs::read(&path)
                .map_err(|error| CliError::Usage(format!("--ca-file {}: cannot read it: {error}", path.display())))?,
        ),
        None => None,
    };
    latch_tls::client::TlsConnector::for_users(authorities.as_deref())
        .map_err(|error| CliError::Usage(format!("--ca-file: {error}")))
}

/// The token is checked before the network is touched, so a malformed one never costs a
/// connection attempt.
async fn authenticated_channel(server: &str, token: &str) -> Result<(Channel, BearerAuth), CliError> {
    let auth = BearerAuth::new(token)?;
    let endpoint = Endpoint::from_shared(server.to_string())
        .map_err(|error| CliError::Usage(format!("invalid server address {server:?}: {error}")))?
        .connect_timeout(CONNECT_TIMEOUT);
    let channel = dialer(server)?
        .connect(endpoint)
        .await
        .map_err(|error| CliError::Unreachable {
            server: server.to_string(),
            cause: error_chain(&error),
        })?;
    Ok((channel, auth))
}

/// "transport error: tcp connect error: Connection refused": the outer message alone says little.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_the_bearer_header() {
        let mut auth = BearerAuth::new("lt_abc123").unwrap();
        let request = auth.call(Request::new(())).unwrap();
        assert_eq!(request.metadata().get("authorization").unwrap(), "Bearer lt_abc123");
    }

    #[test]
    fn rejects_tokens_that_cannot_be_a_header() {
        assert!(matches!(BearerAuth::new("bad\ntoken"), Err(CliError::MalformedToken)));
    }

    #[tokio::test]
    async fn a_token_is_sent_in_plain_text_only_to_this_machine() {
        let error = connect("http://latch.example.com:7070", "t").await.unwrap_err();
        assert!(
            matches!(&error, CliError::Usage(m) if m.contains("https://")),
            "{error:?}"
        );
        let error = connect("http://127.0.0.1.example.com:7070", "t").await.unwrap_err();
        assert!(matches!(error, CliError::Usage(_)), "{error:?}");
    }

    #[tokio::test]
    async fn unreachable_server_is_reported_as_such() {
        // Port 1 on loopback: nothing listens there in any sane test environment.
        let error = connect("http://127.0.0.1:1", "t").await.unwrap_err();
        assert!(matches!(error, CliError::Unreachable { .. }), "{error:?}");
        let error = connect_catalog("http://127.0.0.1:1", "t").await.unwrap_err();
        assert!(matches!(error, CliError::Unreachable { .. }), "{error:?}");
        let error = connect_flow("http://127.0.0.1:1", "t").await.unwrap_err();
        assert!(matches!(error, CliError::Unreachable { .. }), "{error:?}");
    }

    #[tokio::test]
    async fn malformed_server_address_is_a_usage_error() {
        let error = connect("not a url", "t").await.unwrap_err();
        assert!(matches!(error, CliError::Usage(_)), "{error:?}");
    }
}
