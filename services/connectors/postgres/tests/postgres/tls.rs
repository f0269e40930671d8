//! The connector over TLS to the scratch cluster, which serves a certificate for `localhost` (not
//! for `127.0.0.1`) from an authority made for the run: `require` encrypts, `verify-ca` checks
//! the authority, `verify-full` the authority and the host name; an authority that did not sign
//! the server's certificate, or a host name the certificate does not carry, is refused.

use latch_connector_postgres::PostgresConnector;
use latch_connector_postgres::config::PostgresConfig;
use latch_connector_sdk::{Config, Connector, ConnectorError};
use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::scratch_cluster::cluster;
use crate::support::*;

fn with(mut config: Config, pairs: &[(&str, &str)]) -> Config {
    for (key, value) in pairs {
        config.insert((*key).to_string(), (*value).to_string());
    }
    config
}

/// Whether the connector's own session (as `config` makes it) runs over TLS, by the server's word.
async fn session_is_tls(config: &Config) -> Result<bool, sqlx::Error> {
    let parsed = PostgresConfig::parse(config).expect("valid config");
    let mut connection = PgConnection::connect_with(&parsed.connect_options("postgres")).await?;
    let tls: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&mut connection)
        .await?;
    connection.close().await.ok();
    Ok(tls)
}

fn other_authority() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).unwrap().pem()
}

#[tokio::test]
async fn require_and_verify_full_grant_over_tls_and_disable_does_not_use_it() {
    let database = TestDatabase::create().await;
    let connector = PostgresConnector::new();
    let ca = cluster().ca_pem.clone();
    for (mode, host) in [
        ("require", "127.0.0.1"),
        ("verify-ca", "127.0.0.1"),
        ("verify-full", "localhost"),
    ] {
        let mut pairs = vec![("sslmode", mode), ("host", host)];
        if mode != "require" {
            pairs.push(("sslrootcert", ca.as_str()));
        }
        let config = with(database.config(), &pairs);
        assert!(
            session_is_tls(&config).await.expect("connects"),
            "{mode} to {host} is TLS"
        );
        let grant_id = format!("tls-{mode}-{host}");
        let outcome = connector
            .grant(
                &config,
                &database.grant_request(&grant_id, "table", &database.table_id("public", "orders"), "read"),
            )
            .await
            .unwrap_or_else(|error| panic!("grant with sslmode {mode} to {host}: {error}"));
        connect_as(&outcome).await.expect("the grant's credentials log in");
        connector.revoke(&config, &grant_id).await.expect("revoke over TLS");
    }
    let plain = with(database.config(), &[("sslmode", "disable")]);
    assert!(
        !session_is_tls(&plain).await.expect("connects"),
        "disable is plain text"
    );
}

#[tokio::test]
async fn verify_full_refuses_a_server_signed_by_another_authority_or_for_another_name() {
    let database = TestDatabase::create().await;
    let connector = PostgresConnector::new();
    let other = other_authority();
    let ca = cluster().ca_pem.clone();
    for (host, authority, what) in [
        ("localhost", other.as_str(), "another authority"),
        // The same server, the right authority, but the certificate does not name 127.0.0.1.
        ("127.0.0.1", ca.as_str(), "a name the certificate does not carry"),
    ] {
        let config = with(
            database.config(),
            &[("sslmode", "verify-full"), ("sslrootcert", authority), ("host", host)],
        );
        let refused = connector
            .grant(
                &config,
                &database.grant_request("tls-refused", "table", &database.table_id("public", "orders"), "read"),
            )
            .await
            .expect_err(what);
        assert!(
            matches!(
                refused,
                ConnectorError::Unavailable(_) | ConnectorError::FailedPrecondition(_)
            ),
            "{what}: {refused:?}"
        );
    }
    // Nothing was granted through a connection that was refused.
    let held = connector
        .list_grants(&with(database.config(), &[]))
        .await
        .expect("list grants");
    assert!(held.is_empty(), "{held:?}");
}
