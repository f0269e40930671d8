//! The catalog's ports answered by the other contexts over their gRPC contracts.

pub mod identity;
