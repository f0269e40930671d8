//! RFC 3339 in, RFC 3339 out: the only time format the CLI speaks.

use chrono::{DateTime, SecondsFormat, Utc};
use prost_types::Timestamp;

pub fn to_proto(time: DateTime<Utc>) -> Timestamp {
    latch_proto::time::timestamp(time)
}

/// A clap value parser for `--at`, `--start` and `--end`.
pub fn parse_rfc3339(text: &str) -> Result<Timestamp, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|time| to_proto(time.with_timezone(&Utc)))
        .map_err(|error| format!("{text:?} is not an RFC 3339 time like 2025-01-31T09:00:00Z ({error})"))
}

/// For tables: whole seconds, empty when unset.
pub fn format(time: Option<&Timestamp>) -> String {
    to_chrono(time)
        .map(|time| time.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// For JSON: full precision, `None` (null) when unset or out of range.
pub fn format_optional(time: Option<&Timestamp>) -> Option<String> {
    to_chrono(time).map(|time| time.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

fn to_chrono(time: Option<&Timestamp>) -> Option<DateTime<Utc>> {
    latch_proto::time::to_datetime(time?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets_into_utc() {
        let parsed = parse_rfc3339("2025-03-01T10:00:00+01:00").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format(Some(&parsed)), "2025-03-01T09:00:00Z");
    }

    #[test]
    fn keeps_fractional_seconds() {
        let parsed = parse_rfc3339("2025-03-01T09:00:00.250Z").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.nanos, 250_000_000);
        assert_eq!(
            format_optional(Some(&parsed)).as_deref(),
            Some("2025-03-01T09:00:00.250Z")
        );
        assert_eq!(format(Some(&parsed)), "2025-03-01T09:00:00Z");
    }

    #[test]
    fn rejects_other_formats() {
        assert!(parse_rfc3339("2025-03-01").is_err());
        assert!(parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn unset_is_blank_or_null() {
        assert_eq!(format(None), "");
        assert_eq!(format_optional(None), None);
    }
}
