//! Quoting for the statements PostgreSQL cannot parameterise (CREATE ROLE, GRANT, COMMENT).
//!
//! Utility statements take no bind parameters, so every name and literal that reaches them goes
//! through these functions. Both refuse NUL, which PostgreSQL cannot store and which would
//! otherwise truncate the statement on the wire.

use chrono::{DateTime, Utc};

use latch_connector_sdk::ConnectorError;

/// `name` as a double-quoted identifier: `orders` → `"orders"`, `a"b` → `"a""b"`.
pub fn quote_ident(name: &str) -> Result<String, ConnectorError> {
    refuse_nul(name)?;
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

/// `value` as a string literal that means the same whatever `standard_conforming_strings` is:
/// single quotes doubled, and when a backslash is present the `E'…'` form with backslashes
/// doubled (what PostgreSQL's own `quote_literal` does).
pub fn quote_literal(value: &str) -> Result<String, ConnectorError> {
    refuse_nul(value)?;
    let quoted = value.replace('\'', "''");
    if quoted.contains('\\') {
        Ok(format!("E'{}'", quoted.replace('\\', "\\\\")))
    } else {
        Ok(format!("'{quoted}'"))
    }
}

/// The `VALID UNTIL` literal: the instant in UTC, or `'infinity'` for an indefinite grant.
pub fn valid_until_literal(expires_at: Option<DateTime<Utc>>) -> String {
    match expires_at {
        Some(instant) => format!("'{}'", instant.format("%Y-%m-%d %H:%M:%S%.6f+00")),
        None => "'infinity'".to_string(),
    }
}

fn refuse_nul(text: &str) -> Result<(), ConnectorError> {
    if text.contains('\0') {
        return Err(ConnectorError::invalid(
            "resource_id",
            "postgresql names and values cannot contain a NUL character",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn identifiers_are_double_quoted_with_inner_quotes_doubled() {
        assert_eq!(quote_ident("orders").unwrap(), "\"orders\"");
        assert_eq!(quote_ident("Order Items").unwrap(), "\"Order Items\"");
        assert_eq!(quote_ident("a\"b").unwrap(), "\"a\"\"b\"");
        assert_eq!(
            quote_ident("x\"; DROP TABLE t; --").unwrap(),
            "\"x\"\"; DROP TABLE t; --\""
        );
        assert_eq!(quote_ident("").unwrap(), "\"\"");
    }

    #[test]
    fn literals_double_single_quotes() {
        assert_eq!(quote_literal("plain").unwrap(), "'plain'");
        assert_eq!(quote_literal("it's").unwrap(), "'it''s'");
        assert_eq!(quote_literal("'; DROP ROLE x; --").unwrap(), "'''; DROP ROLE x; --'");
    }

    #[test]
    fn literals_with_backslashes_use_the_escape_form() {
        assert_eq!(quote_literal(r"a\b").unwrap(), r"E'a\\b'");
        assert_eq!(quote_literal(r"\'").unwrap(), r"E'\\'''");
    }

    #[test]
    fn nul_is_refused() {
        assert!(quote_ident("a\0b").is_err());
        assert!(quote_literal("a\0b").is_err());
    }

    #[test]
    fn valid_until_is_utc_or_infinity() {
        let instant = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(valid_until_literal(Some(instant)), "'2030-01-02 03:04:05.000000+00'");
        assert_eq!(valid_until_literal(None), "'infinity'");
    }
}
