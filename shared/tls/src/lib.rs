//! TLS for every Latch listener and client, with rustls and the ring provider (no OpenSSL).
//!
//! - [`TlsFiles`] names a certificate chain, its key and the authorities to trust; a
//!   [`TlsSource`] loads them and reloads them when the files change (cert-manager rotates
//!   them in place), so new handshakes use the new certificate while open connections and
//!   their streams carry on.
//! - [`server::Incoming`] accepts TCP connections and runs each handshake in its own task (a
//!   slow or hostile client never holds up the accept loop). Each accepted connection knows its
//!   [`server::PeerInfo`]: the address and, when the client showed a certificate, the
//!   [`ServiceIdentity`] in it.
//! - [`client::TlsConnector`] dials `https://` peers for tonic channels with this process's
//!   certificate as the client certificate.
//!
//! Tonic's own TLS settings cannot reload certificates or report the client's identity to a
//! tower layer, so Latch runs rustls itself under tonic's custom-transport hooks.

#![forbid(unsafe_code)]

pub mod client;
mod identity;
mod material;
mod reload;
pub mod server;
#[cfg(feature = "testing")]
pub mod testing;

pub use identity::{DEFAULT_TRUST_DOMAIN, ServiceIdentity, identity_of};
pub use material::{TlsError, TlsFiles};
pub use reload::TlsSource;

/// The crypto provider every Latch TLS configuration uses.
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
