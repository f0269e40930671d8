//! Pure types and rules of the flow context: no I/O.

pub mod compiled;
pub mod evaluate;
pub mod model;
pub mod templates;
pub mod validate;
pub mod window;

/// Shared with the request context through `latch-policy`.
pub use latch_policy::{conditions, duration, unmet};
