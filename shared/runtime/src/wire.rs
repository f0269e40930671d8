//! Conversions every gRPC adapter needs: timestamps and etags.

use chrono::{DateTime, Utc};

use crate::error::{ServiceError, ServiceResult};

/// `at` on the wire, clamped into the range a protobuf `Timestamp` may hold (see
/// [`latch_proto::time`]): every gRPC adapter builds its timestamps here.
pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    latch_proto::time::timestamp(at)
}

/// A required timestamp field; one outside the range a `Timestamp` may hold is refused.
pub fn from_timestamp(field: &str, ts: &prost_types::Timestamp) -> ServiceResult<DateTime<Utc>> {
    latch_proto::time::to_datetime(ts).ok_or_else(|| {
        ServiceError::invalid(
            field,
            format!("is not a valid timestamp (it must lie in {})", latch_proto::time::RANGE),
        )
    })
}

/// An optional timestamp field.
pub fn instant(field: &str, ts: Option<&prost_types::Timestamp>) -> ServiceResult<Option<DateTime<Utc>>> {
    ts.map(|ts| from_timestamp(field, ts)).transpose()
}

/// The etag of a record version: `W/"7"`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Parses `W/"7"` (or `7`) into a version.
pub fn parse_etag(etag: &str) -> Option<i64> {
    etag.trim().trim_start_matches("W/").trim_matches('"').parse().ok()
}

/// An optional etag field: `None` when empty, an error naming `field` when not one of ours.
pub fn etag_version(field: &str, etag: &str) -> ServiceResult<Option<i64>> {
    if etag.is_empty() {
        return Ok(None);
    }
    parse_etag(etag)
        .map(Some)
        .ok_or_else(|| ServiceError::invalid(field, "is not an etag returned by this service"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_round_trip_and_bad_ones_name_the_field() {
        assert_eq!(parse_etag(&etag(7)), Some(7));
        assert_eq!(etag_version("user.etag", "").unwrap(), None);
        assert!(
            etag_version("user.etag", "garbage")
                .unwrap_err()
                .to_string()
                .contains("user.etag")
        );
        let now = DateTime::from_timestamp(1_800_000_000, 5).unwrap();
        assert_eq!(from_timestamp("at", &timestamp(now)).unwrap(), now);
    }
}
