//! The request context: where access is given and taken away. This first part holds the pure
//! rules — the request lifecycle, approval progress, job retry timing and the reference counts
//! of shared grants — and the durable job queue the workers will run on.
#![forbid(unsafe_code)]

pub mod domain;
pub mod store;
