//! Pure types and rules of the flow context: no I/O.

pub mod compiled;
pub mod conditions;
pub mod duration;
pub mod evaluate;
pub mod model;
pub mod templates;
pub mod unmet;
pub mod validate;
pub mod window;
