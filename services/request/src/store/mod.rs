//! Storage of the request context.

pub mod jobs;
mod migrations;

pub use migrations::MIGRATIONS;
