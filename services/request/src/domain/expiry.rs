//! What a connector holds as a shared grant's expiry, against the end Latch needs.
//!
//! Latch's own revoke job ends access at the grant's end; the expiry a connector is told is a
//! safety net set after that end (never cutting access short). So the connector is told again
//! (an Extend call) only when its expiry would come before the end Latch now needs: an
//! indefinite grant never, a grant told an end at or after the one needed never.

use chrono::{DateTime, Utc};

/// Whether a connector holding the expiry `told` must be told again for access to last until
/// `needed`. `None` is indefinite on both sides.
pub fn needs_extend(needed: Option<DateTime<Utc>>, told: Option<DateTime<Utc>>) -> bool {
    match (needed, told) {
        // Told indefinite: it never expires first.
        (None, None) => false,
        // A definite end is never told as indefinite (ends only move later, and indefinite is
        // the latest): only rows written before this rule, when `None` meant "unknown", have
        // it, and one more call settles them.
        (Some(_), None) => true,
        (None, Some(_)) => true,
        (Some(needed), Some(told)) => told < needed,
    }
}

/// What a connector holds for sure after two calls told it `a` and `b` in an unknown order:
/// the earlier of the two (`None`, indefinite, is the latest of all).
pub fn surely_held(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (Some(a), None) | (None, Some(a)) => Some(a),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};
    use proptest::prelude::*;

    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap() + TimeDelta::minutes(minutes)
    }

    #[test]
    fn indefinite_grants_never_need_an_extend_once_told_indefinite() {
        assert!(!needs_extend(None, None));
    }

    #[test]
    fn an_unknown_expiry_of_a_definite_grant_is_told_again() {
        assert!(needs_extend(Some(at(60)), None));
    }

    #[test]
    fn a_grant_told_an_end_needs_telling_when_it_becomes_indefinite() {
        assert!(needs_extend(None, Some(at(60))));
    }

    #[test]
    fn only_an_expiry_before_the_needed_end_needs_an_extend() {
        // Landed with the planned end plus the safety net: the request's clock starting a
        // moment later still ends before the connector's expiry.
        assert!(!needs_extend(Some(at(61)), Some(at(65))));
        assert!(!needs_extend(Some(at(65)), Some(at(65))));
        assert!(needs_extend(Some(at(90)), Some(at(65))));
    }

    #[test]
    fn raced_calls_leave_the_earlier_expiry_for_sure() {
        assert_eq!(surely_held(Some(at(1)), Some(at(2))), Some(at(1)));
        assert_eq!(surely_held(None, Some(at(2))), Some(at(2)));
        assert_eq!(surely_held(None, None), None);
    }

    proptest! {
        #[test]
        fn telling_the_needed_end_settles_it(needed in proptest::option::of(-1000i64..1000)) {
            prop_assert!(!needs_extend(needed.map(at), needed.map(at)));
        }

        #[test]
        fn what_is_surely_held_is_never_trusted_more_than_either_call(
            needed in proptest::option::of(-1000i64..1000),
            a in proptest::option::of(-1000i64..1000),
            b in proptest::option::of(-1000i64..1000),
        ) {
            let (needed, a, b) = (needed.map(at), a.map(at), b.map(at));
            // A definite end is only ever told as a definite expiry.
            prop_assume!(needed.is_none() || (a.is_some() && b.is_some()));
            if needs_extend(needed, a) || needs_extend(needed, b) {
                prop_assert!(needs_extend(needed, surely_held(a, b)));
            }
        }
    }
}
