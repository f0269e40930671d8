//! Rules every stored text follows, and how a bad value is quoted back: never whole (a 1 MB id
//! in an error would exceed the gRPC metadata limit and hide the real answer).

use crate::error::FieldViolation;

/// Identifiers, names and keys: user names, group names, ids, tokens' descriptions.
pub const MAX_NAME_CHARS: usize = 256;
/// Short free text: a justification, a reason, a note, an attribute value.
pub const MAX_TEXT_CHARS: usize = 4096;

/// At most `max_chars` characters of `value`, with `…` when cut.
pub fn prefix(value: &str, max_chars: usize) -> String {
    match value.char_indices().nth(max_chars) {
        None => value.to_string(),
        Some((end, _)) => format!("{}…", &value[..end]),
    }
}

/// A bad value as it appears in a message: a short prefix, quoted, control characters escaped.
pub fn quote(value: &str) -> String {
    format!("{:?}", prefix(value, 64))
}

/// Names and identifiers: no control character at all, at most `max_chars` characters.
pub fn check_name(field: &str, value: &str, max_chars: usize) -> Result<(), FieldViolation> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(FieldViolation::new(
            field,
            format!("must not contain control characters (found {})", escaped(c)),
        ));
    }
    check_length(field, value, max_chars)
}

/// Free text: line breaks and tabs allowed, no other control character (NUL included, which
/// PostgreSQL cannot store), at most `max_chars` characters.
pub fn check_text(field: &str, value: &str, max_chars: usize) -> Result<(), FieldViolation> {
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FieldViolation::new(
            field,
            format!("must not contain control characters (found {})", escaped(c)),
        ));
    }
    check_length(field, value, max_chars)
}

fn check_length(field: &str, value: &str, max_chars: usize) -> Result<(), FieldViolation> {
    // Bytes bound characters from above: the common case never counts.
    if value.len() > max_chars && value.chars().count() > max_chars {
        return Err(FieldViolation::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    Ok(())
}

fn escaped(c: char) -> String {
    c.escape_default().to_string()
}

/// Escapes control characters so a logged value cannot start a forged line.
pub fn escape_controls(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(value);
    }
    std::borrow::Cow::Owned(
        value
            .chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_cut_on_character_boundaries() {
        assert_eq!(prefix("åäö", 2), "åä…");
        assert_eq!(prefix("abc", 3), "abc");
        assert_eq!(quote(&"x".repeat(1_000_000)).len(), 64 + 3 + 2);
    }

    #[test]
    fn names_refuse_every_control_character() {
        assert!(check_name("group.name", "ops", 10).is_ok());
        let error = check_name("group.name", "o\0ps", 10).unwrap_err();
        assert_eq!(error.field, "group.name");
        assert!(error.rule.contains("\\u{0}"), "{}", error.rule);
        assert!(check_name("group.name", "a\nb", 10).is_err());
        assert!(
            check_name("group.name", "abcdefghijk", 10)
                .unwrap_err()
                .rule
                .contains("at most 10")
        );
    }

    #[test]
    fn free_text_keeps_line_breaks_but_not_nul() {
        assert!(check_text("justification", "line one\nline two\ttab", 100).is_ok());
        assert!(check_text("justification", "a\0b", 100).is_err());
        assert!(check_text("justification", "bell\u{7}", 100).is_err());
    }

    #[test]
    fn controls_are_escaped_for_logs() {
        assert_eq!(escape_controls("ok"), "ok");
        assert_eq!(escape_controls("a\nINFO forged"), "a\\nINFO forged");
    }
}
