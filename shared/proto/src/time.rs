//! The one conversion between `chrono` instants and protobuf `Timestamp`s.
//!
//! A `google.protobuf.Timestamp` may only hold 0001-01-01T00:00:00Z to
//! 9999-12-31T23:59:59.999999999Z; clients in other languages refuse to decode anything else.
//! `chrono` reaches far beyond that (year ±262,143), so a computed instant (the end of a shift
//! that starts on 9999-12-31, an expiry far in the future) can fall outside it. Outgoing
//! instants are clamped into the range; incoming ones outside it are refused by [`to_datetime`].

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

/// The earliest second a `Timestamp` may hold: 0001-01-01T00:00:00Z.
pub const MIN_SECONDS: i64 = -62_135_596_800;
/// The latest second a `Timestamp` may hold: 9999-12-31T23:59:59Z.
pub const MAX_SECONDS: i64 = 253_402_300_799;
/// The largest `nanos` of a `Timestamp`.
pub const MAX_NANOS: i32 = 999_999_999;

/// What [`to_datetime`] accepts, for error messages.
pub const RANGE: &str = "0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z";

/// The earliest instant a `Timestamp` may hold.
pub fn min_instant() -> DateTime<Utc> {
    DateTime::from_timestamp(MIN_SECONDS, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The latest instant a `Timestamp` may hold.
pub fn max_instant() -> DateTime<Utc> {
    DateTime::from_timestamp(MAX_SECONDS, MAX_NANOS as u32).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `at` as a `Timestamp`, clamped into the range a `Timestamp` may hold: an instant after
/// 9999-12-31T23:59:59.999999999Z becomes that instant ("never", for every practical purpose),
/// one before 0001-01-01 becomes 0001-01-01T00:00:00Z.
pub fn timestamp(at: DateTime<Utc>) -> Timestamp {
    let at = at.clamp(min_instant(), max_instant());
    Timestamp {
        seconds: at.timestamp(),
        // Below one billion; a leap second's 1_000_000_000.. is folded into the last second.
        nanos: at.timestamp_subsec_nanos().min(MAX_NANOS as u32) as i32,
    }
}

/// The instant a `Timestamp` holds, or `None` when it is not a valid `Timestamp`: seconds
/// outside [`MIN_SECONDS`]..=[`MAX_SECONDS`] or nanos outside 0..=[`MAX_NANOS`].
pub fn to_datetime(ts: &Timestamp) -> Option<DateTime<Utc>> {
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&ts.seconds) || !(0..=MAX_NANOS).contains(&ts.nanos) {
        return None;
    }
    DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?)
}

/// Whether a `Timestamp` is within the range the protobuf specification allows.
pub fn is_valid(ts: &Timestamp) -> bool {
    to_datetime(ts).is_some()
}

#[cfg(test)]
mod tests;
