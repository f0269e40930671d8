//! The request context: where access is given and taken away. This first part holds the pure
//! rules — the request lifecycle, approval progress, job retry timing and the reference counts
//! of shared grants — that the store, the job workers and the gRPC service build on.
#![forbid(unsafe_code)]

pub mod domain;
