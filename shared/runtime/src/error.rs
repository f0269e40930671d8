//! One error type for every service and its single mapping to `tonic::Status`.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::text;

/// A field that failed validation: the field path and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub rule: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule: rule.into(),
        }
    }
}

impl std::fmt::Display for FieldViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)
    }
}

/// What can go wrong in a service, deliberately coarse: the caller needs to know whether to fix
/// the input, retry, or give up, not which line failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid input: {}", join_violations(.0))]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    /// Optimistic concurrency: the etag did not match, or a concurrent writer won.
    #[error("{0}")]
    Aborted(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    ResourceExhausted(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

fn join_violations(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ServiceError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation::new(field, rule)])
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}

impl From<sea_orm::DbErr> for ServiceError {
    fn from(error: sea_orm::DbErr) -> Self {
        // A database that cannot be reached is worth a retry; anything else is our bug.
        match &error {
            sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_) => {
                // The detail may name hosts or users: it goes to the log, not to the caller.
                tracing::warn!(%error, "database unavailable");
                Self::Unavailable("database unavailable; retry shortly".into())
            }
            _ => Self::Internal(format!("database error: {error}")),
        }
    }
}

/// The longest message a status carries. Messages quote inputs at most by a short prefix, and
/// this bound holds whatever a code path forgot: a status must always fit in gRPC metadata.
pub const MAX_MESSAGE_CHARS: usize = 1024;
const MAX_FIELD_CHARS: usize = 200;
const MAX_RULE_CHARS: usize = 400;
const MAX_VIOLATIONS: usize = 20;

/// The violations in their order, each (field, rule) once: checks that meet one problem on
/// two paths report it once.
fn distinct(violations: Vec<FieldViolation>) -> Vec<FieldViolation> {
    let mut out: Vec<FieldViolation> = Vec::with_capacity(violations.len());
    for violation in violations {
        if !out.contains(&violation) {
            out.push(violation);
        }
    }
    out
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        let error = match error {
            ServiceError::InvalidArgument(violations) => ServiceError::InvalidArgument(distinct(violations)),
            other => other,
        };
        let message = text::prefix(&error.to_string(), MAX_MESSAGE_CHARS);
        match error {
            ServiceError::InvalidArgument(violations) => {
                let details = ErrorDetails::with_bad_request(
                    violations
                        .into_iter()
                        .take(MAX_VIOLATIONS)
                        .map(|v| {
                            tonic_types::FieldViolation::new(
                                text::prefix(&v.field, MAX_FIELD_CHARS),
                                text::prefix(&v.rule, MAX_RULE_CHARS),
                            )
                        })
                        .collect::<Vec<_>>(),
                );
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            ServiceError::NotFound(_) => Status::not_found(message),
            ServiceError::AlreadyExists(_) => Status::already_exists(message),
            ServiceError::FailedPrecondition(_) => Status::failed_precondition(message),
            ServiceError::Aborted(_) => Status::aborted(message),
            ServiceError::PermissionDenied(_) => Status::permission_denied(message),
            ServiceError::Unauthenticated(_) => Status::unauthenticated(message),
            ServiceError::ResourceExhausted(_) => Status::resource_exhausted(message),
            ServiceError::Unavailable(_) => Status::unavailable(message),
            ServiceError::Internal(_) => {
                tracing::error!(error = %message, "internal error");
                Status::internal("internal error; see the server log")
            }
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_violation_met_twice_is_reported_once() {
        let twice = || FieldViolation::new("targets[0]", "belongs to another space");
        let status: Status = ServiceError::InvalidArgument(vec![twice(), twice()]).into();
        assert_eq!(status.message(), "invalid input: targets[0]: belongs to another space");
        assert_eq!(status.get_details_bad_request().unwrap().field_violations.len(), 1);
    }

    #[test]
    fn invalid_argument_carries_field_violations() {
        let status: Status = ServiceError::InvalidArgument(vec![
            FieldViolation::new("user.email", "must contain @"),
            FieldViolation::new("user.user_name", "must not be empty"),
        ])
        .into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let bad_request = status.get_details_bad_request().expect("bad request details");
        let fields: Vec<_> = bad_request.field_violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["user.email", "user.user_name"]);
        assert!(status.message().contains("user.email: must contain @"));
    }

    #[test]
    fn a_huge_input_never_makes_a_huge_status() {
        let id = "x".repeat(1_000_000);
        let status: Status = ServiceError::NotFound(format!("flow {id}")).into();
        assert_eq!(status.code(), Code::NotFound);
        assert!(status.message().len() < 4 * MAX_MESSAGE_CHARS);
        let status: Status = ServiceError::InvalidArgument(
            (0..100)
                .map(|i| FieldViolation::new(format!("{i}{id}"), id.clone()))
                .collect(),
        )
        .into();
        // Details travel in the grpc-status-details-bin header, under the 8 KiB metadata default.
        let details = status.get_details_bad_request().unwrap();
        assert_eq!(details.field_violations.len(), MAX_VIOLATIONS);
        assert!(
            status.details().len() + status.message().len() < 16 * 1024,
            "{}",
            status.details().len()
        );
    }

    #[test]
    fn internal_errors_do_not_leak_details() {
        let status: Status = ServiceError::internal("password=hunter2 in connection string").into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }
}
