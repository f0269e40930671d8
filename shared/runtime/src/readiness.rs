//! Whether a context can answer yet: a context that evaluates from memory fed by its peers'
//! change feeds must not answer from an empty or stale view. Health reports NOT_SERVING while a
//! check fails, and a [`Gated`] service answers UNAVAILABLE instead of guessing.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::server::NamedService;

/// A cheap, non-blocking question: may this context answer now?
pub type ReadyCheck = Arc<dyn Fn() -> bool + Send + Sync>;

/// How often health re-asks the checks.
pub const RECHECK_EVERY: Duration = Duration::from_millis(200);

/// True when every check holds (and when there is none).
pub fn all(checks: &[ReadyCheck]) -> bool {
    checks.iter().all(|check| check())
}

/// A gRPC service that answers UNAVAILABLE (naming what it waits for) while `ready` fails.
#[derive(Clone)]
pub struct Gated<S> {
    inner: S,
    ready: ReadyCheck,
    waiting_for: &'static str,
}

impl<S> Gated<S> {
    /// `waiting_for` completes "… is not ready: waiting for {waiting_for}".
    pub fn new(inner: S, ready: ReadyCheck, waiting_for: &'static str) -> Self {
        Self {
            inner,
            ready,
            waiting_for,
        }
    }
}

impl<S: NamedService> NamedService for Gated<S> {
    const NAME: &'static str = S::NAME;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> tower::Service<http::Request<tonic::body::Body>> for Gated<S>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Error = Infallible,
            Response = http::Response<tonic::body::Body>,
        > + NamedService
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if (self.ready)() {
            Box::pin(self.inner.call(request))
        } else {
            let status =
                tonic::Status::unavailable(format!("{} is not ready: waiting for {}", S::NAME, self.waiting_for));
            Box::pin(async move { Ok(status.into_http()) })
        }
    }
}

impl<S: NamedService> Gated<S> {
    #[cfg(test)]
    fn name(&self) -> &'static str {
        S::NAME
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use tower::ServiceExt as _;

    use super::*;

    #[derive(Clone)]
    struct Echo;

    impl NamedService for Echo {
        const NAME: &'static str = "latch.test.v1.Echo";
    }

    impl tower::Service<http::Request<tonic::body::Body>> for Echo {
        type Response = http::Response<tonic::body::Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future {
            std::future::ready(Ok(tonic::Status::ok("").into_http()))
        }
    }

    fn grpc_status(response: &http::Response<tonic::body::Body>) -> tonic::Code {
        tonic::Status::from_header_map(response.headers())
            .map(|s| s.code())
            .unwrap_or(tonic::Code::Ok)
    }

    #[tokio::test]
    async fn a_gated_service_refuses_until_ready_and_names_what_it_waits_for() {
        let flag = Arc::new(AtomicBool::new(false));
        let ready: ReadyCheck = {
            let flag = flag.clone();
            Arc::new(move || flag.load(Ordering::Acquire))
        };
        let gated = Gated::new(Echo, ready.clone(), "the directory replica");
        assert_eq!(gated.name(), "latch.test.v1.Echo");
        let response = gated
            .clone()
            .oneshot(http::Request::new(tonic::body::Body::empty()))
            .await
            .unwrap();
        assert_eq!(grpc_status(&response), tonic::Code::Unavailable);
        let message = tonic::Status::from_header_map(response.headers()).unwrap();
        assert!(message.message().contains("the directory replica"), "{message:?}");
        assert!(!all(std::slice::from_ref(&ready)));

        flag.store(true, Ordering::Release);
        let response = gated
            .oneshot(http::Request::new(tonic::body::Body::empty()))
            .await
            .unwrap();
        assert_eq!(grpc_status(&response), tonic::Code::Ok);
        assert!(all(&[ready]));
        assert!(all(&[]));
    }
}
