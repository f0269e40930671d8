//! Connector errors say whether a retry can help.

use tonic::{Code, Status};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// The target system cannot be reached or is overloaded: retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A concurrent change or lost lock: retry.
    #[error("aborted: {0}")]
    Aborted(String),
    /// Retrying cannot help: wrong credentials, missing privilege, unknown resource.
    #[error("{0}")]
    FailedPrecondition(String),
    /// What the call names does not exist at the target system. From `extend`: the grant id
    /// holds no grant there (lost, restored from a backup, never made); that is drift, which a
    /// retry cannot mend.
    #[error("not found: {0}")]
    NotFound(String),
    /// A field of the request is wrong.
    #[error("{field}: {rule}")]
    InvalidArgument { field: String, rule: String },
}

impl ConnectorError {
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Aborted(_))
    }
}

impl From<ConnectorError> for Status {
    fn from(error: ConnectorError) -> Self {
        match error {
            ConnectorError::Unavailable(message) => Status::unavailable(message),
            ConnectorError::Aborted(message) => Status::aborted(message),
            ConnectorError::FailedPrecondition(message) => Status::failed_precondition(message),
            ConnectorError::NotFound(message) => Status::not_found(message),
            ConnectorError::InvalidArgument { field, rule } => Status::invalid_argument(format!("{field}: {rule}")),
        }
    }
}

impl From<Status> for ConnectorError {
    fn from(status: Status) -> Self {
        let message = status.message().to_string();
        match status.code() {
            Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Unknown => {
                Self::Unavailable(message)
            }
            Code::Aborted | Code::Cancelled => Self::Aborted(message),
            Code::NotFound => Self::NotFound(message),
            Code::InvalidArgument => match message.split_once(": ") {
                Some((field, rule)) => Self::invalid(field, rule),
                None => Self::invalid("request", message),
            },
            _ => Self::FailedPrecondition(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_survives_the_wire() {
        for error in [
            ConnectorError::Unavailable("down".into()),
            ConnectorError::Aborted("lock lost".into()),
            ConnectorError::FailedPrecondition("no privilege".into()),
            ConnectorError::NotFound("no grant g1".into()),
            ConnectorError::invalid("permission", "unknown"),
        ] {
            let status: Status = error.clone().into();
            assert_eq!(ConnectorError::from(status), error);
        }
    }

    #[test]
    fn a_missing_grant_is_not_retried() {
        assert!(!ConnectorError::NotFound("no grant g1".into()).is_retryable());
    }
}
