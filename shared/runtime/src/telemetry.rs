//! Tracing to stdout, exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, with W3C
//! trace context carried in gRPC metadata in both directions.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::TelemetryConfig;

mod log_writer;

pub use log_writer::EscapingStderr;

/// Flushes exported spans when dropped.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("failed to flush traces: {error}");
        }
    }
}

/// Installs the global subscriber. Safe to call more than once (later calls keep the first).
pub fn init(config: &TelemetryConfig) -> TelemetryGuard {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{},sqlx=warn,h2=warn,hyper=warn", config.log_level)));
    let provider =
        std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok().and_then(
            |_| match opentelemetry_otlp::SpanExporter::builder().with_tonic().build() {
                Ok(exporter) => Some(
                    SdkTracerProvider::builder()
                        .with_batch_exporter(exporter)
                        .with_resource(
                            opentelemetry_sdk::Resource::builder()
                                .with_service_name(config.service_name.clone())
                                .build(),
                        )
                        .build(),
                ),
                Err(error) => {
                    eprintln!("OTLP export disabled: {error}");
                    None
                }
            },
        );
    let otel_layer = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("latch")));
    let registry = tracing_subscriber::registry().with(filter).with(otel_layer);
    let result = if config.log_format == "json" {
        registry
            .with(tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr))
            .try_init()
    } else {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(EscapingStderr { keep_ansi: ansi })
                    .with_ansi(ansi),
            )
            .try_init()
    };
    if result.is_err() {
        // Already installed (tests start many servers in one process).
        return TelemetryGuard { provider: None };
    }
    TelemetryGuard { provider }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// Writes the current span's trace context into outgoing gRPC metadata.
pub fn inject_trace_context(metadata: &mut tonic::metadata::MetadataMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut MetadataInjector(metadata));
    });
}

/// A server layer that opens one span per RPC, continuing the caller's trace when it sent one.
#[derive(Clone, Default)]
pub struct TraceContextLayer;

impl<S> Layer<S> for TraceContextLayer {
    type Service = TraceContextService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceContextService { inner }
    }
}

#[derive(Clone)]
pub struct TraceContextService<S> {
    inner: S,
}

impl<S, RequestBody> Service<http::Request<RequestBody>> for TraceContextService<S>
where
    S: Service<http::Request<RequestBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    RequestBody: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(request.headers()))
        });
        let span = tracing::info_span!("grpc", rpc.method = %request.uri().path());
        let _ = span.set_parent(parent);
        let future = self.inner.call(request);
        Box::pin(future.instrument(span))
    }
}
