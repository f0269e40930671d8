//! One change to a database's privileges at a time.
//!
//! GRANT, REVOKE and DROP OWNED rewrite an object's ACL in its catalog row without locking the
//! object, so two sessions changing privileges on one database, schema or table at once make
//! one of them fail with "tuple concurrently updated" (XX000). Different items of one request
//! always meet on the database's CONNECT and usually on a schema's USAGE, so every call that
//! changes privileges in a database holds this lock in that database while it does.
//!
//! It is a session-level advisory lock: advisory locks belong to the database they are taken
//! in, so calls on other databases never wait, and separate connector processes (replicas)
//! wait for each other as well as the calls of one process do. Closing the connection, or the
//! server noticing it gone, releases it.

use latch_connector_sdk::ConnectorError;
use sqlx::PgConnection;

use crate::sql_errors::map_sqlx_error;

/// The two-key form of the advisory lock: "LATC" and the lock's purpose, so it cannot be
/// mistaken for a lock an application in the target database takes with one bigint key.
const LOCK_SPACE: i32 = 0x4c41_5443;
const PRIVILEGE_CHANGES: i32 = 1;

/// Waits until no other connector call changes privileges in `connection`'s database, then
/// holds that right until the connection closes.
pub async fn lock_privilege_changes(connection: &mut PgConnection) -> Result<(), ConnectorError> {
    sqlx::query("SELECT pg_advisory_lock($1, $2)")
        .bind(LOCK_SPACE)
        .bind(PRIVILEGE_CHANGES)
        .execute(connection)
        .await
        .map(|_| ())
        .map_err(|e| map_sqlx_error("waiting for other privilege changes in the database", e))
}
