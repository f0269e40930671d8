//! Everything a command can fail with, and how a failure reads on stderr. The exit code of each
//! failure is decided in `exit.rs`, nowhere else.

use tonic::{Code, Status};
use tonic_types::StatusExt;

pub const LOGIN_HINT: &str = "hint: run `latch login` or set LATCH_TOKEN";

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server answered with an error status.
    #[error("{}", .0.message())]
    Rpc(#[from] Status),
    /// No connection could be made to the server at all.
    #[error("cannot reach latchd at {server}: is it running? (latchd, or set --server/LATCH_SERVER)")]
    Unreachable { server: String, cause: String },
    /// Neither --token, LATCH_TOKEN nor a stored login: the server is not called.
    #[error("not logged in")]
    NoToken,
    #[error("the token contains characters that cannot be sent in a header")]
    MalformedToken,
    /// `latch integrations validate` found the config not working; the output above says why.
    #[error("integration {integration} does not work")]
    IntegrationUnhealthy { integration: String, problems: Vec<String> },
    /// `latch mfa verify` with a code the server did not accept.
    #[error("code rejected")]
    CodeRejected,
    /// `latch flows evaluate` where no flow allows the request; the output above says why.
    #[error("no flow allows this request")]
    NoFlowAllows,
    /// Input clap could not check on its own (a server URL from the credentials file, a missing
    /// token on stdin).
    #[error("{0}")]
    Usage(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("{0}")]
    Other(String),
}

impl CliError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// Output piped into a reader that went away (`latch identity watch | head`): not worth a
    /// message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The lines printed on stderr: `error: <message>` first, then details and hints.
    pub fn report_lines(&self, server: &str) -> Vec<String> {
        match self {
            Self::Rpc(status) => status_lines(status, server),
            Self::Unreachable { cause, .. } => {
                vec![format!("error: {self}"), format!("  cause: {cause}")]
            }
            Self::NoToken | Self::MalformedToken => {
                vec![format!("error: {self}"), LOGIN_HINT.to_string()]
            }
            Self::IntegrationUnhealthy { problems, .. } => std::iter::once(format!("error: {self}"))
                .chain(problems.iter().map(|problem| format!("  - {problem}")))
                .collect(),
            _ => vec![format!("error: {self}")],
        }
    }
}

fn status_lines(status: &Status, server: &str) -> Vec<String> {
    match status.code() {
        Code::Unavailable => {
            let unreachable = CliError::Unreachable {
                server: server.to_string(),
                cause: String::new(),
            };
            let mut lines = vec![format!("error: {unreachable}")];
            if !status.message().is_empty() {
                lines.push(format!("  cause: {}", status.message()));
            }
            lines
        }
        Code::InvalidArgument => {
            // The message repeats the violations for clients that cannot read the details;
            // with the details, each violation is said once, on its own line.
            let violations = status
                .get_details_bad_request()
                .map(|bad_request| bad_request.field_violations)
                .unwrap_or_default();
            if violations.is_empty() {
                return vec![format!("error: {}", status.message())];
            }
            let mut lines = vec!["error: invalid input".to_string()];
            let mut said = std::collections::BTreeSet::new();
            for violation in violations {
                let line = format!("  - {}: {}", violation.field, violation.description);
                if said.insert(line.clone()) {
                    lines.push(line);
                }
            }
            lines
        }
        Code::Unauthenticated => vec![format!("error: {}", status.message()), LOGIN_HINT.to_string()],
        _ => vec![format!("error: {}", status.message())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, FieldViolation};

    #[test]
    fn invalid_argument_lists_each_field_violation() {
        let details = ErrorDetails::with_bad_request(vec![
            FieldViolation::new("user.email", "must contain @"),
            FieldViolation::new("user.user_name", "must not be empty"),
        ]);
        let status = Status::with_error_details(Code::InvalidArgument, "invalid input", details);
        let lines = CliError::Rpc(status).report_lines("http://x");
        assert_eq!(
            lines,
            [
                "error: invalid input",
                "  - user.email: must contain @",
                "  - user.user_name: must not be empty"
            ]
        );
    }

    #[test]
    fn each_violation_is_said_once() {
        let violation = || FieldViolation::new("bundle.targets[0].integration", "integration g is global");
        let details = ErrorDetails::with_bad_request(vec![violation(), violation()]);
        let status = Status::with_error_details(
            Code::InvalidArgument,
            "invalid input: bundle.targets[0].integration: integration g is global",
            details,
        );
        let lines = CliError::Rpc(status).report_lines("http://x");
        assert_eq!(
            lines,
            [
                "error: invalid input",
                "  - bundle.targets[0].integration: integration g is global"
            ]
        );
    }

    #[test]
    fn unauthenticated_and_missing_token_carry_the_login_hint() {
        let lines = CliError::Rpc(Status::unauthenticated("token revoked")).report_lines("http://x");
        assert_eq!(lines, ["error: token revoked", LOGIN_HINT]);
        assert_eq!(CliError::NoToken.report_lines("http://x")[1], LOGIN_HINT);
    }

    #[test]
    fn an_unhealthy_integration_lists_its_problems() {
        let error = CliError::IntegrationUnhealthy {
            integration: "prod-pg".into(),
            problems: vec!["connection refused".into(), "role lacks CREATEROLE".into()],
        };
        assert_eq!(
            error.report_lines("http://x"),
            [
                "error: integration prod-pg does not work",
                "  - connection refused",
                "  - role lacks CREATEROLE"
            ]
        );
    }

    #[test]
    fn unavailable_names_the_server() {
        let lines = CliError::Rpc(Status::unavailable("connection refused")).report_lines("http://127.0.0.1:1");
        assert_eq!(
            lines[0],
            "error: cannot reach latchd at http://127.0.0.1:1: is it running? (latchd, or set --server/LATCH_SERVER)"
        );
        assert_eq!(lines[1], "  cause: connection refused");
    }
}
