//! Write a Latch connector as a small crate: implement [`Connector`], serve it with
//! [`server::serve`], and run [`conformance::check`] in its tests. [`client::RemoteConnector`]
//! puts a connector in another process behind the same trait.
#![forbid(unsafe_code)]

pub mod client;
mod config_range;
pub mod conformance;
mod connector;
pub mod convert;
mod error;
pub mod isolated;
pub mod limits;
pub mod model;
pub mod server;
#[cfg(feature = "testing")]
pub mod testing;

pub use config_range::{NumberRange, decimal_setting, integer_setting};
pub use connector::{Connector, ConnectorResult, check_permission};
pub use error::ConnectorError;
pub use model::{
    Config, ConfigField, Description, GrantOutcome, GrantRecord, GrantRequest, Grantee, Permission, Resource,
    ResourceType,
};
