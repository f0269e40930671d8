//! Pure types and rules of the catalog: no I/O.

pub mod change;
pub mod glob;
pub mod index;
pub mod principal;
pub mod records;
pub mod tags;
pub mod target;
