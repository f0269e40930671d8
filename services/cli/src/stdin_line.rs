//! One line read from stdin, for values that must stay out of shell history and `ps` (tokens,
//! secret config values). A prompt goes to stderr only when a person is typing.

use std::io::{self, BufRead, IsTerminal, Write};

use crate::error::CliError;

/// The line without its line ending; `what` names the value in error messages.
pub fn read(prompt: &str, what: &str) -> Result<String, CliError> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        let mut stderr = io::stderr();
        write!(stderr, "{prompt}: ")
            .and_then(|()| stderr.flush())
            .map_err(|error| CliError::io("cannot write to stderr", error))?;
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|error| CliError::io(format!("cannot read {what} from stdin"), error))?;
    Ok(without_line_ending(&line).to_string())
}

/// Only the line ending goes: spaces may belong to a password.
fn without_line_ending(line: &str) -> &str {
    line.strip_suffix('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_the_line_ending() {
        assert_eq!(without_line_ending("s3cret\n"), "s3cret");
        assert_eq!(without_line_ending("s3cret\r\n"), "s3cret");
        assert_eq!(without_line_ending(" pass word \n"), " pass word ");
        assert_eq!(without_line_ending("no newline"), "no newline");
        assert_eq!(without_line_ending(""), "");
    }
}
