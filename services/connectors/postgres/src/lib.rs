//! Latch connector for PostgreSQL: each grant is a dedicated login role with a random password,
//! `VALID UNTIL` its expiry, and GRANTs on a database, schema or table; revoking ends its
//! sessions and drops it. See [`privileges`] for what each permission grants. Calls that change
//! privileges in one database take turns (`privilege_lock`), and a conflict with a concurrent
//! change is retried at once (`conflict_retry`).
#![forbid(unsafe_code)]

mod catalog;
pub mod config;
mod conflict_retry;
mod connection;
mod connector;
pub mod describe;
mod grant;
mod metadata;
pub mod naming;
mod password;
mod privilege_lock;
pub mod privileges;
pub mod resource_id;
mod resources;
mod revoke;
mod roles;
pub mod sql;
mod sql_errors;
mod validate;

pub use connector::PostgresConnector;
