//! Storage of the request context.

pub mod approval_keys;
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

/// The column this context seals (credentials of held grants, bound to the hold id), for a re-seal.
pub const SEALED: latch_runtime::reseal::SealedColumn = latch_runtime::reseal::SealedColumn {
    table: "holds",
    id: "id",
    column: "credentials",
};
