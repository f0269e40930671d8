//! The flow context: self-serve and automatic access flows, their validation, templates,
//! flows as code, and a compiled evaluator that answers from memory.
#![forbid(unsafe_code)]

pub mod domain;
pub mod grpc;
pub mod peers;
pub mod ports;
pub mod server;
pub mod service;
pub mod store;

pub use service::FlowService;
