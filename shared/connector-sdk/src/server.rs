//! Serves any [`Connector`] as `latch.connector.v1.ConnectorService`.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use latch_proto::connector::v1 as pb;
use latch_proto::connector::v1::connector_service_server::{ConnectorService, ConnectorServiceServer};
use tonic::{Request, Response, Status};

use latch_tls::TlsSource;
use latch_tls::server::{ClientAuth, Incoming, PeerInfo, Security};

use crate::connector::Connector;
use crate::convert;

pub struct ConnectorGrpc<C: Connector> {
    connector: Arc<C>,
}

impl<C: Connector> ConnectorGrpc<C> {
    pub fn new(connector: Arc<C>) -> Self {
        Self { connector }
    }

    pub fn into_server(self) -> ConnectorServiceServer<Self> {
        ConnectorServiceServer::new(self)
    }
}

/// Who may call a connector: mutual TLS, always. The connector's certificate and the
/// authorities it trusts come from a [`TlsSource`] (reloaded as the files rotate); a client
/// completes the handshake only with a certificate from those authorities, and may call only
/// when the certificate names one of the allowed services (Latch's catalog by default).
#[derive(Clone, Debug)]
pub struct CallerAuth {
    source: TlsSource,
    allowed: Vec<String>,
}

impl CallerAuth {
    /// Mutual TLS with `source`, admitting the catalog service (`spiffe://<domain>/catalog`).
    pub fn mutual_tls(source: TlsSource) -> Self {
        Self {
            source,
            allowed: vec!["catalog".to_string()],
        }
    }

    /// Admits these service names instead (their certificates' `spiffe://<domain>/<name>`).
    pub fn allowing(mut self, names: &[&str]) -> Self {
        self.allowed = names.iter().map(|n| n.to_string()).collect();
        self
    }

    /// The caller's service identity, or the status refusing the call (logged).
    #[allow(clippy::result_large_err)] // tonic's interceptor signature
    fn admit(&self, request: &Request<()>) -> Result<(), Status> {
        let peer = request.extensions().get::<PeerInfo>();
        let Some(identity) = peer.and_then(|p| p.identity.as_ref()) else {
            tracing::warn!(
                peer = ?peer.map(|p| p.remote_addr),
                "refused a connector call: the client's certificate names no service"
            );
            return Err(Status::unauthenticated(
                "this connector needs a client certificate naming the calling Latch service",
            ));
        };
        if !self.allowed.contains(&identity.name) {
            tracing::warn!(peer = ?peer.map(|p| p.remote_addr), caller = %identity, "refused a connector call from a service that may not call it");
            return Err(Status::permission_denied(format!(
                "{identity} may not call this connector; it admits {}",
                self.allowed.join(", ")
            )));
        }
        Ok(())
    }
}

/// Serves `connector` on `listener` until `shutdown` resolves (a connector's `main` in a line),
/// admitting only the callers `auth` allows: an unauthenticated call is refused and logged.
pub async fn serve<C: Connector>(
    connector: Arc<C>,
    listener: tokio::net::TcpListener,
    auth: CallerAuth,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let security = Security::Tls {
        source: auth.source.clone(),
        client_auth: ClientAuth::Required,
    };
    let incoming = Incoming::new(listener, security, &[b"h2"])?;
    let service =
        ConnectorServiceServer::with_interceptor(ConnectorGrpc::new(connector), move |request: Request<()>| {
            auth.admit(&request)?;
            Ok(request)
        });
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(incoming.into_stream(), shutdown)
        .await?;
    Ok(())
}

type Streamed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl<C: Connector> ConnectorService for ConnectorGrpc<C> {
    async fn describe(&self, _request: Request<pb::DescribeRequest>) -> Result<Response<pb::DescribeResponse>, Status> {
        Ok(Response::new(convert::description_to_proto(&self.connector.describe())))
    }

    async fn validate_config(
        &self,
        request: Request<pb::ValidateConfigRequest>,
    ) -> Result<Response<pb::ValidateConfigResponse>, Status> {
        let config = convert::config(&request.get_ref().config);
        let problems = self.connector.validate_config(&config).await?;
        Ok(Response::new(pb::ValidateConfigResponse { problems }))
    }

    type ListResourcesStream = Streamed<pb::Resource>;

    async fn list_resources(
        &self,
        request: Request<pb::ListResourcesRequest>,
    ) -> Result<Response<Self::ListResourcesStream>, Status> {
        let config = convert::config(&request.get_ref().config);
        let resources = self.connector.list_resources(&config).await?;
        let stream = futures::stream::iter(resources.into_iter().map(|r| Ok(convert::resource_to_proto(r))));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn grant(&self, request: Request<pb::GrantRequest>) -> Result<Response<pb::GrantResponse>, Status> {
        let (config, grant) = convert::grant_request(request.into_inner())?;
        let outcome = self.connector.grant(&config, &grant).await?;
        Ok(Response::new(convert::outcome_to_proto(outcome)))
    }

    async fn extend(&self, request: Request<pb::ExtendRequest>) -> Result<Response<pb::ExtendResponse>, Status> {
        let request = request.into_inner();
        let expires_at = convert::instant("expires_at", request.expires_at.as_ref())?;
        self.connector
            .extend(&convert::config(&request.config), &request.grant_id, expires_at)
            .await?;
        Ok(Response::new(pb::ExtendResponse {}))
    }

    async fn revoke(&self, request: Request<pb::RevokeRequest>) -> Result<Response<pb::RevokeResponse>, Status> {
        let request = request.into_inner();
        self.connector
            .revoke(&convert::config(&request.config), &request.grant_id)
            .await?;
        Ok(Response::new(pb::RevokeResponse {}))
    }

    type ListGrantsStream = Streamed<pb::GrantRecord>;

    async fn list_grants(
        &self,
        request: Request<pb::ListGrantsRequest>,
    ) -> Result<Response<Self::ListGrantsStream>, Status> {
        let config = convert::config(&request.get_ref().config);
        let grants = self.connector.list_grants(&config).await?;
        let stream = futures::stream::iter(grants.into_iter().map(|g| Ok(convert::record_to_proto(g))));
        Ok(Response::new(Box::pin(stream)))
    }
}
