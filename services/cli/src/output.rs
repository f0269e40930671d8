//! Writing results to stdout: tables for people, JSON for scripts. Every write reports its
//! failure instead of panicking, so a closed pipe ends the command quietly.

use std::fmt::Display;
use std::io::{self, Write};

use comfy_table::{Table, presets};
use serde::Serialize;

use crate::args::OutputFormat;
use crate::error::CliError;

pub fn line(text: impl Display) -> Result<(), CliError> {
    writeln!(io::stdout().lock(), "{text}").map_err(|error| CliError::io("cannot write to stdout", error))
}

/// A document as is (an exported YAML file), with exactly one line ending at the end.
pub fn document(text: &str) -> Result<(), CliError> {
    line(text.trim_end_matches('\n'))
}

/// Notes for people (warnings, progress) go to stderr so stdout stays parseable.
pub fn note(text: impl Display) -> Result<(), CliError> {
    writeln!(io::stderr().lock(), "{text}").map_err(|error| CliError::io("cannot write to stderr", error))
}

pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<(), CliError> {
    let text =
        serde_json::to_string_pretty(value).map_err(|error| CliError::Other(format!("cannot encode JSON: {error}")))?;
    line(text)
}

/// One compact JSON document per line, for streams.
pub fn json_line<T: Serialize + ?Sized>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string(value).map_err(|error| CliError::Other(format!("cannot encode JSON: {error}")))?;
    line(text)
}

/// Prints `value` as JSON or, for tables, whatever `table` renders.
pub fn emit<T: Serialize + ?Sized>(
    format: OutputFormat,
    value: &T,
    table: impl FnOnce() -> String,
) -> Result<(), CliError> {
    match format {
        OutputFormat::Json => json(value),
        OutputFormat::Table => line(table()),
    }
}

/// Borderless columns with upper-case headers, easy to read and to `awk`.
pub fn table<const N: usize>(headers: [&str; N]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_header(headers.map(str::to_uppercase));
    table
}

/// A two-column `field value` table for one resource.
pub fn details(rows: Vec<(&str, String)>) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    for (field, value) in rows {
        table.add_row(vec![format!("{field}:"), value]);
    }
    table
}

/// Cells are padded by one space on each side: dropping the first column's left padding and
/// trailing blanks keeps lines flush left and free of trailing whitespace.
pub fn render(table: &Table) -> String {
    table
        .lines()
        .map(|line| line.strip_prefix(' ').unwrap_or(&line).trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_upper_case_headers_and_no_borders() {
        let mut rows = table(["id", "user name"]);
        rows.add_row(vec!["u1", "ada"]);
        let text = render(&rows);
        assert!(text.contains("ID"), "{text}");
        assert!(text.contains("USER NAME"), "{text}");
        assert!(!text.contains('|') && !text.contains('+'), "{text}");
        assert!(text.lines().all(|line| !line.ends_with(' ')));
        assert!(text.starts_with("ID"), "{text}");
    }

    #[test]
    fn details_label_each_field() {
        let text = render(&details(vec![("id", "u1".into()), ("user name", "ada".into())]));
        assert!(
            text.lines()
                .any(|line| line.contains("user name:") && line.contains("ada")),
            "{text}"
        );
    }
}
