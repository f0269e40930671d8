//! The catalog context: what can be requested. Integrations (a connector and its config, secrets
//! sealed), resources synced from connectors with admin tags and owners, bundles, access scopes,
//! spaces, and the resolution of targets into concrete (integration, resource, permission) items.
#![forbid(unsafe_code)]

pub mod connectors;
pub mod directory;
pub mod domain;
pub mod grpc;
pub mod peers;
pub mod server;
pub mod service;
pub mod store;

pub use service::CatalogService;
