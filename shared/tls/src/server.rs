//! Accepting connections, in plain text or TLS, for tonic and axum alike. Handshakes run in
//! their own tasks with a deadline; a refused one is logged with the peer's address and the
//! reason (no certificate, unknown authority, expired, …).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;

pub use crate::reload::ClientAuth;
use crate::{ServiceIdentity, TlsSource, identity_of};

/// How long a client has to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; further connections wait to be accepted.
const MAX_HANDSHAKES: usize = 512;
const QUEUE: usize = 128;

/// Who is on the other end of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub remote_addr: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The service identity in the client's verified certificate, when it showed one.
    pub identity: Option<ServiceIdentity>,
    /// Whether the client showed a (verified) certificate at all.
    pub client_certificate: bool,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// An accepted connection, handshake done.
pub struct Accepted {
    stream: Stream,
    info: PeerInfo,
}

impl Accepted {
    pub fn info(&self) -> &PeerInfo {
        &self.info
    }
}

impl AsyncRead for Accepted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Accepted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match &mut self.stream {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.stream {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }
}

impl tonic::transport::server::Connected for Accepted {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}

/// Aborts the accept loop when the server lets go of its connections.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The connections a listener accepts, handshakes done.
pub struct Incoming {
    connections: mpsc::Receiver<Accepted>,
    local_addr: SocketAddr,
    _accepting: AbortOnDrop,
}

/// How a listener serves: plain text, or TLS with the source's certificate.
#[derive(Clone, Debug)]
pub enum Security {
    Plain,
    Tls { source: TlsSource, client_auth: ClientAuth },
}

impl Incoming {
    /// Accepts on `listener` as `security` says, offering `alpn` under TLS.
    pub fn new(listener: TcpListener, security: Security, alpn: &[&[u8]]) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (sender, connections) = mpsc::channel(QUEUE);
        let tls = match security {
            Security::Plain => None,
            Security::Tls { source, client_auth } => Some((
                TlsAcceptor::from(source.server_config(client_auth, alpn)),
                source.trust_domain().to_string(),
            )),
        };
        let task = tokio::spawn(accept_loop(listener, tls, sender));
        Ok(Self {
            connections,
            local_addr,
            _accepting: AbortOnDrop(task),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The connections as a stream, for tonic's `serve_with_incoming`.
    pub fn into_stream(self) -> impl futures::Stream<Item = io::Result<Accepted>> + Send + 'static {
        futures::stream::unfold(self, |mut incoming| async move {
            let connection = incoming.connections.recv().await?;
            Some((Ok(connection), incoming))
        })
    }
}

async fn accept_loop(listener: TcpListener, tls: Option<(TlsAcceptor, String)>, sender: mpsc::Sender<Accepted>) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let (stream, remote_addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Some((acceptor, trust_domain)) = &tls else {
            let info = PeerInfo {
                remote_addr,
                tls: false,
                identity: None,
                client_certificate: false,
            };
            if sender
                .send(Accepted {
                    stream: Stream::Plain(stream),
                    info,
                })
                .await
                .is_err()
            {
                return;
            }
            continue;
        };
        let Ok(permit) = handshakes.clone().acquire_owned().await else {
            return;
        };
        let (acceptor, trust_domain, sender) = (acceptor.clone(), trust_domain.clone(), sender.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let certificate = stream.get_ref().1.peer_certificates().and_then(|c| c.first());
                    let info = PeerInfo {
                        remote_addr,
                        tls: true,
                        identity: certificate.and_then(|c| identity_of(c.as_ref(), &trust_domain)),
                        client_certificate: certificate.is_some(),
                    };
                    let _ = sender
                        .send(Accepted {
                            stream: Stream::Tls(Box::new(stream)),
                            info,
                        })
                        .await;
                }
                Ok(Err(error)) => {
                    tracing::warn!(peer = %remote_addr, %error, "refused a TLS connection");
                }
                Err(_) => {
                    tracing::warn!(peer = %remote_addr, "refused a TLS connection: no handshake within {HANDSHAKE_TIMEOUT:?}");
                }
            }
        });
    }
}

impl axum::serve::Listener for Incoming {
    type Io = Accepted;
    type Addr = PeerInfo;

    async fn accept(&mut self) -> (Accepted, PeerInfo) {
        match self.connections.recv().await {
            Some(connection) => {
                let info = connection.info.clone();
                (connection, info)
            }
            // The accept loop ended: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<PeerInfo> {
        Ok(PeerInfo {
            remote_addr: self.local_addr,
            tls: false,
            identity: None,
            client_certificate: false,
        })
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, Incoming>> for PeerInfo {
    fn connect_info(stream: axum::serve::IncomingStream<'_, Incoming>) -> Self {
        stream.remote_addr().clone()
    }
}
