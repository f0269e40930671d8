//! Serves the PostgreSQL connector over gRPC, for Latch to reach as a remote connector.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use latch_connector_postgres::PostgresConnector;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "latch-connector-postgres", about = "Latch connector for PostgreSQL")]
struct Args {
    /// Address to serve latch.connector.v1.ConnectorService on.
    #[arg(long, env = "LATCH_CONNECTOR_LISTEN", default_value = "127.0.0.1:7090")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(address = %listener.local_addr()?, "serving the postgres connector");
    latch_connector_sdk::server::serve(Arc::new(PostgresConnector::new()), listener, shutdown_signal()).await?;
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
