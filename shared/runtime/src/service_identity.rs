//! Service identities: how one Latch service proves to another that it is, say, the request
//! service, and how a server keeps its internal RPCs for the services that need them.
//!
//! A service signs `"{service}.{unix seconds}"` with a key every Latch process derives from the
//! shared encryption key, and sends it as `x-latch-service`. The receiving process checks the
//! signature and the time (a minute either way). Internal RPCs live in proto services whose
//! name ends in `Internal`; they accept only a valid service credential from an allowed service,
//! never a user's token, and a user's call never carries a service identity. Mutual TLS joins
//! this in the zero-trust issue; the rule about who may call what stays here.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header a service's credential travels in.
pub const SERVICE_HEADER: &str = "x-latch-service";
/// How far a credential's time may be from the receiver's clock.
pub const MAX_SKEW_SECS: i64 = 60;

/// A Latch service that can run as its own process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceName {
    Identity,
    Catalog,
    Flow,
    Request,
    Gateway,
}

impl ServiceName {
    /// Every service, in start order.
    pub const ALL: [ServiceName; 5] = [
        ServiceName::Identity,
        ServiceName::Catalog,
        ServiceName::Flow,
        ServiceName::Request,
        ServiceName::Gateway,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::Identity => "identity",
            ServiceName::Catalog => "catalog",
            ServiceName::Flow => "flow",
            ServiceName::Request => "request",
            ServiceName::Gateway => "gateway",
        }
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServiceName {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ServiceName::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "unknown service {:?}; one of: {}",
                    crate::text::prefix(text, 40),
                    ServiceName::ALL.map(ServiceName::as_str).join(", ")
                )
            })
    }
}

/// The key that signs and checks service credentials (the same in every process of one Latch).
#[derive(Clone)]
pub struct ServiceKey(Arc<[u8; 32]>);

impl fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServiceKey(..)")
    }
}

/// Why a credential was refused (for the log; the caller sees one generic message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("malformed service credential")]
    Malformed,
    #[error("service credential with a bad signature")]
    BadSignature,
    #[error("service credential outside the allowed clock skew")]
    Stale,
}

impl ServiceKey {
    pub fn new(key: [u8; 32]) -> Self {
        Self(Arc::new(key))
    }

    fn mac(&self, message: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_slice()).expect("any key length");
        mac.update(b"latch service credential\0");
        mac.update(message.as_bytes());
        mac
    }

    /// The credential `service` sends at `now_unix`.
    pub fn credential(&self, service: ServiceName, now_unix: i64) -> String {
        let message = format!("{service}.{now_unix}");
        let tag = URL_SAFE_NO_PAD.encode(self.mac(&message).finalize().into_bytes());
        format!("{message}.{tag}")
    }

    /// The service a credential names, when it is signed with this key and fresh at `now_unix`.
    pub fn verify(&self, credential: &str, now_unix: i64) -> Result<ServiceName, CredentialError> {
        if credential.len() > 200 {
            return Err(CredentialError::Malformed);
        }
        let (message, tag) = credential.rsplit_once('.').ok_or(CredentialError::Malformed)?;
        let (service, at) = message.split_once('.').ok_or(CredentialError::Malformed)?;
        let service: ServiceName = service.parse().map_err(|_| CredentialError::Malformed)?;
        let at: i64 = at.parse().map_err(|_| CredentialError::Malformed)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| CredentialError::Malformed)?;
        self.mac(message)
            .verify_slice(&tag)
            .map_err(|_| CredentialError::BadSignature)?;
        if (now_unix - at).abs() > MAX_SKEW_SECS {
            return Err(CredentialError::Stale);
        }
        Ok(service)
    }
}

/// Whether a gRPC path belongs to an internal service (`/latch.flow.v1.FlowInternal/Decide`).
pub fn internal_service_of(path: &str) -> Option<&str> {
    let service = path.strip_prefix('/')?.split('/').next()?;
    service.ends_with("Internal").then_some(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> ServiceKey {
        ServiceKey::new([byte; 32])
    }

    #[test]
    fn a_credential_names_its_service_while_fresh() {
        let credential = key(1).credential(ServiceName::Request, 1_000);
        assert_eq!(key(1).verify(&credential, 1_030), Ok(ServiceName::Request));
        assert_eq!(
            key(1).verify(&credential, 1_000 + MAX_SKEW_SECS + 1),
            Err(CredentialError::Stale)
        );
        assert_eq!(key(2).verify(&credential, 1_000), Err(CredentialError::BadSignature));
    }

    #[test]
    fn a_credential_cannot_be_renamed() {
        let credential = key(1).credential(ServiceName::Gateway, 1_000);
        let forged = credential.replacen("gateway", "request", 1);
        assert_eq!(key(1).verify(&forged, 1_000), Err(CredentialError::BadSignature));
        assert_eq!(key(1).verify("request.1000", 1_000), Err(CredentialError::Malformed));
        assert_eq!(
            key(1).verify(&"x".repeat(10_000), 1_000),
            Err(CredentialError::Malformed)
        );
    }

    #[test]
    fn internal_services_are_named_so() {
        assert_eq!(
            internal_service_of("/latch.flow.v1.FlowInternal/Decide"),
            Some("latch.flow.v1.FlowInternal")
        );
        assert_eq!(internal_service_of("/latch.flow.v1.FlowService/GetFlow"), None);
        assert_eq!(internal_service_of("garbage"), None);
    }
}
