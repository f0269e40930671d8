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
            Code::InvalidArgument => match message.split_once(": ") {
                Some((field, rule)) => Self::invalid(field, rule),
                None => Self::invalid("request", message),
            },
            _ => Self::FailedPrecondition(message),
        }
    }
}
