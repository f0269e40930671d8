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
    /// Concurrent catalog updates, e.g. two GRANTs on one object at once.
    pub const TUPLE_CONCURRENTLY_UPDATED: &str = "XX000";
}

/// `context` says what was being done, e.g. "granting on app/public/orders".
pub fn map_sqlx_error(context: &str, error: sqlx::Error) -> ConnectorError {
    match &error {
        sqlx::Error::Database(database_error) => {
            let code = database_error.code().map(|c| c.into_owned()).unwrap_or_default();
            let message = format!("{context}: {} (sqlstate {code})", database_error.message());
            classify_sqlstate(&code, message)
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

fn classify_sqlstate(code: &str, message: String) -> ConnectorError {
    match code {
        sqlstate::SERIALIZATION_FAILURE
        | sqlstate::DEADLOCK_DETECTED
        | sqlstate::LOCK_NOT_AVAILABLE
        | sqlstate::TUPLE_CONCURRENTLY_UPDATED => ConnectorError::Aborted(message),
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
            classify_sqlstate("40001", "x".into()),
            ConnectorError::Aborted(_)
        ));
        assert!(matches!(
            classify_sqlstate("40P01", "x".into()),
            ConnectorError::Aborted(_)
        ));
        assert!(matches!(
            classify_sqlstate("08006", "x".into()),
            ConnectorError::Unavailable(_)
        ));
        assert!(matches!(
            classify_sqlstate("57P03", "x".into()),
            ConnectorError::Unavailable(_)
        ));
        assert!(matches!(
            classify_sqlstate("53300", "x".into()),
            ConnectorError::Unavailable(_)
        ));
    }

    #[test]
    fn final_states() {
        for code in ["42501", "3D000", "42P01", "28P01", "3F000"] {
            assert!(
                matches!(
                    classify_sqlstate(code, "x".into()),
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
