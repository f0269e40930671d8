//! Storage of the request context.

pub mod audit;
pub mod automatic;
pub mod checkpoints;
pub mod deliveries;
pub mod holds;
pub mod jobs;
mod migrations;
pub mod requests;
pub mod reviews;

pub use migrations::MIGRATIONS;
