//! Serving a connector the way Latch reaches it, in a test (feature `testing`): mutual TLS
//! with an authority made on the spot, the catalog's certificate to call it with, and
//! strangers to check that it refuses everyone else.

use std::sync::Arc;

use latch_tls::client::TlsConnector;
use latch_tls::testing::{TestPki, Validity};
use latch_tls::{TlsFiles, TlsSource};

use crate::conformance::Strangers;
use crate::connector::Connector;
use crate::server::CallerAuth;

/// An authority and the certificates of a connector, the catalog and a stranger, in a
/// temporary directory.
pub struct TestCallers {
    pub pki: TestPki,
    /// The connector's own certificate (a server for `localhost` and 127.0.0.1).
    pub connector: TlsFiles,
    /// What the catalog calls with.
    pub catalog: TlsFiles,
    /// A Latch service the connector does not admit.
    pub request: TlsFiles,
    _dir: tempfile::TempDir,
}

impl Default for TestCallers {
    fn default() -> Self {
        Self::new()
    }
}

impl TestCallers {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a directory for certificates");
        let pki = TestPki::new("connector test authority");
        let connector = pki.write(dir.path(), "connector", &pki.leaf(Some("connector"), Validity::Current));
        let catalog = pki.write(dir.path(), "catalog", &pki.leaf(Some("catalog"), Validity::Current));
        let request = pki.write(dir.path(), "request", &pki.leaf(Some("request"), Validity::Current));
        Self {
            pki,
            connector,
            catalog,
            request,
            _dir: dir,
        }
    }

    fn source(files: &TlsFiles) -> TlsSource {
        TlsSource::load(files.clone(), latch_tls::DEFAULT_TRUST_DOMAIN).expect("test certificates load")
    }

    /// How the connector admits callers: the catalog only.
    pub fn connector_auth(&self) -> CallerAuth {
        CallerAuth::mutual_tls(Self::source(&self.connector))
    }

    /// How the catalog dials the connector.
    pub fn catalog_dialer(&self) -> TlsConnector {
        TlsConnector::new(Some(&Self::source(&self.catalog)))
    }

    /// Callers the connector must refuse.
    pub fn strangers(&self) -> Strangers {
        Strangers {
            anonymous: TlsConnector::anonymous(&Self::source(&self.catalog)),
            wrong_service: TlsConnector::new(Some(&Self::source(&self.request))),
        }
    }
}

/// A connector served on a free loopback port until dropped.
pub struct Served {
    /// `https://localhost:<port>`.
    pub endpoint: String,
    pub callers: TestCallers,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `connector` over mutual TLS on 127.0.0.1.
pub async fn serve_on_loopback<C: Connector>(connector: Arc<C>) -> Served {
    let callers = TestCallers::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let endpoint = format!("https://localhost:{}", listener.local_addr().expect("bound").port());
    let auth = callers.connector_auth();
    let task = tokio::spawn(async move {
        if let Err(error) = crate::server::serve(connector, listener, auth, std::future::pending()).await {
            tracing::error!(%error, "the test connector stopped");
        }
    });
    Served {
        endpoint,
        callers,
        task,
    }
}
