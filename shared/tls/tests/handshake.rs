//! Real gRPC over loopback with certificates made here: who gets through the handshake, and a
//! rotation that leaves an open stream alone.

use std::time::Duration;

use latch_tls::client::TlsConnector;
use latch_tls::server::{ClientAuth, Incoming, Security};
use latch_tls::testing::{TestPki, Validity};
use latch_tls::{TlsFiles, TlsSource};
use tokio_stream::StreamExt;
use tonic::transport::Endpoint;
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::server::HealthReporter;

struct Server {
    url: String,
    health: HealthReporter,
    source: TlsSource,
    _task: tokio::task::JoinHandle<()>,
}

async fn serve(files: TlsFiles, client_auth: ClientAuth) -> Server {
    let source = TlsSource::load(files, "latch").expect("server certificates");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let incoming = Incoming::new(
        listener,
        Security::Tls {
            source: source.clone(),
            client_auth,
        },
        &[b"h2"],
    )
    .unwrap();
    let url = format!("https://localhost:{}", incoming.local_addr().port());
    let (health, service) = tonic_health::server::health_reporter();
    health.set_service_status("", ServingStatus::Serving).await;
    let task = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(incoming.into_stream())
            .await
            .unwrap();
    });
    Server {
        url,
        health,
        source,
        _task: task,
    }
}

/// A handshake the server refused: the client learns it as UNAVAILABLE, or (under TLS 1.3,
/// where a client certificate is judged after the client's half is done) as a transport error
/// carrying the server's alert.
fn assert_refused(status: &tonic::Status, alert: &str) {
    assert!(
        matches!(status.code(), tonic::Code::Unavailable | tonic::Code::Unknown),
        "{status:?}"
    );
    assert!(format!("{status:?}").contains(alert), "expected {alert}: {status:?}");
}

async fn check(url: &str, client: Option<&TlsFiles>) -> Result<(), tonic::Status> {
    let source = client.map(|files| TlsSource::load(files.clone(), "latch").expect("client certificates"));
    let endpoint = Endpoint::from_shared(url.to_string())
        .unwrap()
        .connect_timeout(Duration::from_secs(5));
    let channel = TlsConnector::new(source.as_ref()).channel(endpoint);
    HealthClient::new(channel)
        .check(HealthCheckRequest { service: String::new() })
        .await
        .map(|_| ())
}

#[tokio::test]
async fn only_a_client_with_a_current_certificate_from_the_authority_gets_through() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new("latch test authority");
    let server = serve(
        pki.write(dir.path(), "server", &pki.leaf(Some("catalog"), Validity::Current)),
        ClientAuth::Required,
    )
    .await;
    let good = pki.write(dir.path(), "request", &pki.leaf(Some("request"), Validity::Current));
    check(&server.url, Some(&good))
        .await
        .expect("the right certificate works");

    let expired = pki.write(dir.path(), "expired", &pki.leaf(Some("request"), Validity::Expired));
    let status = check(&server.url, Some(&expired)).await.unwrap_err();
    assert_refused(&status, "CertificateExpired");

    let other = TestPki::new("another authority");
    let mut stranger = other.write(dir.path(), "stranger", &other.leaf(Some("request"), Validity::Current));
    // It trusts the server's authority, but its own certificate comes from another.
    stranger.ca_file = good.ca_file.clone();
    let status = check(&server.url, Some(&stranger)).await.unwrap_err();
    assert_refused(&status, "UnknownCA");

    // No certificate at all: the client checks the server but shows nothing.
    let trusting = TlsSource::load(good.clone(), "latch").unwrap();
    let channel = TlsConnector::anonymous(&trusting).channel(Endpoint::from_shared(server.url.clone()).unwrap());
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest { service: String::new() })
        .await
        .unwrap_err();
    assert_refused(&status, "CertificateRequired");

    let status = check(&server.url.replace("https://", "http://"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(status.code(), tonic::Code::Unavailable | tonic::Code::Unknown),
        "plain text to a TLS port: {status:?}"
    );
}

#[tokio::test]
async fn a_client_must_trust_the_servers_authority_and_name() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new("latch test authority");
    let server = serve(
        pki.write(dir.path(), "server", &pki.leaf_for_localhost_only(Some("catalog"))),
        ClientAuth::Optional,
    )
    .await;
    let good = pki.write(dir.path(), "client", &pki.leaf(Some("request"), Validity::Current));
    check(&server.url, Some(&good))
        .await
        .expect("the right authority works");

    let other = TestPki::new("another authority");
    let fooled = other.write(dir.path(), "fooled", &other.leaf(Some("request"), Validity::Current));
    let status = check(&server.url, Some(&fooled)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");

    // The same server reached by an address its certificate does not name.
    let status = check(&server.url.replace("localhost", "127.0.0.1"), Some(&good))
        .await
        .unwrap_err();
    assert_refused(&status, "NotValidForName");
}

#[tokio::test]
async fn a_rotated_certificate_serves_new_connections_while_an_open_stream_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let old = TestPki::new("old authority");
    let new = TestPki::new("new authority");
    let server_files = old.write(dir.path(), "server", &old.leaf(Some("catalog"), Validity::Current));
    let server = serve(server_files.clone(), ClientAuth::Optional).await;

    let trusts_old = old.write(dir.path(), "old-client", &old.leaf(Some("request"), Validity::Current));
    let trusts_new = new.write(dir.path(), "new-client", &new.leaf(Some("request"), Validity::Current));
    let source = TlsSource::load(trusts_old.clone(), "latch").unwrap();
    let channel = TlsConnector::new(Some(&source)).channel(Endpoint::from_shared(server.url.clone()).unwrap());
    let mut watch = HealthClient::new(channel)
        .watch(HealthCheckRequest { service: String::new() })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);
    assert!(
        check(&server.url, Some(&trusts_new)).await.is_err(),
        "before the rotation"
    );

    // cert-manager writes the new certificate and authority in place; the server notices.
    let rotated = new.leaf(Some("catalog"), Validity::Current);
    latch_tls::testing::write_atomically(&server_files.cert_file, &rotated.cert_pem);
    latch_tls::testing::write_atomically(&server_files.key_file, &rotated.key_pem);
    // Clients of both authorities are trusted while they move over.
    latch_tls::testing::write_atomically(&server_files.ca_file, &format!("{}{}", old.ca_pem(), new.ca_pem()));
    assert!(server.source.reload().expect("reload"), "the files changed");
    assert!(!server.source.reload().expect("reload"), "and only once");

    check(&server.url, Some(&trusts_new))
        .await
        .expect("new connections get the new certificate");
    assert!(
        check(&server.url, Some(&trusts_old)).await.is_err(),
        "and no longer the old one"
    );

    server.health.set_service_status("", ServingStatus::NotServing).await;
    let next = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("the open stream still delivers")
        .unwrap()
        .unwrap();
    assert_eq!(next.status, ServingStatus::NotServing as i32);
}

#[tokio::test]
async fn a_broken_rotation_keeps_the_previous_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new("latch test authority");
    let files = pki.write(dir.path(), "server", &pki.leaf(Some("catalog"), Validity::Current));
    let server = serve(files.clone(), ClientAuth::Optional).await;
    // A key that does not belong to the certificate (half a rotation).
    latch_tls::testing::write_atomically(&files.key_file, &pki.leaf(None, Validity::Current).key_pem);
    let error = server.source.reload().unwrap_err();
    assert!(error.to_string().contains("tls.key_file"), "{error}");
    let client = pki.write(dir.path(), "client", &pki.leaf(Some("request"), Validity::Current));
    check(&server.url, Some(&client))
        .await
        .expect("still serving the previous certificate");
}

#[tokio::test]
async fn a_client_whose_authority_was_removed_cannot_come_back_on_a_resumed_session() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new("latch test authority");
    let files = pki.write(dir.path(), "server", &pki.leaf(Some("catalog"), Validity::Current));
    let server = serve(files.clone(), ClientAuth::Required).await;
    let client = pki.write(dir.path(), "client", &pki.leaf(Some("request"), Validity::Current));
    // One connector: its configuration keeps the session tickets a server hands out.
    let connector = TlsConnector::new(Some(&TlsSource::load(client, "latch").unwrap()));
    let ping = |connector: TlsConnector| {
        let url = server.url.clone();
        async move {
            HealthClient::new(connector.channel(Endpoint::from_shared(url).unwrap()))
                .check(HealthCheckRequest { service: String::new() })
                .await
        }
    };
    ping(connector.clone()).await.expect("trusted at first");

    // The client's authority is no longer trusted (the server keeps its own certificate).
    let other = TestPki::new("the only authority now");
    latch_tls::testing::write_atomically(&files.ca_file, &other.ca_pem());
    assert!(server.source.reload().unwrap());
    let status = ping(connector).await.unwrap_err();
    assert_refused(&status, "UnknownCA");
}
