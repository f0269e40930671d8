//! A TLS configuration that follows its files: rustls asks for the certificate and the
//! authorities at every handshake, and gets whatever was last read successfully. A file that
//! is half written or wrong is reported and the previous certificate stays in use.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};

use crate::material::{Material, TlsError, TlsFiles};

/// Whether a server asks its clients for a certificate and whether it insists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// A client may show a certificate (then it must verify) or none (a user's client).
    Optional,
    /// Only clients with a certificate from a trusted authority complete the handshake.
    Required,
}

struct Current {
    material: Material,
    clients: Arc<dyn ClientCertVerifier>,
    servers: Arc<WebPkiServerVerifier>,
}

struct Inner {
    files: TlsFiles,
    trust_domain: String,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<Current>>,
}

/// Certificates and authorities from [`TlsFiles`], reloaded when the files change.
#[derive(Clone)]
pub struct TlsSource(Arc<Inner>);

impl std::fmt::Debug for TlsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSource")
            .field("files", &self.0.files)
            .field("trust_domain", &self.0.trust_domain)
            .finish()
    }
}

fn current_of(material: Material, provider: &Arc<CryptoProvider>) -> Result<Current, TlsError> {
    let clients = WebPkiClientVerifier::builder_with_provider(material.roots.clone(), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| TlsError::Config(format!("tls.ca_file: cannot check client certificates with it: {e}")))?;
    let servers = WebPkiServerVerifier::builder_with_provider(material.roots.clone(), provider.clone())
        .build()
        .map_err(|e| TlsError::Config(format!("tls.ca_file: cannot check server certificates with it: {e}")))?;
    Ok(Current {
        material,
        clients,
        servers,
    })
}

impl TlsSource {
    /// Reads the files now; an error names the setting and what is wrong.
    pub fn load(files: TlsFiles, trust_domain: &str) -> Result<Self, TlsError> {
        let provider = crate::provider();
        let current = current_of(files.load()?, &provider)?;
        Ok(Self(Arc::new(Inner {
            files,
            trust_domain: trust_domain.to_string(),
            provider,
            current: RwLock::new(Arc::new(current)),
        })))
    }

    pub fn trust_domain(&self) -> &str {
        &self.0.trust_domain
    }

    /// The service identity this process's own certificate names, in the trust domain.
    pub fn own_identity(&self) -> Option<crate::ServiceIdentity> {
        let current = self.current();
        let leaf = current.material.key.cert.first()?;
        crate::identity_of(leaf.as_ref(), &self.0.trust_domain)
    }

    fn current(&self) -> Arc<Current> {
        self.0.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the files again; `Ok(true)` when they changed and new handshakes now use them.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let read = self.0.files.read()?;
        if read.digest == self.current().material.digest {
            return Ok(false);
        }
        let current = current_of(read.parse()?, &self.0.provider)?;
        *self.0.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(current);
        Ok(true)
    }

    /// Checks the files every `every` until the task is aborted.
    pub fn spawn_reloader(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let source = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let checked = source.clone();
                match tokio::task::spawn_blocking(move || checked.reload()).await {
                    Ok(Ok(true)) => tracing::info!(
                        cert_file = %source.0.files.cert_file.display(),
                        "TLS certificate files changed; new connections use them"
                    ),
                    Ok(Ok(false)) => {}
                    Ok(Err(error)) => tracing::warn!(
                        %error,
                        "TLS certificate files could not be reloaded; the previous certificate stays in use"
                    ),
                    Err(error) => tracing::warn!(%error, "TLS reload task failed"),
                }
            }
        })
    }

    /// The configuration of a server whose clients authenticate as `client_auth` says,
    /// offering `alpn` (`h2` for gRPC).
    pub fn server_config(&self, client_auth: ClientAuth, alpn: &[&[u8]]) -> Arc<ServerConfig> {
        let mut config = ServerConfig::builder_with_provider(self.0.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default TLS versions")
            .with_client_cert_verifier(Arc::new(Clients {
                source: self.clone(),
                mandatory: client_auth == ClientAuth::Required,
            }))
            .with_cert_resolver(Arc::new(Certificate(self.clone())));
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        // A resumed session brings back the client certificate it was made with, unchecked:
        // an authority since removed, or a certificate since expired, would keep its identity.
        // Every connection shows and proves its certificate afresh.
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        Arc::new(config)
    }

    /// The configuration of a client that shows this process's certificate and trusts the
    /// configured authorities, offering HTTP/2; when `expected` is given, the server's
    /// certificate must also name that service (a peer is who it should be, not merely a
    /// holder of some certificate from the authority).
    pub fn client_config(&self, expected: Option<&str>) -> Arc<ClientConfig> {
        h2(self
            .client_builder(expected)
            .with_client_cert_resolver(Arc::new(Certificate(self.clone()))))
    }

    /// A client that trusts the configured authorities but shows no certificate (a user's
    /// client, or a test of what a server does with one).
    pub fn anonymous_client_config(&self) -> Arc<ClientConfig> {
        h2(self.client_builder(None).with_no_client_auth())
    }

    /// A client configuration checking servers against these authorities (and `expected`).
    fn client_builder(
        &self,
        expected: Option<&str>,
    ) -> rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert> {
        ClientConfig::builder_with_provider(self.0.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Servers {
                source: self.clone(),
                expected: expected.map(str::to_string),
            }))
    }

    /// A peer's handshake signature, checked with this source's provider.
    fn verify_signature(
        &self,
        tls13: bool,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.provider.signature_verification_algorithms;
        if tls13 {
            rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
        } else {
            rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
        }
    }

    fn supported_schemes(&self) -> Vec<SignatureScheme> {
        self.0.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// A client configuration offering HTTP/2 (gRPC).
pub(crate) fn h2(mut config: ClientConfig) -> Arc<ClientConfig> {
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// This process's certificate, as a server and as a client.
#[derive(Debug)]
struct Certificate(TlsSource);

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current().material.key.clone())
    }
}

impl ResolvesClientCert for Certificate {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current().material.key.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Client certificates, checked against the authorities last read.
#[derive(Debug)]
struct Clients {
    source: TlsSource,
    mandatory: bool,
}

impl ClientCertVerifier for Clients {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // Hints are optional; clients here have exactly one certificate to show.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.source
            .current()
            .clients
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.source.verify_signature(false, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.source.verify_signature(true, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.source.supported_schemes()
    }
}

/// Server certificates, checked against the authorities last read, the name dialled and, when
/// expected, the service identity.
#[derive(Debug)]
struct Servers {
    source: TlsSource,
    expected: Option<String>,
}

impl ServerCertVerifier for Servers {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.source.current().servers.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        if let Some(expected) = &self.expected {
            let named = crate::identity_of(end_entity.as_ref(), self.source.trust_domain());
            if named.as_ref().map(|id| id.name.as_str()) != Some(expected.as_str()) {
                return Err(rustls::Error::General(format!(
                    "the server's certificate names {}, not the {expected} service",
                    named.map_or_else(|| "no service".to_string(), |id| id.to_string())
                )));
            }
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.source.verify_signature(false, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.source.verify_signature(true, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.source.supported_schemes()
    }
}
