//! `latchd --services gateway`: the front door of a split deployment, with no context of its
//! own. It routes every call to the process in `peers.*` that serves it.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context as _;
use latch_runtime::LatchConfig;
use tokio::net::TcpListener;

pub struct Gateway {
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    tls: Option<latch_tls::TlsSource>,
    reload_every: std::time::Duration,
    router: axum::Router,
    health: tonic_health::server::HealthReporter,
}

impl Gateway {
    /// Checks the peers and binds both ports; nothing is dialled until a call arrives.
    pub async fn build(config: &LatchConfig) -> anyhow::Result<Self> {
        config.check().map_err(|rule| anyhow::anyhow!(rule))?;
        let tls = config.tls.load()?;
        if let Some(tls) = &tls {
            latch_runtime::tls_config::check_own_identity(
                tls,
                &[latch_runtime::service_identity::ServiceName::Gateway],
            )?;
        }
        let backends =
            latch_gateway::Backends::from_peers(&config.peers, &latch_tls::client::TlsConnector::new(tls.as_ref()))?;
        let (router, health) = latch_gateway::router(backends)?;
        let grpc_listener = TcpListener::bind(config.grpc_addr)
            .await
            .with_context(|| format!("cannot listen for gRPC on {}", config.grpc_addr))?;
        let http_listener = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("cannot listen for HTTP on {}", config.http_addr))?;
        Ok(Self {
            grpc_listener,
            http_listener,
            tls,
            reload_every: config.tls.reload_every(),
            router,
            health,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serves until `shutdown` resolves, then drains.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let wait = |mut receiver: tokio::sync::watch::Receiver<bool>| async move {
            let _ = receiver.wait_for(|stop| *stop).await;
        };
        self.health
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        tracing::info!(grpc = %self.grpc_addr(), tls = self.tls.is_some(), "latch gateway ready");
        // Clients of the gateway are people's tools: they show no certificate.
        let security = latch_runtime::tls_config::http_security(&self.tls);
        let reloader = self.tls.as_ref().map(|tls| tls.spawn_reloader(self.reload_every));
        let grpc_incoming = latch_tls::server::Incoming::new(self.grpc_listener, security.clone(), &[b"h2"])?;
        let http_incoming = latch_tls::server::Incoming::new(self.http_listener, security, &[b"h2", b"http/1.1"])?;
        let grpc = axum::serve(
            grpc_incoming,
            self.router
                .into_make_service_with_connect_info::<latch_tls::server::PeerInfo>(),
        )
        .with_graceful_shutdown(wait(stopped.clone()))
        .into_future();
        let http = axum::serve(
            http_incoming,
            axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" })),
        )
        .with_graceful_shutdown(wait(stopped))
        .into_future();
        let health = self.health.clone();
        let signal = async move {
            shutdown.await;
            health
                .set_service_status("", tonic_health::ServingStatus::NotServing)
                .await;
            let _ = stop.send(true);
        };
        let (grpc, http, ()) = tokio::join!(grpc, http, signal);
        if let Some(reloader) = reloader {
            reloader.abort();
        }
        grpc.context("gateway gRPC server")?;
        http.context("gateway HTTP server")?;
        Ok(())
    }
}
