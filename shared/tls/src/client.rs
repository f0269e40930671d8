//! Dialling peers for tonic channels: `http://` in plain text, `https://` with TLS, showing
//! this process's certificate and checking the server's against the configured authorities
//! and the name in the URL.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::Uri;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint};

use crate::TlsSource;

/// A connection a [`TlsConnector`] made.
pub enum ClientStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for ClientStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Makes the connections of a tonic channel: plain for `http://`, TLS for `https://`.
#[derive(Clone, Default)]
pub struct TlsConnector {
    tls: Option<Arc<ClientConfig>>,
    /// Where `tls` came from, to make a connector expecting a given server identity.
    source: Option<TlsSource>,
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector")
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl TlsConnector {
    /// A connector that can dial only `http://` addresses.
    pub fn plain() -> Self {
        Self {
            tls: None,
            source: None,
        }
    }

    /// A connector that dials `https://` with `source`'s certificate and authorities.
    pub fn new(source: Option<&TlsSource>) -> Self {
        Self {
            tls: source.map(|s| s.client_config(None)),
            source: source.cloned(),
        }
    }

    /// This connector, insisting that the server's certificate names `service` (a Latch peer).
    pub fn expecting(&self, service: &str) -> Self {
        Self {
            tls: self.source.as_ref().map(|s| s.client_config(Some(service))),
            source: self.source.clone(),
        }
    }

    /// A connector that dials `https://` trusting `source`'s authorities, showing no certificate.
    pub fn anonymous(source: &TlsSource) -> Self {
        Self {
            tls: Some(source.anonymous_client_config()),
            source: None,
        }
    }

    /// A connector for people's tools (the CLI): trusting the authorities in `ca_pem`, or the
    /// public web roots when none are given, and showing no certificate.
    pub fn for_users(ca_pem: Option<&[u8]>) -> Result<Self, crate::TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        match ca_pem {
            Some(pem) => {
                use rustls::pki_types::pem::PemObject as _;
                for authority in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
                    let authority =
                        authority.map_err(|e| crate::TlsError::Config(format!("not PEM certificates: {e}")))?;
                    roots
                        .add(authority)
                        .map_err(|e| crate::TlsError::Config(format!("not a usable authority: {e}")))?;
                }
                if roots.is_empty() {
                    return Err(crate::TlsError::Config("holds no certificate".into()));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let config = ClientConfig::builder_with_provider(crate::provider())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            tls: Some(crate::reload::h2(config)),
            source: None,
        })
    }

    /// Whether `https://` addresses can be dialled.
    pub fn has_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// A channel to `endpoint`, connected on first use (and again after a failure).
    pub fn channel(&self, endpoint: Endpoint) -> Channel {
        endpoint.connect_with_connector_lazy(self.clone())
    }

    /// A channel to `endpoint`, connected now.
    pub async fn connect(&self, endpoint: Endpoint) -> Result<Channel, tonic::transport::Error> {
        endpoint.connect_with_connector(self.clone()).await
    }
}

/// Whether `host` (as in a URL, IPv6 in brackets or not) is this machine: an IP literal in
/// 127.0.0.0/8, `::1`, or exactly `localhost`. Plain text goes nowhere else.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(address) => address.is_loopback(),
        Err(_) => host == "localhost",
    }
}

fn refused(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionRefused, message)
}

impl tower::Service<Uri> for TlsConnector {
    type Response = TokioIo<ClientStream>;
    type Error = io::Error;
    type Future = BoxFuture<'static, io::Result<Self::Response>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let tls = self.tls.clone();
        Box::pin(async move {
            let secure = match uri.scheme_str() {
                Some("https") => true,
                Some("http") => false,
                _ => return Err(refused(format!("{uri}: only http:// and https:// can be dialled"))),
            };
            let host = uri
                .host()
                .ok_or_else(|| refused(format!("{uri}: no host")))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            if !secure && !is_loopback_host(&host) {
                return Err(refused(format!(
                    "{uri}: plain http:// only to loopback (127.0.0.0/8, [::1] or localhost); use https://"
                )));
            }
            let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            if !secure {
                return Ok(TokioIo::new(ClientStream::Plain(tcp)));
            }
            let config = tls.ok_or_else(|| {
                refused(format!(
                    "{uri}: https:// needs this process's TLS settings (tls.cert_file, tls.key_file, tls.ca_file)"
                ))
            })?;
            let name = ServerName::try_from(host.clone())
                .map_err(|_| refused(format!("{uri}: {host:?} is not a name a certificate can carry")))?;
            let stream = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await?;
            Ok(TokioIo::new(ClientStream::Tls(Box::new(stream))))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_an_ip_literal_of_this_machine_or_localhost() {
        for host in ["127.0.0.1", "127.1.2.3", "[::1]", "::1", "localhost"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "10.0.0.1",
            "[::ffff:127.0.0.1]",
            "localhost.example.org",
            "127.0.0.1.example.org",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[tokio::test]
    async fn plain_text_is_dialled_only_to_loopback() {
        use tower::Service as _;
        let dialled = TlsConnector::plain().call(Uri::from_static("http://192.0.2.1:7070"));
        let error = tokio::time::timeout(std::time::Duration::from_secs(2), dialled)
            .await
            .expect("refused before any connection is tried")
            .err()
            .expect("refused");
        assert!(error.to_string().contains("only to loopback"), "{error}");
    }
}
