//! The request context's ports answered by the other contexts over their gRPC contracts.

pub mod identity;
