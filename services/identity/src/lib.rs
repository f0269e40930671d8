//! The identity context: users, groups, nested membership, managers, on-call schedules, MFA,
//! API tokens, the change feed, and a SCIM 2.0 service provider for identity providers.
#![forbid(unsafe_code)]

pub mod domain;
pub mod grpc;
pub mod scim;
pub mod server;
pub mod service;
pub mod store;

pub use service::IdentityService;
pub use store::IdentityStore;
