//! The one mapping from sqlx errors to [`ConnectorError`]: whether retrying can help.
//!
//! Messages carry PostgreSQL's own text and a context; never the SQL, which may hold a password
//! verifier.

use latch_connector_sdk::ConnectorError;

/// SQLSTATE codes (https://www.postgresql.org/docs/current/errcodes-appendix.html).
pub mod sqlstate {
    pub const SERIALIZATION_FAILURE: &str = "40001";
    pub const DEADLOCK_DETECTED: &str = "40P01";
    pub const LOCK_NOT_AVAILABLE: &str = "55P03";
    pub const DUPLICATE_OBJECT: &str = "42710";
    pub const DEPENDENT_OBJECTS_STILL_EXIST: &str = "2BP01";
    /// An internal error; with "tuple concurrently updated" (or "deleted") as its message, two
    /// sessions changed one catalog row at once, e.g. two GRANTs on one object.
    pub const INTERNAL_ERROR: &str = "XX000";
}

/// `context` says what was being done, e.g. "granting on app/public/orders".
pub fn map_sqlx_error(context: &str, error: sqlx::Error) -> ConnectorError {
    match &error {
        sqlx::Error::Database(database_error) => {
            let code = database_error.code().map(|c| c.into_owned()).unwrap_or_default();
            let concurrent_catalog_change = database_error.message().contains("concurrently");
            let message = format!("{context}: {} (sqlstate {code})", database_error.message());
            classify_sqlstate(&code, concurrent_catalog_change, message)
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => ConnectorError::Unavailable(format!("{context}: {error}")),
        _ => ConnectorError::FailedPrecondition(format!("{context}: {error}")),
    }
}

/// Aborted is kept for conflicts with a concurrent change: the connector retries those at once
/// (`conflict_retry`).
fn classify_sqlstate(code: &str, concurrent_catalog_change: bool, message: String) -> ConnectorError {
    match code {
        sqlstate::SERIALIZATION_FAILURE | sqlstate::DEADLOCK_DETECTED | sqlstate::LOCK_NOT_AVAILABLE => {
            ConnectorError::Aborted(message)
        }
        sqlstate::INTERNAL_ERROR if concurrent_catalog_change => ConnectorError::Aborted(message),
        // Any other internal error: retrying later may help, retrying at once is not known to.
        sqlstate::INTERNAL_ERROR => ConnectorError::Unavailable(message),
        // Connection exceptions, insufficient resources, operator intervention (shutdown,
        // cannot connect now), system errors.
        _ if code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") || code.starts_with("58") => {
            ConnectorError::Unavailable(message)
        }
        // Wrong credentials, missing database or object, permission denied, and the rest:
        // retrying the same call cannot help.
        _ => ConnectorError::FailedPrecondition(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_states() {
        assert!(matches!(
            classify_sqlstate("40001", false, "x".into()),
            ConnectorError::Aborted(_)
        ));
        assert!(matches!(
            classify_sqlstate("40P01", false, "x".into()),
            ConnectorError::Aborted(_)
        ));
        assert!(matches!(
            classify_sqlstate("08006", false, "x".into()),
            ConnectorError::Unavailable(_)
        ));
        assert!(matches!(
            classify_sqlstate("57P03", false, "x".into()),
            ConnectorError::Unavailable(_)
        ));
        assert!(matches!(
            classify_sqlstate("53300", false, "x".into()),
            ConnectorError::Unavailable(_)
        ));
    }

    #[test]
    fn a_concurrently_updated_catalog_row_is_a_conflict_and_other_internal_errors_are_not() {
        assert!(matches!(
            classify_sqlstate("XX000", true, "x".into()),
            ConnectorError::Aborted(_)
        ));
        assert!(matches!(
            classify_sqlstate("XX000", false, "x".into()),
            ConnectorError::Unavailable(_)
        ));
    }

    #[test]
    fn final_states() {
        for code in ["42501", "3D000", "42P01", "28P01", "3F000"] {
            assert!(
                matches!(
                    classify_sqlstate(code, false, "x".into()),
                    ConnectorError::FailedPrecondition(_)
                ),
                "{code}"
            );
        }
    }

    #[test]
    fn io_errors_are_unavailable() {
        let error = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(map_sqlx_error("connecting", error).is_retryable());
    }
}
