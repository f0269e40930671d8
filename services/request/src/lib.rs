//! The request context: where access is given and taken away. The pure rules live in
//! [`domain`] (lifecycle, approval progress, retry timing, shared-grant reference counts), the
//! tables and the durable job queue in [`store`], the orchestration in [`service`], the gRPC
//! adapters in [`grpc`] and [`audit_grpc`]; [`ports`] is what it needs from the other contexts.
#![forbid(unsafe_code)]

pub mod audit_checkpoint_wire;
pub mod audit_grpc;
pub mod domain;
pub mod grpc;
pub mod peers;
pub mod policy_snapshot;
pub mod ports;
pub mod server;
pub mod service;
pub mod store;

pub use service::{RequestConfig, RequestService};
