//! Authentication of every RPC: a tower layer reads `authorization: Bearer <token>`, asks the
//! configured [`Authenticator`] who it belongs to, and hands the [`Caller`] to the handler in the
//! request extensions. Identity always comes from the token, never from a request field.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use latch_proto::common::v1::Role;
use latch_tls::server::PeerInfo;
use tonic::Status;
use tower::{Layer, Service};

use crate::error::{ServiceError, ServiceResult};
use crate::service_identity::{SERVICE_HEADER, ServiceKey, ServiceName, internal_service_of};

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScope {
    /// The gRPC API, with the owner's roles.
    Api,
    /// Only the SCIM endpoint, for an identity provider.
    Scim,
    /// Another Latch service, on internal RPCs only.
    Service(ServiceName),
}

/// The authenticated caller of an RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub user_name: String,
    pub token_id: String,
    pub roles: Vec<Role>,
    pub scope: TokenScope,
    /// Where the call came from ("grpc 10.0.0.7:51234"), for the audit log.
    pub source: String,
}

impl Caller {
    /// A Latch service calling an internal RPC: no user, no roles.
    pub fn service(name: ServiceName, source: String) -> Self {
        Self {
            user_id: String::new(),
            user_name: format!("service/{name}"),
            token_id: String::new(),
            roles: Vec::new(),
            scope: TokenScope::Service(name),
            source,
        }
    }

    /// The service behind this call, when it is one.
    pub fn service_name(&self) -> Option<ServiceName> {
        match self.scope {
            TokenScope::Service(name) => Some(name),
            _ => None,
        }
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role(Role::Admin)
    }

    pub fn require_admin(&self) -> ServiceResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ServiceError::PermissionDenied(format!(
                "user {} is not an admin; this call needs the admin role",
                self.user_name
            )))
        }
    }

    /// Admins and auditors pass: the audit trail and break-glass reviews are theirs.
    pub fn require_auditor(&self) -> ServiceResult<()> {
        if self.is_admin() || self.has_role(Role::Auditor) {
            Ok(())
        } else {
            Err(ServiceError::PermissionDenied(format!(
                "user {} is neither an admin nor an auditor; this call needs one of those roles",
                self.user_name
            )))
        }
    }

    /// The actor string recorded in change feeds and audit events.
    pub fn actor(&self) -> String {
        format!("users/{}", self.user_id)
    }
}

/// Resolves a bearer token to its caller.
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync + 'static {
    async fn authenticate(&self, token: &str) -> ServiceResult<Caller>;
}

pub type SharedAuthenticator = Arc<dyn Authenticator>;

/// The caller the auth layer attached to this request.
pub fn caller<T>(request: &tonic::Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no authenticated caller on this request"))
}

/// Extracts the token from `authorization: Bearer <token>`.
pub fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Where a call came from: the peer address, and the client a proxy claims it serves.
fn source<B>(request: &http::Request<B>) -> String {
    let peer = match request.extensions().get::<PeerInfo>() {
        Some(info) => match &info.identity {
            Some(identity) => format!("{} ({identity})", info.remote_addr),
            None => info.remote_addr.to_string(),
        },
        None => request
            .extensions()
            .get::<tonic::transport::server::TcpConnectInfo>()
            .and_then(|info| info.remote_addr())
            .map(|addr| addr.to_string())
            .unwrap_or_else(|| "unknown".into()),
    };
    match request.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        // The header is the client's claim; the peer is what was seen.
        Some(forwarded) => format!("grpc {peer} (x-forwarded-for: {})", forwarded.trim()),
        None => format!("grpc {peer}"),
    }
}

/// Paths open without a token: health checks and reflection, so probes and grpcurl work.
fn is_public_path(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.")
}

/// Who may call each internal service of this process, and the key that proves a service.
#[derive(Debug, Clone)]
pub struct ServiceGate {
    key: ServiceKey,
    internal: HashMap<&'static str, Vec<ServiceName>>,
    /// Methods of an internal service that fewer services may call (`/pkg.Svc/Method`).
    methods: HashMap<String, Vec<ServiceName>>,
}

impl ServiceGate {
    pub fn new(key: ServiceKey) -> Self {
        Self {
            key,
            internal: HashMap::new(),
            methods: HashMap::new(),
        }
    }

    /// Narrows one method (`/latch.catalog.v1.CatalogInternal/Grant`) to `callers`.
    pub fn restrict(&mut self, path: &str, callers: &[ServiceName]) {
        self.methods
            .entry(path.to_string())
            .or_default()
            .extend_from_slice(callers);
    }

    /// Lets `callers` (and only them) call the internal service `name`.
    pub fn allow(&mut self, name: &'static str, callers: &[ServiceName]) {
        self.internal.entry(name).or_default().extend_from_slice(callers);
    }

    /// The caller of an internal RPC, or the status that refuses it. Over TLS the caller is the
    /// service its verified client certificate names, and nothing else: a signed header is not
    /// accepted there (every process can sign one). In plain text, which is served on loopback
    /// and in-process only, the signed header names it.
    fn admit(
        &self,
        service: &str,
        path: &str,
        headers: &http::HeaderMap,
        peer: Option<&PeerInfo>,
        source: String,
    ) -> Result<Caller, Status> {
        let name = match peer.filter(|peer| peer.tls) {
            Some(peer) => self.certified(service, peer, &source)?,
            None => self.signed(service, headers, &source)?,
        };
        let allowed = self
            .methods
            .get(path)
            .or_else(|| self.internal.get(service))
            .map(Vec::as_slice)
            .unwrap_or_default();
        if allowed.is_empty() {
            tracing::warn!(caller = %name, %source, path, "a service called an internal RPC this process does not serve");
            return Err(Status::unimplemented(format!("{path} is not served by this process")));
        }
        if !allowed.contains(&name) {
            tracing::warn!(caller = %name, %source, path, "a service called an internal RPC it may not");
            return Err(Status::permission_denied(format!(
                "{path} accepts only the {} service; {name} may not call it",
                allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(Caller::service(name, source))
    }

    /// The service a TLS client's certificate names.
    fn certified(&self, service: &str, peer: &PeerInfo, source: &str) -> Result<ServiceName, Status> {
        let Some(identity) = &peer.identity else {
            tracing::warn!(
                %source,
                service,
                certificate = peer.client_certificate,
                "refused an internal RPC: no service identity in a client certificate"
            );
            return Err(Status::unauthenticated(format!(
                "{service} is internal to Latch: it needs a client certificate naming a Latch service (spiffe://<trust domain>/<service>)"
            )));
        };
        identity.name.parse::<ServiceName>().map_err(|_| {
            tracing::warn!(%source, service, %identity, "refused an internal RPC: the certificate names no Latch service");
            Status::permission_denied(format!("{service} is internal to Latch; {identity} is not a Latch service"))
        })
    }

    /// The service a signed `x-latch-service` header names (plain text: loopback, in-process).
    fn signed(&self, service: &str, headers: &http::HeaderMap, source: &str) -> Result<ServiceName, Status> {
        let Some(credential) = headers.get(SERVICE_HEADER).and_then(|v| v.to_str().ok()) else {
            return Err(if bearer_token(headers).is_some() {
                Status::permission_denied(format!("{service} is internal to Latch: a user's token cannot call it"))
            } else {
                Status::unauthenticated(format!("{service} is internal to Latch and needs a service credential"))
            });
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        self.key.verify(credential, now).map_err(|error| {
            tracing::warn!(%error, %source, service, "refused a service credential");
            Status::unauthenticated("invalid service credential")
        })
    }
}

#[derive(Clone)]
pub struct AuthLayer {
    authenticator: SharedAuthenticator,
    gate: Option<Arc<ServiceGate>>,
}

impl AuthLayer {
    pub fn new(authenticator: SharedAuthenticator) -> Self {
        Self {
            authenticator,
            gate: None,
        }
    }

    /// Also admits Latch services to the internal RPCs the gate allows them.
    pub fn with_gate(mut self, gate: Option<Arc<ServiceGate>>) -> Self {
        self.gate = gate;
        self
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            authenticator: self.authenticator.clone(),
            gate: self.gate.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    authenticator: SharedAuthenticator,
    gate: Option<Arc<ServiceGate>>,
}

impl<S, RequestBody, ResponseBody> Service<http::Request<RequestBody>> for AuthService<S>
where
    S: Service<http::Request<RequestBody>, Response = http::Response<ResponseBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    RequestBody: Send + 'static,
    ResponseBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<RequestBody>) -> Self::Future {
        // The ready inner service is the one we must call; leave a fresh clone in its place.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let authenticator = self.authenticator.clone();
        let gate = self.gate.clone();
        Box::pin(async move {
            if is_public_path(request.uri().path()) {
                return inner.call(request).await;
            }
            if let Some(service) = internal_service_of(request.uri().path()) {
                let admitted = match &gate {
                    Some(gate) => gate.admit(
                        service,
                        request.uri().path(),
                        request.headers(),
                        request.extensions().get::<PeerInfo>(),
                        source(&request),
                    ),
                    None => Err(Status::permission_denied(format!(
                        "{service} is internal to Latch and not served to callers of this address"
                    ))),
                };
                return match admitted {
                    Ok(caller) => {
                        let from = caller.source.clone();
                        request.extensions_mut().insert(caller);
                        crate::audit::CALL_SOURCE.scope(from, inner.call(request)).await
                    }
                    Err(status) => Ok(status.into_http()),
                };
            }
            let Some(token) = bearer_token(request.headers()).map(str::to_owned) else {
                let status = Status::unauthenticated(
                    "missing credentials: send `authorization: Bearer <token>` (latch login, or LATCH_TOKEN)",
                );
                return Ok(status.into_http());
            };
            match authenticator.authenticate(&token).await {
                Ok(caller) if matches!(caller.scope, TokenScope::Service(_)) => {
                    Ok(Status::permission_denied("a service identity calls internal RPCs only").into_http())
                }
                Ok(caller) if caller.scope != TokenScope::Api => Ok(Status::permission_denied(
                    "this token is scoped to SCIM provisioning and cannot call the gRPC API",
                )
                .into_http()),
                Ok(mut caller) => {
                    caller.source = source(&request);
                    let from = caller.source.clone();
                    request.extensions_mut().insert(caller);
                    crate::audit::CALL_SOURCE.scope(from, inner.call(request)).await
                }
                Err(error) => Ok(Status::from(error).into_http()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(http::header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&headers), None);
        headers.insert(http::header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer_token(&headers), None);
    }

    #[test]
    fn only_health_and_reflection_are_public() {
        assert!(is_public_path("/grpc.health.v1.Health/Check"));
        assert!(is_public_path(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
        ));
        assert!(!is_public_path("/latch.identity.v1.IdentityService/WhoAmI"));
    }
}
