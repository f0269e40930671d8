//! The gateway: one address for clients of a split deployment. Every Latch gRPC call is routed
//! by its proto package to the process that serves that context (`latch.flow.v1.*` to the
//! flow service, …), unchanged: the caller's token travels with it and the context
//! authenticates and authorizes it as if called directly. The gateway holds no context, no
//! database and no secret; internal RPCs are never routed (they are for services, not users).
#![forbid(unsafe_code)]

mod route;

pub use route::{Backends, router};
