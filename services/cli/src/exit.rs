//! The one mapping from a failure to the process exit code. Scripts rely on these numbers, so
//! they only ever grow.

use tonic::Code;

use crate::error::CliError;

pub const SUCCESS: u8 = 0;
/// Anything not listed below, an integration that fails `integrations validate`, and a request
/// no flow allows in `flows evaluate`.
pub const FAILURE: u8 = 1;
/// Bad command line; clap exits with this on its own.
pub const USAGE: u8 = 2;
pub const INVALID_ARGUMENT: u8 = 3;
pub const NOT_FOUND: u8 = 4;
/// ALREADY_EXISTS, ABORTED and FAILED_PRECONDITION: the request conflicts with current state.
pub const CONFLICT: u8 = 5;
/// UNAUTHENTICATED, PERMISSION_DENIED, or no token at all.
pub const AUTH: u8 = 6;
pub const UNAVAILABLE: u8 = 7;

pub fn code_for_status(code: Code) -> u8 {
    match code {
        Code::Ok => SUCCESS,
        Code::InvalidArgument => INVALID_ARGUMENT,
        Code::NotFound => NOT_FOUND,
        Code::AlreadyExists | Code::Aborted | Code::FailedPrecondition => CONFLICT,
        Code::Unauthenticated | Code::PermissionDenied => AUTH,
        Code::Unavailable => UNAVAILABLE,
        Code::Cancelled
        | Code::Unknown
        | Code::DeadlineExceeded
        | Code::ResourceExhausted
        | Code::OutOfRange
        | Code::Unimplemented
        | Code::Internal
        | Code::DataLoss => FAILURE,
    }
}

pub fn code_for_error(error: &CliError) -> u8 {
    match error {
        CliError::Rpc(status) => code_for_status(status.code()),
        CliError::Unreachable { .. } => UNAVAILABLE,
        CliError::NoToken | CliError::MalformedToken => AUTH,
        CliError::Usage(_) => USAGE,
        CliError::IntegrationUnhealthy { .. }
        | CliError::CodeRejected
        | CliError::NoFlowAllows
        | CliError::Io { .. }
        | CliError::Other(_) => FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Status;

    #[test]
    fn status_codes_map_to_documented_exit_codes() {
        let expected = [
            (Code::Ok, 0),
            (Code::InvalidArgument, 3),
            (Code::NotFound, 4),
            (Code::AlreadyExists, 5),
            (Code::Aborted, 5),
            (Code::FailedPrecondition, 5),
            (Code::Unauthenticated, 6),
            (Code::PermissionDenied, 6),
            (Code::Unavailable, 7),
            (Code::Internal, 1),
            (Code::Unknown, 1),
            (Code::DeadlineExceeded, 1),
            (Code::ResourceExhausted, 1),
            (Code::Unimplemented, 1),
            (Code::Cancelled, 1),
            (Code::OutOfRange, 1),
            (Code::DataLoss, 1),
        ];
        for (code, exit) in expected {
            assert_eq!(code_for_status(code), exit, "{code:?}");
        }
    }

    #[test]
    fn client_side_failures_map_to_documented_exit_codes() {
        assert_eq!(code_for_error(&CliError::NoToken), 6);
        assert_eq!(code_for_error(&CliError::MalformedToken), 6);
        assert_eq!(
            code_for_error(&CliError::Unreachable {
                server: "s".into(),
                cause: "c".into()
            }),
            7
        );
        assert_eq!(code_for_error(&CliError::CodeRejected), 1);
        assert_eq!(code_for_error(&CliError::NoFlowAllows), 1);
        let unhealthy = CliError::IntegrationUnhealthy {
            integration: "pg".into(),
            problems: vec![],
        };
        assert_eq!(code_for_error(&unhealthy), 1);
        assert_eq!(code_for_error(&CliError::Usage("bad".into())), 2);
        assert_eq!(code_for_error(&CliError::Other("boom".into())), 1);
        assert_eq!(code_for_error(&CliError::Rpc(Status::not_found("user"))), 4);
    }
}
