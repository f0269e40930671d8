//! Calling another Latch service: one generated gRPC client per contract, over TCP to the
//! address in `peers.<service>`, or over an in-memory transport when both run in one process.
//! Either way the call is real gRPC (HTTP/2 frames, metadata, status details), signed with this
//! service's identity and bounded by a deadline, and a failure comes back as the same
//! [`ServiceError`] the callee raised: NOT_FOUND stays NOT_FOUND, field violations survive the
//! hop, and only a peer that cannot be reached is UNAVAILABLE.

use std::io;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use latch_tls::client::TlsConnector;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::error::{FieldViolation, ServiceError};
use crate::service_identity::{SERVICE_HEADER, ServiceKey, ServiceName};

/// How long a call to a peer may take to answer before it is UNAVAILABLE, unless the caller
/// sets its own deadline on the request (`tonic::Request::set_timeout`), as calls that wait on
/// a slow outside system do. Bounds the wait for a response, not a stream's life.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);
/// How long connecting to a peer may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const MEMORY_BUFFER: usize = 256 * 1024;
const GRPC_TIMEOUT_HEADER: &str = "grpc-timeout";

/// The client end of an in-process transport; each connection is a fresh duplex pipe.
#[derive(Clone, Debug)]
pub struct MemoryConnector {
    connections: mpsc::UnboundedSender<DuplexStream>,
}

/// The server end: the pipes clients opened, as an incoming connection stream.
#[derive(Debug)]
pub struct MemoryListener {
    connections: mpsc::UnboundedReceiver<DuplexStream>,
}

/// A connected in-memory transport pair.
pub fn memory_transport() -> (MemoryConnector, MemoryListener) {
    let (connections, incoming) = mpsc::unbounded_channel();
    (
        MemoryConnector { connections },
        MemoryListener { connections: incoming },
    )
}

impl MemoryConnector {
    fn connect(&self) -> io::Result<DuplexStream> {
        let (client, server) = tokio::io::duplex(MEMORY_BUFFER);
        self.connections
            .send(server)
            .map_err(|_| io::Error::new(io::ErrorKind::ConnectionRefused, "the in-process server has stopped"))?;
        Ok(client)
    }
}

impl MemoryListener {
    /// The incoming connections, for `serve_with_incoming`.
    pub fn into_stream(self) -> impl futures::Stream<Item = io::Result<DuplexStream>> + Send + 'static {
        futures::stream::unfold(self.connections, |mut incoming| async move {
            let connection = incoming.recv().await?;
            Some((Ok(connection), incoming))
        })
    }
}

/// Signs every outgoing call with this service's identity.
#[derive(Clone, Debug)]
pub struct ServiceAuth {
    me: ServiceName,
    key: ServiceKey,
}

impl Interceptor for ServiceAuth {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        let value = MetadataValue::try_from(self.key.credential(self.me, now))
            .map_err(|_| Status::internal("service credential is not a header value"))?;
        request.metadata_mut().insert(SERVICE_HEADER, value);
        // The channel enforces the request's `grpc-timeout`; every call has one.
        if !request.metadata().contains_key(GRPC_TIMEOUT_HEADER) {
            request.set_timeout(DEFAULT_DEADLINE);
        }
        Ok(request)
    }
}

/// The channel every generated client of a peer is built on.
pub type PeerChannel = InterceptedService<Channel, ServiceAuth>;

/// Another Latch service this one calls.
#[derive(Clone, Debug)]
pub struct Peer {
    callee: ServiceName,
    channel: Channel,
    auth: ServiceAuth,
}

impl Peer {
    /// A peer at `url` (`http://host:port` on loopback, `https://host:port` anywhere, dialled
    /// by `dialer` with this process's certificate); the connection is made on first use and
    /// remade after a failure, so a peer that starts later is picked up.
    pub fn remote(
        callee: ServiceName,
        url: &str,
        me: ServiceName,
        key: ServiceKey,
        dialer: &TlsConnector,
    ) -> anyhow::Result<Self> {
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| anyhow::anyhow!("peers.{callee}: {url:?} is not a URL: {e}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(20))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true);
        Ok(Self {
            callee,
            channel: dialer.expecting(callee.as_str()).channel(endpoint),
            auth: ServiceAuth { me, key },
        })
    }

    /// A peer served by this process over an in-memory transport.
    pub fn in_process(callee: ServiceName, connector: MemoryConnector, me: ServiceName, key: ServiceKey) -> Self {
        let endpoint = Endpoint::from_static("http://in-process.latch");
        let channel = endpoint.connect_with_connector_lazy(tower::service_fn(move |_: http::Uri| {
            let connected = connector.connect().map(TokioIo::new);
            async move { connected }
        }));
        Self {
            callee,
            channel,
            auth: ServiceAuth { me, key },
        }
    }

    /// The channel to build the callee's generated client on.
    pub fn channel(&self) -> PeerChannel {
        InterceptedService::new(self.channel.clone(), self.auth.clone())
    }

    pub fn callee(&self) -> ServiceName {
        self.callee
    }

    /// The callee's status as the error it raised (see [`from_status`]).
    pub fn error(&self, status: Status) -> ServiceError {
        from_status(self.callee, status)
    }
}

/// A peer's status as the [`ServiceError`] it came from, so errors keep their meaning across
/// a hop: only a peer that could not be reached or did not answer in time is UNAVAILABLE.
pub fn from_status(callee: ServiceName, status: Status) -> ServiceError {
    let message = status.message().to_string();
    match status.code() {
        Code::InvalidArgument => {
            let violations: Vec<FieldViolation> = status
                .get_details_bad_request()
                .map(|bad| {
                    bad.field_violations
                        .into_iter()
                        .map(|v| FieldViolation::new(v.field, v.description))
                        .collect()
                })
                .unwrap_or_default();
            if violations.is_empty() {
                ServiceError::InvalidArgument(vec![FieldViolation::new(
                    "",
                    message.strip_prefix("invalid input: ").unwrap_or(&message),
                )])
            } else {
                ServiceError::InvalidArgument(violations)
            }
        }
        Code::NotFound => ServiceError::NotFound(message.strip_suffix(" not found").unwrap_or(&message).into()),
        Code::AlreadyExists => {
            ServiceError::AlreadyExists(message.strip_suffix(" already exists").unwrap_or(&message).into())
        }
        Code::FailedPrecondition | Code::OutOfRange => ServiceError::FailedPrecondition(message),
        Code::Aborted => ServiceError::Aborted(message),
        Code::PermissionDenied => ServiceError::PermissionDenied(message),
        Code::Unauthenticated => ServiceError::Unauthenticated(message),
        Code::ResourceExhausted => ServiceError::ResourceExhausted(message),
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown => {
            ServiceError::Unavailable(format!(
                "the {callee} service is unavailable: {}",
                crate::text::prefix(&message, 300)
            ))
        }
        Code::Unimplemented => ServiceError::Internal(format!(
            "the {callee} service does not implement this call (a newer service talking to an older one?): {message}"
        )),
        Code::Ok | Code::Internal | Code::DataLoss => {
            ServiceError::Internal(format!("the {callee} service failed: {message}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(error: ServiceError) -> ServiceError {
        from_status(ServiceName::Flow, Status::from(error))
    }

    #[test]
    fn errors_keep_their_meaning_across_a_hop() {
        assert!(matches!(round_trip(ServiceError::NotFound("flow \"x\"".into())),
            ServiceError::NotFound(m) if m == "flow \"x\""));
        assert!(matches!(round_trip(ServiceError::AlreadyExists("flow \"x\"".into())),
            ServiceError::AlreadyExists(m) if m == "flow \"x\""));
        assert!(matches!(
            round_trip(ServiceError::PermissionDenied("no".into())),
            ServiceError::PermissionDenied(_)
        ));
        assert!(matches!(
            round_trip(ServiceError::FailedPrecondition("later".into())),
            ServiceError::FailedPrecondition(_)
        ));
        let violations = vec![
            FieldViolation::new("targets[0]", "no such integration"),
            FieldViolation::new("name", "must not be empty"),
        ];
        match round_trip(ServiceError::InvalidArgument(violations.clone())) {
            ServiceError::InvalidArgument(back) => assert_eq!(back, violations),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_an_unreachable_peer_is_unavailable_and_it_is_named() {
        match from_status(ServiceName::Catalog, Status::unavailable("tcp connect error")) {
            ServiceError::Unavailable(message) => assert!(message.contains("catalog"), "{message}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            from_status(ServiceName::Catalog, Status::internal("boom")),
            ServiceError::Internal(_)
        ));
    }
}
