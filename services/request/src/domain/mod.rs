//! Pure types and rules of the request context: no I/O.

pub mod approval;
pub mod approver_keys;
pub mod audit;
pub mod backoff;
pub mod checkpoint;
pub mod drift;
pub mod expiry;
pub mod flows;
pub mod holders;
pub mod insights;
pub mod lifecycle;
pub mod list_filter;
pub mod notice;
pub mod policy;
