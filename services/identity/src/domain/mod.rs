//! Pure types and rules of the identity context: no I/O.

pub mod change;
pub mod directory;
pub mod group;
pub mod oncall;
pub mod schedule;
pub mod token;
pub mod totp;
pub mod user;
