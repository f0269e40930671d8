//! What identity knows of people, kept in this process: a replica loaded through
//! `IdentityInternal.ListSubjectFacts` and kept current from identity's change feed, so that
//! policy is evaluated from memory and not over the network.
#![forbid(unsafe_code)]

mod convert;
mod replica;
mod state;

pub use convert::facts_from_proto;
pub use replica::{DirectoryReplica, WAIT};
