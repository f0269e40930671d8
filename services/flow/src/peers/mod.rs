//! The flow context's ports answered by the other contexts over their gRPC contracts.

pub mod catalog;
pub mod identity;
