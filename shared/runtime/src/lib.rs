//! What every Latch service shares: configuration, telemetry, the gRPC server bootstrap,
//! authentication, the error model, the clock, secrets at rest and the database.
#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod database;
pub mod document;
pub mod endpoint;
pub mod error;
pub mod input_guard;
pub mod key_rings;
pub mod pagination;
pub mod peer;
pub mod readiness;
pub mod remote_auth;
pub mod reseal;
pub mod server;
pub mod service_identity;
pub mod shutdown;
pub mod telemetry;
pub mod text;
pub mod tls_config;
pub mod wire;

pub use auth::{Caller, TokenScope};
pub use clock::{Clock, SharedClock, SystemClock};
pub use config::LatchConfig;
pub use error::{FieldViolation, ServiceError, ServiceResult};
