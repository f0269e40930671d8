//! Mutual TLS between Latch's services, tried from outside: a client without a certificate,
//! with one from another authority, with an expired one, or naming a service an internal RPC
//! does not admit, is refused (and the refusal logged); the right one works; a certificate
//! rotated under an open `WatchChanges` stream leaves the stream alone.

use std::time::{Duration, Instant};

use latch_proto::catalog::v1 as catalog;
use latch_proto::catalog::v1::catalog_internal_client::CatalogInternalClient;
use latch_runtime::crypto::SecretBox;
use latch_runtime::peer::Peer;
use latch_runtime::service_identity::{SERVICE_HEADER, ServiceKey, ServiceName};
use latch_tls::testing::{TestPki, Validity, write_atomically};
use tokio_stream::StreamExt;
use tonic::Code;

use crate::harness::{ADMIN_TOKEN, Bearer, TestServer};
use crate::split_harness::{ENCRYPTION_KEY, SplitDeployment};
use crate::test_pki::{channel_as, channel_with, expired_files, stranger_files};

fn find(id: &str) -> catalog::FindIntegrationRequest {
    catalog::FindIntegrationRequest { id_or_name: id.into() }
}

/// A handshake the server refused: UNAVAILABLE, or under TLS 1.3 (where the client's
/// certificate is judged after the client's half is done) a transport error or a connection
/// closed under the call (Latch's own clients read all three as UNAVAILABLE).
fn assert_handshake_refused(status: &tonic::Status, who: &str) {
    assert!(
        matches!(status.code(), Code::Unavailable | Code::Unknown | Code::Cancelled),
        "{who}: {status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_rpcs_admit_only_the_services_their_certificates_name() {
    let deployment = SplitDeployment::start().await;
    let _logs = deployment.logs_on_panic();
    let catalog_addr = deployment.process("catalog").grpc;

    // The right service, with its own certificate, gets through.
    CatalogInternalClient::new(channel_as("request", catalog_addr))
        .find_integration(find("nothing-here"))
        .await
        .map(|_| ())
        .or_else(|status| (status.code() == Code::NotFound).then_some(()).ok_or(status))
        .expect("request may ask the catalog");

    // A caller checks its peer too: the flow process, dialled as if it were the catalog, is
    // refused although its certificate comes from the same authority.
    let dialer = latch_tls::client::TlsConnector::new(Some(&crate::test_pki::source("request")));
    let key = ServiceKey::new(
        SecretBox::from_base64(ENCRYPTION_KEY)
            .unwrap()
            .derive_key("service identity"),
    );
    let impostor = Peer::remote(
        ServiceName::Catalog,
        &format!("https://localhost:{}", deployment.process("flow").grpc.port()),
        ServiceName::Request,
        key.clone(),
        &dialer,
    )
    .unwrap();
    let status = CatalogInternalClient::new(impostor.channel())
        .find_integration(find("x"))
        .await
        .unwrap_err();
    assert_handshake_refused(&status, "the flow process dialled as the catalog");
    assert!(format!("{status:?}").contains("not the catalog service"), "{status:?}");
    let catalog = Peer::remote(
        ServiceName::Catalog,
        &format!("https://localhost:{}", catalog_addr.port()),
        ServiceName::Request,
        key,
        &dialer,
    )
    .unwrap();
    CatalogInternalClient::new(catalog.channel())
        .find_integration(find("nothing-here"))
        .await
        .map(|_| ())
        .or_else(|status| (status.code() == Code::NotFound).then_some(()).ok_or(status))
        .expect("the catalog is the catalog");

    // Contexts take only clients with a certificate from the deployment's authority.
    let no_certificate = CatalogInternalClient::new(channel_with(None, catalog_addr))
        .find_integration(find("x"))
        .await
        .unwrap_err();
    assert_handshake_refused(&no_certificate, "no certificate");
    let stranger = stranger_files("request");
    let other_authority = CatalogInternalClient::new(channel_with(Some(&stranger), catalog_addr))
        .find_integration(find("x"))
        .await
        .unwrap_err();
    assert_handshake_refused(&other_authority, "another authority");
    let expired = expired_files("request");
    let expired = CatalogInternalClient::new(channel_with(Some(&expired), catalog_addr))
        .find_integration(find("x"))
        .await
        .unwrap_err();
    assert_handshake_refused(&expired, "expired");

    // A good certificate naming no Latch service: not a service, whatever header it sends.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let key = ServiceKey::new(
        SecretBox::from_base64(ENCRYPTION_KEY)
            .unwrap()
            .derive_key("service identity"),
    );
    let mut forged = tonic::Request::new(find("x"));
    forged.metadata_mut().insert(
        SERVICE_HEADER,
        key.credential(ServiceName::Request, now).parse().unwrap(),
    );
    let status = CatalogInternalClient::new(channel_as("tests", catalog_addr))
        .find_integration(forged)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // A user's token is not a service identity either: over a good certificate that names no
    // service, an admin's token gets nowhere.
    let nameless = crate::test_pki::nameless_files();
    let status = CatalogInternalClient::with_interceptor(
        channel_with(Some(&nameless), catalog_addr),
        Bearer::token(ADMIN_TOKEN),
    )
    .find_integration(find("x"))
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(
        status.message().contains("client certificate naming a Latch service"),
        "{status:?}"
    );
    // Nor does the gateway's certificate reach the catalog's internal calls.
    let status = CatalogInternalClient::new(channel_as("gateway", catalog_addr))
        .find_integration(find("x"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // Flow may follow the catalog, but connector access is request's alone.
    let mut as_flow = CatalogInternalClient::new(channel_as("flow", catalog_addr));
    let _feed = as_flow
        .watch_changes(catalog::WatchCatalogChangesRequest { after_sequence: 0 })
        .await
        .expect("flow follows the catalog")
        .into_inner();
    let status = as_flow
        .grant(catalog::ProxyGrantRequest {
            integration_id: "anything".into(),
            grant: None,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("CatalogInternal/Grant"), "{status:?}");

    // Every refusal is in the catalog's log, with the peer.
    let started = Instant::now();
    loop {
        let log = deployment.process("catalog").log();
        if log.contains("refused a TLS connection") && log.contains("a service called an internal RPC it may not") {
            assert!(log.contains("certificate expired"), "{log}");
            assert!(log.contains("UnknownIssuer"), "{log}");
            assert!(log.contains("peer sent no certificates"), "{log}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "refusals not logged:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_rotated_under_an_open_watch_changes_stream_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let old = TestPki::new("old authority");
    let new = TestPki::new("new authority");
    let server_files = old.write(dir.path(), "server", &old.leaf(Some("catalog"), Validity::Current));
    let flow_old = old.write(dir.path(), "flow-old", &old.leaf(Some("flow"), Validity::Current));
    let flow_new = new.write(dir.path(), "flow-new", &new.leaf(Some("flow"), Validity::Current));
    let (cert, key, ca) = (
        server_files.cert_file.clone(),
        server_files.key_file.clone(),
        server_files.ca_file.clone(),
    );
    let server = TestServer::start_fresh(Vec::new(), move |config| {
        config.tls.cert_file = cert.display().to_string();
        config.tls.key_file = key.display().to_string();
        config.tls.ca_file = ca.display().to_string();
        config.tls.reload_secs = 1;
    })
    .await;
    let addr = server.grpc_addr;

    let mut feed = CatalogInternalClient::new(channel_with(Some(&flow_old), addr))
        .watch_changes(catalog::WatchCatalogChangesRequest { after_sequence: 0 })
        .await
        .expect("watch")
        .into_inner();

    // cert-manager rotates: a new authority's certificate, and both authorities trusted while
    // clients move over.
    let rotated = new.leaf(Some("catalog"), Validity::Current);
    write_atomically(&server_files.ca_file, &format!("{}{}", old.ca_pem(), new.ca_pem()));
    write_atomically(&server_files.key_file, &rotated.key_pem);
    write_atomically(&server_files.cert_file, &rotated.cert_pem);
    let started = Instant::now();
    loop {
        let answer = CatalogInternalClient::new(channel_with(Some(&flow_new), addr))
            .find_integration(find("nothing-here"))
            .await;
        if answer.is_ok() || answer.as_ref().is_err_and(|s| s.code() == Code::NotFound) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the new certificate never served: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A change made now reaches the stream opened before the rotation.
    let admin_channel = channel_with(Some(&flow_new), addr);
    let created = latch_proto::catalog::v1::catalog_service_client::CatalogServiceClient::with_interceptor(
        admin_channel,
        Bearer::token(ADMIN_TOKEN),
    )
    .create_integration(catalog::CreateIntegrationRequest {
        integration: Some(catalog::Integration {
            display_name: "after rotation".into(),
            connector: "demo".into(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .expect("create an integration after the rotation")
    .into_inner();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let change = tokio::time::timeout_at(deadline.into(), feed.next())
            .await
            .expect("the open stream still delivers")
            .expect("the stream is open")
            .expect("a change");
        if change.kind == catalog::catalog_change::Kind::IntegrationCreated as i32
            && change.resource == format!("integrations/{}", created.id)
        {
            break;
        }
    }
}

#[tokio::test]
async fn a_process_refuses_a_certificate_naming_a_service_it_does_not_run() {
    let gateway = crate::test_pki::files("gateway");
    let error = match TestServer::try_start_configured(
        std::sync::Arc::new(tempfile::tempdir().unwrap()),
        String::new(),
        latch_runtime::clock::ManualClock::new(crate::harness::epoch()),
        Vec::new(),
        Default::default(),
        move |config| {
            config.tls.cert_file = gateway.cert_file.display().to_string();
            config.tls.key_file = gateway.key_file.display().to_string();
            config.tls.ca_file = gateway.ca_file.display().to_string();
        },
    )
    .await
    {
        Ok(_) => panic!("started with the gateway's certificate"),
        Err(error) => error,
    };
    assert!(
        error.contains("tls.cert_file: this process runs identity, catalog, flow, request but its certificate names spiffe://latch/gateway"),
        "{error}"
    );
}
