use chrono::{TimeDelta, TimeZone};
use proptest::prelude::*;

use super::*;

#[test]
fn the_range_is_the_one_the_protobuf_specification_gives() {
    assert_eq!(min_instant(), Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap());
    assert_eq!(
        max_instant(),
        Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap() + TimeDelta::nanoseconds(999_999_999)
    );
}

#[test]
fn instants_beyond_the_range_are_clamped_to_its_ends() {
    let shift_end = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap() + TimeDelta::weeks(1);
    let ts = timestamp(shift_end);
    assert_eq!((ts.seconds, ts.nanos), (MAX_SECONDS, MAX_NANOS));
    assert!(is_valid(&ts));
    let ts = timestamp(DateTime::<Utc>::MIN_UTC);
    assert_eq!((ts.seconds, ts.nanos), (MIN_SECONDS, 0));
    assert!(is_valid(&timestamp(DateTime::<Utc>::MAX_UTC)));
}

#[test]
fn timestamps_outside_the_range_are_refused() {
    for (seconds, nanos) in [
        (MAX_SECONDS + 1, 0),
        (MIN_SECONDS - 1, MAX_NANOS),
        (i64::MAX, 0),
        (i64::MIN, 0),
        (0, -1),
        (0, MAX_NANOS + 1),
    ] {
        assert_eq!(to_datetime(&Timestamp { seconds, nanos }), None, "{seconds}s {nanos}ns");
    }
    assert!(
        to_datetime(&Timestamp {
            seconds: MAX_SECONDS,
            nanos: MAX_NANOS
        })
        .is_some()
    );
    assert!(
        to_datetime(&Timestamp {
            seconds: MIN_SECONDS,
            nanos: 0
        })
        .is_some()
    );
}

fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    let min = DateTime::<Utc>::MIN_UTC.timestamp();
    let max = DateTime::<Utc>::MAX_UTC.timestamp();
    (min..=max, 0u32..2_000_000_000).prop_filter_map("a chrono instant", |(s, n)| DateTime::from_timestamp(s, n))
}

proptest! {
    /// Whatever instant chrono can hold, what goes on the wire is a valid Timestamp.
    #[test]
    fn every_instant_becomes_a_valid_timestamp(at in any_instant()) {
        let ts = timestamp(at);
        prop_assert!(is_valid(&ts), "{at:?} gave {ts:?}");
    }

    /// Inside the range the conversion is exact both ways (up to a leap second's nanos).
    #[test]
    fn instants_in_range_round_trip(seconds in MIN_SECONDS..=MAX_SECONDS, nanos in 0..=MAX_NANOS) {
        let at = DateTime::from_timestamp(seconds, nanos as u32).unwrap();
        prop_assert_eq!(to_datetime(&timestamp(at)), Some(at));
    }

    /// Clamping keeps order: a later instant never gets an earlier Timestamp.
    #[test]
    fn clamping_is_monotonic(a in any_instant(), b in any_instant()) {
        let (early, late) = if a <= b { (a, b) } else { (b, a) };
        let (early, late) = (to_datetime(&timestamp(early)).unwrap(), to_datetime(&timestamp(late)).unwrap());
        prop_assert!(early <= late);
    }
}
