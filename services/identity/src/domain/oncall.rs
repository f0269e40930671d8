//! On-call rotation arithmetic: who is on call at a given instant.
//!
//! A rotation hands off from one member to the next every `shift_hours`.
//! Two kinds of rotation exist, chosen by `shift_hours`:
//!
//! * **Calendar-day rotations** (`shift_hours` a multiple of 24): shift `k`
//!   starts on the local date `start_date + k * shift_hours / 24` at the
//!   hand-off wall-clock time in the rotation's time zone. The hand-off stays
//!   at e.g. 09:00 local across DST changes, so a shift spanning a DST change
//!   is an hour shorter or longer. People expect "the weekly hand-off is
//!   Monday 09:00", not "every 168 hours".
//! * **Fixed-duration rotations** (any other `shift_hours`): shift `k` starts
//!   exactly `k * shift_hours` hours after the first hand-off. The local
//!   hand-off time therefore moves by an hour after a DST change; a 12-hour
//!   rotation cannot keep both of its daily hand-offs on fixed wall-clock
//!   times when a day is 23 or 25 hours long.
//!
//! A local hand-off that does not exist (spring-forward gap) resolves to the
//! first valid instant after the gap (the transition itself, e.g. 03:00 when
//! the clocks jump from 02:00 to 03:00); an ambiguous one (fall-back) to the
//! earlier of its two instants.
//!
//! Every lookup is O(1): the shift index comes from the date or time
//! difference, never from walking shifts.

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Timelike,
    Utc,
};
use chrono_tz::Tz;

/// Longest shift accepted: one (non-leap) year.
pub const MAX_SHIFT_HOURS: u32 = 8760;

const HOURS_PER_DAY: u32 = 24;
const SECONDS_PER_HOUR: i64 = 3600;

/// A rotation as configured by an administrator.
#[derive(Debug, Clone, PartialEq)]
pub struct Rotation {
    /// User ids in hand-off order. Duplicates are allowed on purpose: listing
    /// a person twice gives them two slots per cycle (e.g. a lead covering
    /// more often, or a cycle padded to a fixed length).
    pub members: Vec<String>,
    pub shift_hours: u32,
    /// Wall-clock hand-off time in `time_zone`, whole minutes.
    pub handoff: NaiveTime,
    /// Local date of the first hand-off.
    pub start_date: NaiveDate,
    pub time_zone: Tz,
}

/// Someone else covers `[start, end)` instead of the rotation.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub id: String,
    pub user_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Who is on call, and the bounds `[shift_start, shift_end)` of the shift or
/// override that puts them there.
#[derive(Debug, Clone, PartialEq)]
pub struct OnCall {
    pub user_id: String,
    pub shift_start: DateTime<Utc>,
    pub shift_end: DateTime<Utc>,
    pub from_override: bool,
}

/// One shift of a rotation, `[start, end)`, independent of overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift {
    /// 0 for the first shift; the member is `members[index % members.len()]`.
    pub index: u64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// A validation failure, naming the API field at fault so that the gRPC
/// layer can report it as a field violation.
#[derive(Debug, Clone, PartialEq)]
pub struct RotationError {
    /// One of `rotation.shift_hours`, `rotation.handoff_time`,
    /// `rotation.start_date`, `time_zone`, `rotation.members`,
    /// `override.end_time`.
    pub field: &'static str,
    pub message: String,
}

impl RotationError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for RotationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for RotationError {}

/// Parses an IANA time zone name such as `Europe/Berlin` (case-sensitive, as
/// the IANA database spells it).
pub fn parse_time_zone(s: &str) -> Result<Tz, RotationError> {
    s.parse::<Tz>().map_err(|_| {
        RotationError::new(
            "time_zone",
            format!("unknown IANA time zone {s:?} (expected e.g. \"Europe/Berlin\")"),
        )
    })
}

/// Parses a hand-off time written exactly as `HH:MM` on a 24-hour clock.
pub fn parse_handoff(s: &str) -> Result<NaiveTime, RotationError> {
    let error = || {
        RotationError::new(
            "rotation.handoff_time",
            format!("expected a 24-hour time HH:MM, got {s:?}"),
        )
    };
    let [h1, h2, b':', m1, m2] = s.as_bytes() else {
        return Err(error());
    };
    let hour = two_digits(*h1, *h2).ok_or_else(error)?;
    let minute = two_digits(*m1, *m2).ok_or_else(error)?;
    NaiveTime::from_hms_opt(hour, minute, 0).ok_or_else(error)
}

/// Parses a start date written exactly as `YYYY-MM-DD`.
pub fn parse_start_date(s: &str) -> Result<NaiveDate, RotationError> {
    let error = || {
        RotationError::new(
            "rotation.start_date",
            format!("expected a calendar date YYYY-MM-DD, got {s:?}"),
        )
    };
    let [y1, y2, y3, y4, b'-', m1, m2, b'-', d1, d2] = s.as_bytes() else {
        return Err(error());
    };
    let century = two_digits(*y1, *y2).ok_or_else(error)?;
    let year_in_century = two_digits(*y3, *y4).ok_or_else(error)?;
    let month = two_digits(*m1, *m2).ok_or_else(error)?;
    let day = two_digits(*d1, *d2).ok_or_else(error)?;
    // Two digit pairs make at most 9999, which always fits an i32.
    let year = i32::try_from(century * 100 + year_in_century).map_err(|_| error())?;
    NaiveDate::from_ymd_opt(year, month, day).ok_or_else(error)
}

/// Two ASCII digits as a number; chrono's own parser would also accept a
/// single digit or a sign, which the strict wire format does not allow.
fn two_digits(tens: u8, ones: u8) -> Option<u32> {
    (tens.is_ascii_digit() && ones.is_ascii_digit()).then(|| u32::from(tens - b'0') * 10 + u32::from(ones - b'0'))
}

impl Rotation {
    /// Checks the invariants that [`on_call_at`] relies on:
    /// at least one member and no empty user id (duplicates are allowed, see
    /// [`Rotation::members`]); `shift_hours` in `1..=8760`; a hand-off on a
    /// whole minute (the stored form is `HH:MM`); a start date whose year
    /// has four digits (the stored form is `YYYY-MM-DD`).
    pub fn validate(&self) -> Result<(), RotationError> {
        if self.members.is_empty() {
            return Err(RotationError::new(
                "rotation.members",
                "a rotation needs at least one member",
            ));
        }
        if let Some(position) = self.members.iter().position(|m| m.trim().is_empty()) {
            return Err(RotationError::new(
                "rotation.members",
                format!("member {position} has an empty user id"),
            ));
        }
        if !(1..=MAX_SHIFT_HOURS).contains(&self.shift_hours) {
            return Err(RotationError::new(
                "rotation.shift_hours",
                format!(
                    "shift length must be between 1 and {MAX_SHIFT_HOURS} hours, got {}",
                    self.shift_hours
                ),
            ));
        }
        if self.handoff.second() != 0 || self.handoff.nanosecond() != 0 {
            return Err(RotationError::new(
                "rotation.handoff_time",
                "the hand-off time must be a whole minute (HH:MM)",
            ));
        }
        if !(0..=9999).contains(&self.start_date.year()) {
            return Err(RotationError::new(
                "rotation.start_date",
                "the start date must lie between years 0000 and 9999",
            ));
        }
        Ok(())
    }

    /// Whether shifts are whole local calendar days (see the module docs).
    pub fn is_calendar_based(&self) -> bool {
        self.shift_hours > 0 && self.shift_hours.is_multiple_of(HOURS_PER_DAY)
    }

    /// The instant of the first hand-off; `None` only for a start date at
    /// the very edge of chrono's range.
    pub fn first_shift_start(&self) -> Option<DateTime<Utc>> {
        resolve_local(self.time_zone, self.start_date.and_time(self.handoff))
    }

    /// Start of shift `index`; `None` if `shift_hours` is 0 or the instant is
    /// out of chrono's range.
    pub fn shift_start(&self, index: u64) -> Option<DateTime<Utc>> {
        if self.shift_hours == 0 {
            return None;
        }
        if self.is_calendar_based() {
            let days = u64::from(self.shift_hours / HOURS_PER_DAY).checked_mul(index)?;
            let date = self.start_date.checked_add_days(Days::new(days))?;
            resolve_local(self.time_zone, date.and_time(self.handoff))
        } else {
            let seconds = i64::from(self.shift_hours)
                .checked_mul(SECONDS_PER_HOUR)?
                .checked_mul(i64::try_from(index).ok()?)?;
            self.first_shift_start()?
                .checked_add_signed(TimeDelta::try_seconds(seconds)?)
        }
    }

    /// The shift containing `at` (`start <= at < end`), or `None` before the
    /// first hand-off, for `shift_hours == 0`, or when the shift's end is
    /// beyond chrono's range.
    pub fn shift_at(&self, at: DateTime<Utc>) -> Option<Shift> {
        if self.shift_hours == 0 {
            return None;
        }
        let first = self.first_shift_start()?;
        if at < first {
            return None;
        }
        let estimate = if self.is_calendar_based() {
            // The shift whose start date is the local date of `at`, or the
            // latest one before it. It may still be one too late (when `at`
            // is before that day's hand-off), which the loop below fixes.
            let days_per_shift = i64::from(self.shift_hours / HOURS_PER_DAY);
            let local_date = wall_clock(self.time_zone, at)?.date();
            let elapsed_days = local_date.signed_duration_since(self.start_date).num_days();
            elapsed_days.div_euclid(days_per_shift)
        } else {
            // Flooring whole seconds is exact: shift boundaries lie a whole
            // number of hours after `first`.
            let shift_seconds = i64::from(self.shift_hours) * SECONDS_PER_HOUR;
            at.signed_duration_since(first).num_seconds() / shift_seconds
        };
        // Non-monotonic local dates (a few historical zone changes) could
        // push the estimate below zero; shift 0 is then the right start.
        let mut index = u64::try_from(estimate).unwrap_or(0);

        // At most one step is needed in practice; the bound only guards
        // against pathological zone data (e.g. a skipped day making two
        // shifts start at the same instant).
        const MAX_ADJUSTMENTS: usize = 8;
        for _ in 0..MAX_ADJUSTMENTS {
            let start = self.shift_start(index)?;
            if start > at {
                index = index.checked_sub(1)?;
                continue;
            }
            let end = self.shift_start(index.checked_add(1)?)?;
            if end <= at {
                index += 1;
                continue;
            }
            return Some(Shift { index, start, end });
        }
        None
    }

    /// The member who takes shift `index`; `None` without members.
    pub fn member_for(&self, index: u64) -> Option<&str> {
        let len = u64::try_from(self.members.len()).ok()?;
        let slot = usize::try_from(index.checked_rem(len)?).ok()?;
        self.members.get(slot).map(String::as_str)
    }
}

impl Override {
    /// An override must cover a non-empty interval: `end > start`.
    pub fn validate(&self) -> Result<(), RotationError> {
        if self.end <= self.start {
            return Err(RotationError::new(
                "override.end_time",
                "the override must end after it starts",
            ));
        }
        Ok(())
    }

    /// Whether `at` lies in `[start, end)`.
    pub fn covers(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }
}

/// Who is on call at `at`.
///
/// Overrides win over the rotation, also before the rotation's first
/// hand-off; among several overrides covering `at`, the last in the slice
/// wins, so pass them oldest first (e.g. by creation time) for the newest
/// decision to count.
/// Without a covering override, the member of the rotation shift containing
/// `at`; `None` before the first hand-off or for a rotation that fails
/// [`Rotation::validate`] in a way that leaves no answer (no members, zero
/// shift length).
pub fn on_call_at(rotation: &Rotation, overrides: &[Override], at: DateTime<Utc>) -> Option<OnCall> {
    if let Some(covering) = overrides.iter().rev().find(|o| o.covers(at)) {
        return Some(OnCall {
            user_id: covering.user_id.clone(),
            shift_start: covering.start,
            shift_end: covering.end,
            from_override: true,
        });
    }
    let shift = rotation.shift_at(at)?;
    let user_id = rotation.member_for(shift.index)?;
    Some(OnCall {
        user_id: user_id.to_owned(),
        shift_start: shift.start,
        shift_end: shift.end,
        from_override: false,
    })
}

/// The instant at which the wall clock in `tz` shows `local`, with the
/// gap and ambiguity rules of the module docs.
fn resolve_local(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(instant) => Some(instant.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => first_instant_after_gap(tz, local),
    }
}

/// The wall-clock time in `tz` at `instant`. Unlike
/// `DateTime::naive_local`, which panics when the local time leaves
/// chrono's range, this returns `None` at the extremes.
fn wall_clock(tz: Tz, instant: DateTime<Utc>) -> Option<NaiveDateTime> {
    let offset = tz.offset_from_utc_datetime(&instant.naive_utc()).fix();
    instant.naive_utc().checked_add_offset(offset)
}

/// For a local time inside a gap, the transition instant that ends the gap.
///
/// Binary search over whole seconds for the instant where the wall clock
/// jumps from before `local` to after it. UTC offsets stay well within
/// ±36 h, so the search window brackets the jump; since `local` itself never
/// appears on the wall clock, every upward crossing of it is such a jump.
/// Transitions fall on whole seconds in the tz database, so the search is
/// exact. About 17 iterations.
fn first_instant_after_gap(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    const SEARCH_RADIUS_SECONDS: i64 = 36 * SECONDS_PER_HOUR;
    let shows_at_least_local = |unix_seconds: i64| -> Option<bool> {
        Some(wall_clock(tz, DateTime::from_timestamp(unix_seconds, 0)?)? >= local)
    };
    let center = local.and_utc().timestamp();
    let mut before = center.checked_sub(SEARCH_RADIUS_SECONDS)?;
    let mut after = center.checked_add(SEARCH_RADIUS_SECONDS)?;
    if shows_at_least_local(before)? || !shows_at_least_local(after)? {
        return None;
    }
    // Invariant: the wall clock at `before` is earlier than `local`, at
    // `after` it is not.
    while after - before > 1 {
        let middle = before + (after - before) / 2;
        if shows_at_least_local(middle)? {
            after = middle;
        } else {
            before = middle;
        }
    }
    DateTime::from_timestamp(after, 0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Berlin;
    use proptest::prelude::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn date(s: &str) -> NaiveDate {
        parse_start_date(s).unwrap()
    }

    fn time(s: &str) -> NaiveTime {
        parse_handoff(s).unwrap()
    }

    fn members(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    fn rotation(names: &[&str], shift_hours: u32, handoff: &str, start: &str, tz: Tz) -> Rotation {
        Rotation {
            members: members(names),
            shift_hours,
            handoff: time(handoff),
            start_date: date(start),
            time_zone: tz,
        }
    }

    fn on_call(user: &str, start: &str, end: &str) -> Option<OnCall> {
        Some(OnCall {
            user_id: user.to_owned(),
            shift_start: utc(start),
            shift_end: utc(end),
            from_override: false,
        })
    }

    fn override_of(id: &str, user: &str, start: &str, end: &str) -> Override {
        Override {
            id: id.to_owned(),
            user_id: user.to_owned(),
            start: utc(start),
            end: utc(end),
        }
    }

    #[test]
    fn parsers_accept_the_wire_formats() {
        assert_eq!(parse_time_zone("Europe/Berlin"), Ok(Berlin));
        assert_eq!(parse_time_zone("UTC"), Ok(chrono_tz::UTC));
        assert_eq!(parse_handoff("09:00"), Ok(NaiveTime::from_hms_opt(9, 0, 0).unwrap()));
        assert_eq!(parse_handoff("23:59"), Ok(NaiveTime::from_hms_opt(23, 59, 0).unwrap()));
        assert_eq!(parse_handoff("00:00"), Ok(NaiveTime::MIN));
        assert_eq!(
            parse_start_date("2026-03-29"),
            Ok(NaiveDate::from_ymd_opt(2026, 3, 29).unwrap())
        );
        assert_eq!(
            parse_start_date("2024-02-29"),
            Ok(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap())
        );
    }

    #[test]
    fn parsers_reject_everything_else() {
        for bad in ["", "Mars/Olympus", "europe/berlin", " Europe/Berlin"] {
            assert_eq!(parse_time_zone(bad).unwrap_err().field, "time_zone", "{bad:?}");
        }
        for bad in [
            "",
            "9:00",
            "09:0",
            "24:00",
            "12:60",
            "09:00:00",
            "0900",
            "+9:00",
            "09-00",
            "٠٩:٠٠",
        ] {
            assert_eq!(
                parse_handoff(bad).unwrap_err().field,
                "rotation.handoff_time",
                "{bad:?}"
            );
        }
        for bad in [
            "",
            "2026-3-29",
            "2026-02-30",
            "2026-13-01",
            "26-03-29",
            "+2026-03-29",
            "2026/03/29",
            "2026-03-29T00:00",
        ] {
            assert_eq!(
                parse_start_date(bad).unwrap_err().field,
                "rotation.start_date",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rotation_validation() {
        let valid = rotation(&["alice", "bob"], 24, "09:00", "2026-01-01", Berlin);
        assert_eq!(valid.validate(), Ok(()));

        let duplicates = Rotation {
            members: members(&["alice", "bob", "alice"]),
            ..valid.clone()
        };
        assert_eq!(duplicates.validate(), Ok(()));

        let field_of = |r: Rotation| r.validate().unwrap_err().field;
        assert_eq!(
            field_of(Rotation {
                members: vec![],
                ..valid.clone()
            }),
            "rotation.members"
        );
        assert_eq!(
            field_of(Rotation {
                members: members(&["alice", " "]),
                ..valid.clone()
            }),
            "rotation.members"
        );
        assert_eq!(
            field_of(Rotation {
                shift_hours: 0,
                ..valid.clone()
            }),
            "rotation.shift_hours"
        );
        assert_eq!(
            field_of(Rotation {
                shift_hours: 8761,
                ..valid.clone()
            }),
            "rotation.shift_hours"
        );
        assert_eq!(
            Rotation {
                shift_hours: 8760,
                ..valid.clone()
            }
            .validate(),
            Ok(())
        );
        assert_eq!(
            Rotation {
                shift_hours: 1,
                ..valid.clone()
            }
            .validate(),
            Ok(())
        );
        assert_eq!(
            field_of(Rotation {
                handoff: NaiveTime::from_hms_opt(9, 0, 1).unwrap(),
                ..valid.clone()
            }),
            "rotation.handoff_time"
        );
        assert_eq!(
            field_of(Rotation {
                start_date: NaiveDate::from_ymd_opt(10000, 1, 1).unwrap(),
                ..valid
            }),
            "rotation.start_date"
        );
    }

    #[test]
    fn override_validation() {
        let o = override_of("o1", "zoe", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z");
        assert_eq!(o.validate(), Ok(()));
        let empty = Override {
            end: o.start,
            ..o.clone()
        };
        let err = empty.validate().unwrap_err();
        assert_eq!(err.field, "override.end_time");
        assert_eq!(
            err.to_string(),
            "override.end_time: the override must end after it starts"
        );
        let reversed = Override {
            start: o.end,
            end: o.start,
            ..o
        };
        assert_eq!(reversed.validate().unwrap_err().field, "override.end_time");
    }

    #[test]
    fn weekly_rotation() {
        // Monday 2026-01-05 09:00 Berlin (CET, UTC+1).
        let r = rotation(&["alice", "bob", "carol"], 168, "09:00", "2026-01-05", Berlin);
        assert_eq!(on_call_at(&r, &[], utc("2026-01-05T07:59:59Z")), None);
        let first = on_call("alice", "2026-01-05T08:00:00Z", "2026-01-12T08:00:00Z");
        assert_eq!(on_call_at(&r, &[], utc("2026-01-05T08:00:00Z")), first);
        assert_eq!(on_call_at(&r, &[], utc("2026-01-12T07:59:59Z")), first);
        assert_eq!(
            on_call_at(&r, &[], utc("2026-01-12T08:00:00Z")),
            on_call("bob", "2026-01-12T08:00:00Z", "2026-01-19T08:00:00Z")
        );
        assert_eq!(
            on_call_at(&r, &[], utc("2026-01-20T00:00:00Z")),
            on_call("carol", "2026-01-19T08:00:00Z", "2026-01-26T08:00:00Z")
        );
        assert_eq!(
            on_call_at(&r, &[], utc("2026-01-26T08:00:00Z")).unwrap().user_id,
            "alice"
        );
        // The week containing the spring-forward Sunday is 167 h long and
        // the hand-off stays at 09:00 local (07:00Z in CEST).
        // 2026-03-23 is week 11 → 11 % 3 = 2 → carol.
        assert_eq!(
            on_call_at(&r, &[], utc("2026-03-29T12:00:00Z")),
            on_call("carol", "2026-03-23T08:00:00Z", "2026-03-30T07:00:00Z")
        );
        // Years later, still on the Monday 09:00 local grid:
        // 2036-01-07 is 522 weeks after 2026-01-05 → 522 % 3 = 0 → alice.
        assert_eq!(
            on_call_at(&r, &[], utc("2036-01-10T00:00:00Z")),
            on_call("alice", "2036-01-07T08:00:00Z", "2036-01-14T08:00:00Z")
        );
    }

    #[test]
    fn daily_rotation_across_berlin_spring_forward_at_0230() {
        // 2026-03-29: clocks jump from 02:00 CET to 03:00 CEST; 02:30 does
        // not exist and resolves to 03:00 CEST = 01:00Z.
        let r = rotation(&["a", "b"], 24, "02:30", "2026-03-27", Berlin);
        assert_eq!(
            on_call_at(&r, &[], utc("2026-03-28T12:00:00Z")),
            on_call("b", "2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z")
        );
        assert_eq!(on_call_at(&r, &[], utc("2026-03-29T00:59:59Z")).unwrap().user_id, "b");
        assert_eq!(
            on_call_at(&r, &[], utc("2026-03-29T01:00:00Z")),
            on_call("a", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z")
        );
        assert_eq!(
            on_call_at(&r, &[], utc("2026-03-30T00:30:00Z")),
            on_call("b", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z")
        );
    }

    #[test]
    fn daily_rotation_across_berlin_fall_back_at_0230() {
        // 2026-10-25: clocks fall back from 03:00 CEST to 02:00 CET; 02:30
        // happens twice and resolves to the earlier one, 02:30 CEST = 00:30Z.
        let r = rotation(&["a", "b"], 24, "02:30", "2026-10-23", Berlin);
        assert_eq!(
            on_call_at(&r, &[], utc("2026-10-24T12:00:00Z")),
            on_call("b", "2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z")
        );
        // The second 02:30 (CET, 01:30Z) is not a hand-off: a's 25-hour shift.
        assert_eq!(
            on_call_at(&r, &[], utc("2026-10-25T01:30:00Z")),
            on_call("a", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z")
        );
        assert_eq!(
            on_call_at(&r, &[], utc("2026-10-26T01:30:00Z")),
            on_call("b", "2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z")
        );
    }

    #[test]
    fn daily_rotation_across_berlin_dst_changes_at_0900() {
        let r = rotation(&["a", "b"], 24, "09:00", "2026-03-27", Berlin);
        // 23-hour shift: 09:00 CET → 09:00 CEST.
        assert_eq!(
            on_call_at(&r, &[], utc("2026-03-28T20:00:00Z")),
            on_call("b", "2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z")
        );
        assert_eq!(
            on_call_at(&r, &[], utc("2026-03-29T07:00:00Z")),
            on_call("a", "2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z")
        );
        // 25-hour shift: 09:00 CEST → 09:00 CET. 2026-10-24 is day 211 → b.
        assert_eq!(
            on_call_at(&r, &[], utc("2026-10-25T07:30:00Z")),
            on_call("b", "2026-10-24T07:00:00Z", "2026-10-25T08:00:00Z")
        );
        assert_eq!(
            on_call_at(&r, &[], utc("2026-10-25T08:00:00Z")),
            on_call("a", "2026-10-25T08:00:00Z", "2026-10-26T08:00:00Z")
        );
    }

    #[test]
    fn twelve_hour_rotation_in_new_york_keeps_fixed_durations() {
        // First hand-off 2026-03-07 09:00 EST = 14:00Z; then every 12 h.
        let r = rotation(&["day", "night"], 12, "09:00", "2026-03-07", New_York);
        assert!(!r.is_calendar_based());
        assert_eq!(on_call_at(&r, &[], utc("2026-03-07T13:59:59Z")), None);
        assert_eq!(
            on_call_at(&r, &[], utc("2026-03-07T14:00:00Z")),
            on_call("day", "2026-03-07T14:00:00Z", "2026-03-08T02:00:00Z")
        );
        // DST starts 2026-03-08 02:00 EST; the shift spanning it is still
        // 12 h, so later hand-offs fall at 10:00 / 22:00 EDT.
        assert_eq!(
            on_call_at(&r, &[], utc("2026-03-08T13:30:00Z")),
            on_call("night", "2026-03-08T02:00:00Z", "2026-03-08T14:00:00Z")
        );
        let shift = on_call_at(&r, &[], utc("2026-03-08T15:00:00Z")).unwrap();
        assert_eq!(shift.user_id, "day");
        assert_eq!(
            shift.shift_start.with_timezone(&New_York).time(),
            NaiveTime::from_hms_opt(10, 0, 0).unwrap()
        );
        // Ten years on: 2036-03-07T14:00Z is 3653 days = 7306 shifts later.
        assert_eq!(
            on_call_at(&r, &[], utc("2036-03-07T20:00:00Z")),
            on_call("day", "2036-03-07T14:00:00Z", "2036-03-08T02:00:00Z")
        );
    }

    #[test]
    fn nobody_before_the_first_handoff() {
        let r = rotation(&["a"], 24, "09:00", "2026-06-01", Berlin);
        assert_eq!(on_call_at(&r, &[], utc("2026-06-01T06:59:59Z")), None);
        assert_eq!(on_call_at(&r, &[], utc("1970-01-01T00:00:00Z")), None);
        assert!(on_call_at(&r, &[], utc("2026-06-01T07:00:00Z")).is_some());
    }

    #[test]
    fn invalid_rotations_yield_nobody_instead_of_panicking() {
        let at = utc("2026-06-02T00:00:00Z");
        let no_members = rotation(&[], 24, "09:00", "2026-06-01", Berlin);
        assert_eq!(on_call_at(&no_members, &[], at), None);
        let zero_hours = rotation(&["a"], 0, "09:00", "2026-06-01", Berlin);
        assert_eq!(on_call_at(&zero_hours, &[], at), None);
        let far = rotation(&["a"], 24, "09:00", "2026-06-01", Berlin);
        assert_eq!(on_call_at(&far, &[], DateTime::<Utc>::MAX_UTC), None);
        let last_day = Rotation {
            start_date: NaiveDate::MAX,
            ..far.clone()
        };
        assert_eq!(on_call_at(&last_day, &[], DateTime::<Utc>::MAX_UTC), None);
        let first_day = Rotation {
            start_date: NaiveDate::MIN,
            ..far.clone()
        };
        assert_eq!(on_call_at(&first_day, &[], DateTime::<Utc>::MIN_UTC), None);
        let hourly = Rotation { shift_hours: 1, ..far };
        assert_eq!(on_call_at(&hourly, &[], DateTime::<Utc>::MAX_UTC), None);
    }

    #[test]
    fn overrides() {
        let r = rotation(&["alice", "bob"], 24, "09:00", "2026-01-05", Berlin);
        let covering = override_of("o1", "zoe", "2026-01-06T10:00:00Z", "2026-01-06T12:00:00Z");
        let overlapping = override_of("o2", "yan", "2026-01-06T11:00:00Z", "2026-01-06T13:00:00Z");
        let overrides = [covering.clone(), overlapping.clone()];

        let expect = |o: &Override| {
            Some(OnCall {
                user_id: o.user_id.clone(),
                shift_start: o.start,
                shift_end: o.end,
                from_override: true,
            })
        };
        // One covering.
        assert_eq!(
            on_call_at(&r, &overrides, utc("2026-01-06T10:30:00Z")),
            expect(&covering)
        );
        // Two overlapping: the later one in the slice wins, in either order.
        assert_eq!(
            on_call_at(&r, &overrides, utc("2026-01-06T11:30:00Z")),
            expect(&overlapping)
        );
        let reversed = [overlapping.clone(), covering.clone()];
        assert_eq!(
            on_call_at(&r, &reversed, utc("2026-01-06T11:30:00Z")),
            expect(&covering)
        );
        // Boundaries: start inclusive, end exclusive.
        assert_eq!(
            on_call_at(&r, std::slice::from_ref(&covering), covering.start),
            expect(&covering)
        );
        assert_eq!(
            on_call_at(&r, std::slice::from_ref(&covering), covering.end),
            on_call("bob", "2026-01-06T08:00:00Z", "2026-01-07T08:00:00Z")
        );
        assert_eq!(
            on_call_at(
                &r,
                std::slice::from_ref(&covering),
                covering.start - TimeDelta::nanoseconds(1)
            )
            .unwrap()
            .user_id,
            "bob"
        );
        assert_eq!(
            on_call_at(&r, &overrides, utc("2026-01-06T13:00:00Z")).unwrap().user_id,
            "bob"
        );
        // Overrides also apply before the rotation starts.
        let early = override_of("o3", "xia", "2025-12-31T00:00:00Z", "2026-01-01T00:00:00Z");
        assert_eq!(
            on_call_at(&r, std::slice::from_ref(&early), utc("2025-12-31T12:00:00Z")),
            expect(&early)
        );
    }

    // ---- property tests ----

    const ZONES: &[Tz] = &[
        chrono_tz::UTC,
        Berlin,
        New_York,
        chrono_tz::Australia::Lord_Howe, // 30-minute DST shift
        chrono_tz::Pacific::Apia,        // skipped 2011-12-30 entirely
        chrono_tz::America::Santiago,    // transitions at midnight
        chrono_tz::America::Havana,      // spring forward at 00:00
        chrono_tz::America::Sao_Paulo,   // historical DST at 00:00
        chrono_tz::Asia::Kolkata,        // half-hour offset, no DST
        chrono_tz::Asia::Tehran,
        chrono_tz::America::St_Johns,
        chrono_tz::Africa::Casablanca, // DST suspended during Ramadan
    ];

    const NAMES: &[&str] = &["alice", "bob", "carol", "dave", "erin"];

    fn arb_members() -> impl Strategy<Value = Vec<String>> {
        // Duplicates on purpose: they are allowed.
        proptest::collection::vec(proptest::sample::select(NAMES), 1..6)
            .prop_map(|names| names.into_iter().map(str::to_owned).collect())
    }

    fn arb_handoff() -> impl Strategy<Value = NaiveTime> {
        (0u32..24, 0u32..60).prop_map(|(h, m)| NaiveTime::from_hms_opt(h, m, 0).unwrap())
    }

    fn arb_start_date() -> impl Strategy<Value = NaiveDate> {
        // 1990-01-01 plus up to ~50 years.
        (0u64..18_000).prop_map(|d| {
            NaiveDate::from_ymd_opt(1990, 1, 1)
                .unwrap()
                .checked_add_days(Days::new(d))
                .unwrap()
        })
    }

    fn arb_shift_hours() -> impl Strategy<Value = u32> {
        prop_oneof![
            1u32..=72,
            Just(24),
            Just(48),
            Just(168),
            Just(336),
            (1u32..=365).prop_map(|d| d * 24),
            1u32..=MAX_SHIFT_HOURS,
        ]
    }

    fn arb_rotation(shift_hours: impl Strategy<Value = u32>) -> impl Strategy<Value = Rotation> {
        (
            arb_members(),
            shift_hours,
            arb_handoff(),
            arb_start_date(),
            proptest::sample::select(ZONES),
        )
            .prop_map(|(members, shift_hours, handoff, start_date, time_zone)| Rotation {
                members,
                shift_hours,
                handoff,
                start_date,
                time_zone,
            })
    }

    /// An instant up to ~30 years after the rotation's first hand-off.
    fn instant_after_start(r: &Rotation, offset_seconds: i64) -> DateTime<Utc> {
        r.first_shift_start().unwrap() + TimeDelta::seconds(offset_seconds)
    }

    const THIRTY_YEARS: i64 = 30 * 366 * 24 * 3600;

    proptest! {
        #[test]
        fn on_call_user_is_always_a_member_after_start(
            r in arb_rotation(arb_shift_hours()),
            offset in 0i64..THIRTY_YEARS,
        ) {
            prop_assert_eq!(r.validate(), Ok(()));
            let at = instant_after_start(&r, offset);
            let result = on_call_at(&r, &[], at).expect("someone is on call after start");
            prop_assert!(r.members.contains(&result.user_id));
            prop_assert!(!result.from_override);
            prop_assert!(result.shift_start <= at && at < result.shift_end);
            // Just before the first hand-off, nobody.
            let before = r.first_shift_start().unwrap() - TimeDelta::seconds(1 + offset % 1_000_000);
            prop_assert_eq!(on_call_at(&r, &[], before), None);
        }

        #[test]
        fn calendar_shifts_start_at_the_local_handoff(
            r in arb_rotation(prop_oneof![1u32..=14, Just(365)].prop_map(|d| d * 24)),
            offset in 0i64..THIRTY_YEARS,
        ) {
            prop_assert!(r.is_calendar_based());
            let at = instant_after_start(&r, offset);
            let shift = r.shift_at(at).expect("a shift contains every instant after start");
            prop_assert!(shift.start <= at && at < shift.end);

            let days = u64::from(r.shift_hours / 24) * shift.index;
            let handoff_day = r.start_date.checked_add_days(Days::new(days)).unwrap();
            let wanted = handoff_day.and_time(r.handoff);
            let local_start = shift.start.with_timezone(&r.time_zone).naive_local();
            match r.time_zone.from_local_datetime(&wanted) {
                LocalResult::Single(_) | LocalResult::Ambiguous(..) => {
                    prop_assert_eq!(local_start, wanted);
                    if let LocalResult::Ambiguous(a, b) = r.time_zone.from_local_datetime(&wanted) {
                        prop_assert_eq!(shift.start, a.min(b).with_timezone(&Utc));
                    }
                }
                LocalResult::None => {
                    // First valid instant after the gap: later on the wall
                    // clock, and one second earlier is before the hand-off.
                    prop_assert!(local_start > wanted);
                    let just_before = (shift.start - TimeDelta::seconds(1))
                        .with_timezone(&r.time_zone)
                        .naive_local();
                    prop_assert!(just_before < wanted);
                }
            }
        }

        #[test]
        fn consecutive_shifts_are_contiguous(
            r in arb_rotation(arb_shift_hours()),
            offset in 0i64..THIRTY_YEARS,
        ) {
            let at = instant_after_start(&r, offset);
            let current = on_call_at(&r, &[], at).unwrap();
            let next = on_call_at(&r, &[], current.shift_end).unwrap();
            prop_assert_eq!(next.shift_start, current.shift_end);
            prop_assert!(next.shift_end > next.shift_start);
            let last_instant = current.shift_end - TimeDelta::nanoseconds(1);
            prop_assert_eq!(on_call_at(&r, &[], last_instant), Some(current.clone()));
            let shift = r.shift_at(at).unwrap();
            let following = r.shift_at(shift.end).unwrap();
            prop_assert!(following.index > shift.index);
            if !r.is_calendar_based() {
                prop_assert_eq!(following.index, shift.index + 1);
                prop_assert_eq!(
                    shift.end - shift.start,
                    TimeDelta::hours(i64::from(r.shift_hours))
                );
            }
        }

        #[test]
        fn single_covering_override_wins(
            r in arb_rotation(arb_shift_hours()),
            offset in -THIRTY_YEARS..THIRTY_YEARS,
            before in 0i64..1_000_000,
            after in 1i64..1_000_000,
        ) {
            let at = instant_after_start(&r, offset);
            let o = Override {
                id: "o".to_owned(),
                user_id: "override-user".to_owned(),
                start: at - TimeDelta::seconds(before),
                end: at + TimeDelta::seconds(after),
            };
            prop_assert_eq!(o.validate(), Ok(()));
            let result = on_call_at(&r, std::slice::from_ref(&o), at).unwrap();
            prop_assert_eq!(result, OnCall {
                user_id: o.user_id.clone(),
                shift_start: o.start,
                shift_end: o.end,
                from_override: true,
            });
        }

        /// Whatever the (possibly invalid) rotation and instant, no panic.
        #[test]
        fn never_panics_over_chrono_range(
            r in arb_rotation(0u32..=u32::MAX),
            start_days in any::<i32>(),
            at_seconds in DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp(),
        ) {
            let start_date = NaiveDate::from_num_days_from_ce_opt(start_days).unwrap_or(r.start_date);
            let r = Rotation { start_date, ..r };
            let at = DateTime::from_timestamp(at_seconds, 0).unwrap();
            if let Some(result) = on_call_at(&r, &[], at) {
                prop_assert!(result.shift_start <= at && at < result.shift_end);
            }
        }

        /// The arithmetic index matches walking the shifts one by one.
        #[test]
        fn index_matches_walking_the_shifts(
            r in arb_rotation(prop_oneof![1u32..=72, Just(168)]),
            offset in 0i64..(3 * 366 * 24 * 3600),
        ) {
            let at = instant_after_start(&r, offset);
            let mut index = 0u64;
            while r.shift_start(index + 1).unwrap() <= at {
                index += 1;
            }
            let shift = r.shift_at(at).unwrap();
            prop_assert_eq!(shift.index, index);
            prop_assert_eq!(
                on_call_at(&r, &[], at).unwrap().user_id,
                r.members[(index % r.members.len() as u64) as usize].clone()
            );
        }
    }
}
