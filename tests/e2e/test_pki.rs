//! One certificate authority for the whole test run, and a certificate per Latch service,
//! connector and test client made from it on first use: what a deployment with mutual TLS on
//! every hop uses, on loopback.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use latch_tls::client::TlsConnector;
use latch_tls::testing::{TestPki, Validity};
use latch_tls::{TlsFiles, TlsSource};
use tonic::transport::Channel;

struct Authority {
    pki: TestPki,
    dir: tempfile::TempDir,
    written: Mutex<HashMap<String, TlsFiles>>,
}

fn authority() -> &'static Authority {
    static AUTHORITY: OnceLock<Authority> = OnceLock::new();
    AUTHORITY.get_or_init(|| Authority {
        pki: TestPki::new("latch e2e authority"),
        dir: tempfile::tempdir().expect("a directory for certificates"),
        written: Mutex::new(HashMap::new()),
    })
}

/// The certificate naming `spiffe://latch/<name>` (for localhost and 127.0.0.1).
pub fn files(name: &str) -> TlsFiles {
    let authority = authority();
    let mut written = authority.written.lock().unwrap_or_else(|e| e.into_inner());
    written
        .entry(name.to_string())
        .or_insert_with(|| {
            authority.pki.write(
                authority.dir.path(),
                name,
                &authority.pki.leaf(Some(name), Validity::Current),
            )
        })
        .clone()
}

/// `LATCH_TLS__…` for a process whose certificate names `name`.
pub fn env(name: &str) -> Vec<(String, String)> {
    let files = files(name);
    vec![
        ("LATCH_TLS__CERT_FILE".into(), files.cert_file.display().to_string()),
        ("LATCH_TLS__KEY_FILE".into(), files.key_file.display().to_string()),
        ("LATCH_TLS__CA_FILE".into(), files.ca_file.display().to_string()),
    ]
}

pub fn source(name: &str) -> TlsSource {
    TlsSource::load(files(name), latch_tls::DEFAULT_TRUST_DOMAIN).expect("test certificates load")
}

/// A channel to `addr` over TLS with the certificate of `name` (a test client is "tests").
pub fn channel_as(name: &str, addr: std::net::SocketAddr) -> Channel {
    channel_with(Some(&files(name)), addr)
}

/// Serves `connector` over mutual TLS on loopback, admitting the catalog's certificate;
/// returns its `https://localhost:<port>` endpoint.
pub async fn serve_connector<C: latch_connector_sdk::Connector>(connector: Arc<C>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let endpoint = format!("https://localhost:{}", listener.local_addr().expect("bound").port());
    let auth = latch_connector_sdk::server::CallerAuth::mutual_tls(source("connector"));
    tokio::spawn(latch_connector_sdk::server::serve(
        connector,
        listener,
        auth,
        std::future::pending(),
    ));
    endpoint
}

/// A certificate naming `name`, from the test authority, that expired in 2021.
pub fn expired_files(name: &str) -> TlsFiles {
    let authority = authority();
    let leaf = authority.pki.leaf(Some(name), Validity::Expired);
    authority
        .pki
        .write(authority.dir.path(), &format!("expired-{name}"), &leaf)
}

/// A certificate naming `name` from another authority, with the test authority trusted (so
/// the client itself would accept the server).
pub fn stranger_files(name: &str) -> TlsFiles {
    let authority = authority();
    let other = TestPki::new("another authority");
    let mut files = other.write(
        authority.dir.path(),
        &format!("stranger-{name}"),
        &other.leaf(Some(name), Validity::Current),
    );
    files.ca_file = self::files("tests").ca_file;
    files
}

/// A certificate from the test authority that names no service (no SPIFFE URI).
pub fn nameless_files() -> TlsFiles {
    let authority = authority();
    let leaf = authority.pki.leaf(None, Validity::Current);
    authority.pki.write(authority.dir.path(), "nameless", &leaf)
}

/// A channel over TLS with whatever certificate `files` hold (or none: `None`).
pub fn channel_with(files: Option<&TlsFiles>, addr: std::net::SocketAddr) -> Channel {
    let endpoint = Channel::from_shared(format!("https://localhost:{}", addr.port()))
        .unwrap()
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(10));
    let dialer = match files {
        Some(files) => TlsConnector::new(Some(
            &TlsSource::load(files.clone(), latch_tls::DEFAULT_TRUST_DOMAIN).expect("certificates load"),
        )),
        None => TlsConnector::anonymous(&source("tests")),
    };
    dialer.channel(endpoint)
}
