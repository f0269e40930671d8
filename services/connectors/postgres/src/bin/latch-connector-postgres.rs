//! Serves the PostgreSQL connector over gRPC, for Latch to reach as a remote connector.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use latch_connector_postgres::PostgresConnector;
use latch_connector_sdk::server::CallerAuth;
use std::path::PathBuf;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "latch-connector-postgres", about = "Latch connector for PostgreSQL")]
struct Args {
    /// Address to serve latch.connector.v1.ConnectorService on.
    #[arg(long, env = "LATCH_CONNECTOR_LISTEN", default_value = "127.0.0.1:7090")]
    listen: SocketAddr,
    /// PEM certificate of this connector (mutual TLS is required: callers must show a
    /// certificate from --tls-ca-file naming an allowed service).
    #[arg(long, env = "LATCH_CONNECTOR_TLS_CERT_FILE")]
    tls_cert_file: PathBuf,
    /// PEM private key of that certificate.
    #[arg(long, env = "LATCH_CONNECTOR_TLS_KEY_FILE")]
    tls_key_file: PathBuf,
    /// PEM authorities whose client certificates are accepted.
    #[arg(long, env = "LATCH_CONNECTOR_TLS_CA_FILE")]
    tls_ca_file: PathBuf,
    /// Services admitted (their certificates' spiffe://<trust domain>/<name>).
    #[arg(
        long = "allow-caller",
        env = "LATCH_CONNECTOR_ALLOW_CALLERS",
        value_delimiter = ',',
        default_value = "catalog"
    )]
    allow_callers: Vec<String>,
    /// The SPIFFE trust domain of caller identities.
    #[arg(long, env = "LATCH_CONNECTOR_TRUST_DOMAIN", default_value = latch_tls::DEFAULT_TRUST_DOMAIN)]
    trust_domain: String,
    /// How often the certificate files are checked for a rotation, in seconds.
    #[arg(long, env = "LATCH_CONNECTOR_TLS_RELOAD_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    tls_reload_secs: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let args = Args::parse();
    let files = latch_tls::TlsFiles {
        cert_file: args.tls_cert_file,
        key_file: args.tls_key_file,
        ca_file: args.tls_ca_file,
    };
    let source = latch_tls::TlsSource::load(files, &args.trust_domain)?;
    let reloader = source.spawn_reloader(std::time::Duration::from_secs(args.tls_reload_secs));
    let allowed: Vec<&str> = args
        .allow_callers
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    let auth = CallerAuth::mutual_tls(source).allowing(&allowed);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(address = %listener.local_addr()?, callers = ?allowed, "serving the postgres connector over mutual TLS");
    latch_connector_sdk::server::serve(Arc::new(PostgresConnector::new()), listener, auth, shutdown_signal()).await?;
    reloader.abort();
    tracing::info!("postgres connector stopped");
    Ok(())
}

/// Resolves on SIGINT or, on unix, SIGTERM (what Kubernetes sends).
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(error = %error, "cannot listen for sigterm");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
