//! The flow context's ports answered by other services over their gRPC contracts.

pub mod catalog;
