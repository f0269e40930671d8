//! What Latch accepts from any connector, local or remote, so that no connector (a bug, a bad
//! config, or a hostile remote process) can exhaust the server's memory.

use crate::error::ConnectorError;

/// Resources one `ListResources` answer may hold (one integration's estate).
pub const MAX_LISTED_RESOURCES: usize = 100_000;

/// Grants one `ListGrants` answer may hold (five times the 100,000-grant budget).
pub const MAX_LISTED_GRANTS: usize = 500_000;

/// The error for an answer over a limit; the call is refused, nothing of it is kept.
pub fn too_many(what: &str, limit: usize) -> ConnectorError {
    ConnectorError::FailedPrecondition(format!(
        "the connector listed more than {limit} {what}; Latch accepts at most {limit} per answer"
    ))
}
