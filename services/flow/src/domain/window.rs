//! The "When" time window of an access flow.
//!
//! A flow's requestor conditions either apply [`When::Always`] or only inside a recurring weekly
//! window ([`When::Only`]): on a set of weekdays, between a start and an end wall-clock time, in an
//! IANA time zone.
//!
//! # Semantics
//!
//! The window is evaluated on the **wall-clock** (local) time of the instant in the window's time
//! zone. Let `day` be the local weekday and `t` the local time of day (seconds and sub-seconds
//! included).
//!
//! * Same-day window (`start < end`): inside iff `day` is listed and `start <= t < end`.
//! * Window crossing midnight (`end < start`): inside iff (`day` is listed and `t >= start`) or
//!   (the previous calendar day's weekday is listed and `t < end`). The window starts on a listed
//!   day and ends the next morning; `end == 00:00` therefore means "until midnight".
//! * `start == end` is refused by [`When::parse`]; a value built directly with equal times is an
//!   empty window that never applies (and [`When::next_start`] returns `None`). The same holds for
//!   an empty `days` list.
//! * Instants whose local time would fall outside chrono's representable range (the extreme ends
//!   of `DateTime<Utc>`) are never inside.
//! * The start is inclusive and the end exclusive, so `09:00–18:00` contains `17:59:59.999` but
//!   not `18:00:00`.
//!
//! ## Daylight saving time
//!
//! Because only the local wall-clock time matters:
//!
//! * On a spring-forward day the skipped local times never occur. Any part of the window inside
//!   the gap is simply lost: a `02:00–03:00` window in Europe/Berlin is empty on 2026-03-29, and a
//!   `01:30–03:30` window lasts 60 real minutes instead of 120. A window whose start lies in the
//!   gap begins at the transition instant (if its local end has not passed by then).
//! * On a fall-back day a repeated local time occurs twice, and **both** instants are inside when
//!   that local time is: a `01:30–03:30` window in Europe/Berlin lasts 180 real minutes on
//!   2026-10-25. A window may even become active twice on such a day (e.g. `02:30–03:30`: from
//!   the first 02:30 until the clocks go back to 02:00, then again from the second 02:30).
//! * "Previous day" is the previous calendar date, even on the rare occasions a zone skipped a
//!   whole date (Pacific/Apia skipped 2011-12-30): on 2011-12-31 the "previous day" is a Friday.
//!
//! # Parsing
//!
//! [`When::parse`] validates all four inputs and collects every problem instead of stopping at the
//! first one. Each [`WindowError`] names its field: `when.days`, `when.start`, `when.end` or
//! `when.time_zone`.
//!
//! * Days: `mon`..`sun` or `monday`..`sunday`, case-insensitive, no surrounding whitespace. At
//!   least one day is required and duplicates are refused (`mon` and `Monday` are the same day).
//!   The parsed list is stored in canonical Monday-first order, so equal inputs compare equal.
//! * Times: exactly `HH:MM`, 24-hour clock with two-digit hours `00`–`23` and minutes `00`–`59`
//!   (no seconds, no `24:00`, no single-digit hours). `end` must differ from `start`.
//! * Time zone: an IANA name as known to chrono-tz, case-sensitive (e.g. `Europe/Berlin`, `UTC`).
//!
//! # Describing
//!
//! [`When::describe`] renders e.g. `Mon–Fri 09:00–18:00 Europe/Berlin` or
//! `Mon, Wed 22:00–06:00 UTC`. Days are shown in Monday-first order; runs of three or more
//! consecutive days become ranges (`Mon–Fri`), shorter runs are listed (`Sat, Sun`). Runs do not
//! wrap around the week (`Mon, Fri–Sun`, not `Fri–Mon`). Times show seconds only if they have any
//! (possible only for values built directly). [`When::Always`] renders as `Always`.
//!
//! # Next start
//!
//! [`When::next_start`] returns the earliest instant `>= at` at which [`When::contains`] is true:
//! `at` itself when already inside, `Some(at)` for [`When::Always`]. It follows the time zone's
//! UTC-offset changes exactly (to the nanosecond), assuming two offset changes are never less
//! than an hour apart (true of every zone in the tz database). It gives up and returns `None` only
//! for windows that can never apply (no days, or `start == end`), or if nothing is found within
//! [`NEXT_START_HORIZON_DAYS`] days (which cannot happen for a real-world zone).

use std::fmt;

use chrono::{DateTime, Datelike, Days, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;

/// How far [`When::next_start`] searches before giving up.
pub const NEXT_START_HORIZON_DAYS: i64 = 400;

/// Field name of the weekday list (used in [`WindowError::field`]).
pub const FIELD_DAYS: &str = "when.days";
/// Field name of the start time.
pub const FIELD_START: &str = "when.start";
/// Field name of the end time.
pub const FIELD_END: &str = "when.end";
/// Field name of the time zone.
pub const FIELD_TIME_ZONE: &str = "when.time_zone";

/// Weekdays in canonical (Monday-first) order.
const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// When a flow's requestor conditions apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// At every instant.
    Always,
    /// On the given weekdays, from `start` to `end` wall-clock time in `time_zone`.
    /// `end < start` means the window crosses midnight: it starts on a listed day and ends the next morning.
    Only {
        days: Vec<Weekday>,
        start: NaiveTime,
        end: NaiveTime,
        time_zone: Tz,
    },
}

/// One validation problem found by [`When::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowError {
    /// One of `when.days`, `when.start`, `when.end`, `when.time_zone`.
    pub field: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl WindowError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        WindowError {
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for WindowError {}

impl When {
    /// Parses and validates a window, collecting every error (see the module docs for the rules).
    pub fn parse(days: &[String], start: &str, end: &str, time_zone: &str) -> Result<When, Vec<WindowError>> {
        let mut errors = Vec::new();

        let mut parsed_days: Vec<Weekday> = Vec::with_capacity(days.len());
        if days.is_empty() {
            errors.push(WindowError::new(FIELD_DAYS, "at least one day is required"));
        }
        for raw in days {
            match parse_weekday(raw) {
                None => errors.push(WindowError::new(
                    FIELD_DAYS,
                    format!("unknown day {raw:?}: expected mon, tue, wed, thu, fri, sat, sun or the full day name"),
                )),
                Some(day) if parsed_days.contains(&day) => errors.push(WindowError::new(
                    FIELD_DAYS,
                    format!("duplicate day {raw:?}: {} is already listed", short_name(day)),
                )),
                Some(day) => parsed_days.push(day),
            }
        }
        parsed_days.sort_by_key(|d| d.num_days_from_monday());

        let start_time = parse_time(start, FIELD_START, "start", &mut errors);
        let end_time = parse_time(end, FIELD_END, "end", &mut errors);
        if let (Some(s), Some(e)) = (start_time, end_time)
            && s == e
        {
            errors.push(WindowError::new(FIELD_END, "end time must differ from start time"));
        }

        let tz = if time_zone.is_empty() {
            errors.push(WindowError::new(FIELD_TIME_ZONE, "time zone is required"));
            None
        } else {
            match time_zone.parse::<Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    errors.push(WindowError::new(
                        FIELD_TIME_ZONE,
                        format!("unknown time zone {time_zone:?}: expected an IANA name such as Europe/Berlin or UTC"),
                    ));
                    None
                }
            }
        };

        match (start_time, end_time, tz) {
            (Some(start), Some(end), Some(time_zone)) if errors.is_empty() => Ok(When::Only {
                days: parsed_days,
                start,
                end,
                time_zone,
            }),
            _ => Err(errors),
        }
    }

    /// Whether the window applies at `at` (see the module docs for the exact rule).
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        match self {
            When::Always => true,
            When::Only {
                days,
                start,
                end,
                time_zone,
            } => {
                let Some(local) = local_naive(time_zone, at) else {
                    return false;
                };
                let (day, time) = (local.weekday(), local.time());
                let listed = |d: Weekday| days.contains(&d);
                if start < end {
                    listed(day) && *start <= time && time < *end
                } else if end < start {
                    (listed(day) && time >= *start) || (listed(day.pred()) && time < *end)
                } else {
                    false
                }
            }
        }
    }

    /// Human text for reasons, e.g. "Mon–Fri 09:00–18:00 Europe/Berlin", "Mon, Wed 22:00–06:00 UTC".
    pub fn describe(&self) -> String {
        match self {
            When::Always => "Always".to_string(),
            When::Only {
                days,
                start,
                end,
                time_zone,
            } => format!(
                "{} {}–{} {}",
                describe_days(days),
                format_time(*start),
                format_time(*end),
                time_zone.name()
            ),
        }
    }

    /// The next instant >= `at` at which [`When::contains`] becomes true: `Some(at)` when already
    /// inside (always for [`When::Always`]), `None` only if the window can never apply.
    pub fn next_start(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (days, start, end, tz) = match self {
            When::Always => return Some(at),
            When::Only {
                days,
                start,
                end,
                time_zone,
            } => (days, *start, *end, time_zone),
        };
        if days.is_empty() || start == end {
            return None;
        }
        let horizon = at
            .checked_add_signed(TimeDelta::days(NEXT_START_HORIZON_DAYS))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);

        // Between two offset changes the local time advances continuously with UTC, and the set of
        // inside local times is a union of half-open intervals starting at `date + start` for listed
        // dates. So, within one constant-offset span, `contains` can only switch on at such a local
        // start; it can also switch on right at an offset change (a jump into the window).
        let mut cursor = at;
        loop {
            if self.contains(cursor) {
                return Some(cursor);
            }
            if cursor > horizon {
                return None;
            }
            let offset = offset_seconds(tz, cursor);
            let local = local_naive(tz, cursor)?;
            let local_start = next_local_start(days, start, local)?;
            let candidate = local_start
                .checked_sub_signed(TimeDelta::seconds(i64::from(offset)))?
                .and_utc();
            match first_offset_change(tz, offset, cursor, candidate) {
                // The offset is unchanged up to `candidate`, whose local time is a window start.
                None => return Some(candidate),
                Some(change) => cursor = change,
            }
        }
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

fn parse_weekday(raw: &str) -> Option<Weekday> {
    let day = match raw.to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    };
    Some(day)
}

/// Parses strict `HH:MM`; records an error for `field` on failure.
fn parse_time(raw: &str, field: &'static str, label: &str, errors: &mut Vec<WindowError>) -> Option<NaiveTime> {
    let parsed = match raw.as_bytes() {
        [h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()) => {
            let hour = u32::from(h1 - b'0') * 10 + u32::from(h2 - b'0');
            let minute = u32::from(m1 - b'0') * 10 + u32::from(m2 - b'0');
            if hour > 23 || minute > 59 {
                None
            } else {
                NaiveTime::from_hms_opt(hour, minute, 0)
            }
        }
        _ => None,
    };
    if parsed.is_none() {
        let message = if raw.is_empty() {
            format!("{label} time is required")
        } else {
            format!("invalid {label} time {raw:?}: expected HH:MM (24-hour, hours 00–23, minutes 00–59)")
        };
        errors.push(WindowError::new(field, message));
    }
    parsed
}

fn short_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Mon",
        Weekday::Tue => "Tue",
        Weekday::Wed => "Wed",
        Weekday::Thu => "Thu",
        Weekday::Fri => "Fri",
        Weekday::Sat => "Sat",
        Weekday::Sun => "Sun",
    }
}

fn describe_days(days: &[Weekday]) -> String {
    let listed: Vec<bool> = WEEK.iter().map(|d| days.contains(d)).collect();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < WEEK.len() {
        if !listed[i] {
            i += 1;
            continue;
        }
        let run_start = i;
        while i + 1 < WEEK.len() && listed[i + 1] {
            i += 1;
        }
        let run_end = i;
        if run_end - run_start >= 2 {
            parts.push(format!("{}–{}", short_name(WEEK[run_start]), short_name(WEEK[run_end])));
        } else {
            parts.extend((run_start..=run_end).map(|j| short_name(WEEK[j]).to_string()));
        }
        i += 1;
    }
    if parts.is_empty() {
        "(no days)".to_string()
    } else {
        parts.join(", ")
    }
}

fn format_time(time: NaiveTime) -> String {
    if time.second() == 0 && time.nanosecond() == 0 {
        time.format("%H:%M").to_string()
    } else if time.nanosecond() == 0 {
        time.format("%H:%M:%S").to_string()
    } else {
        time.format("%H:%M:%S%.f").to_string()
    }
}

/// The wall-clock time of `at` in `tz`; `None` only at the very edges of chrono's range.
fn local_naive(tz: &Tz, at: DateTime<Utc>) -> Option<NaiveDateTime> {
    at.naive_utc()
        .checked_add_offset(tz.offset_from_utc_datetime(&at.naive_utc()).fix())
}

/// Total UTC offset (seconds east of UTC) of `tz` at `at`.
fn offset_seconds(tz: &Tz, at: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc()
}

/// The first local window start (`date + start` for a listed date) at or after `local`.
fn next_local_start(days: &[Weekday], start: NaiveTime, local: NaiveDateTime) -> Option<NaiveDateTime> {
    (0..=7u64).find_map(|k| {
        let date = local.date().checked_add_days(Days::new(k))?;
        let candidate = date.and_time(start);
        (days.contains(&date.weekday()) && candidate >= local).then_some(candidate)
    })
}

/// The earliest instant in `(from, to]` whose offset differs from `offset` (the offset at `from`),
/// assuming offset changes are at least an hour apart.
fn first_offset_change(tz: &Tz, offset: i32, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let step = TimeDelta::hours(1);
    let mut lo = from;
    while lo < to {
        let hi = lo.checked_add_signed(step).map_or(to, |h| h.min(to));
        if offset_seconds(tz, hi) != offset {
            // Invariant: offset(lo) == offset, offset(hi) != offset.
            let (mut lo, mut hi) = (lo, hi);
            while hi - lo > TimeDelta::nanoseconds(1) {
                let mid = lo + (hi - lo) / 2;
                if offset_seconds(tz, mid) == offset {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            return Some(hi);
        }
        lo = hi;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{LocalResult, NaiveDate};
    use proptest::prelude::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn window(days: &[&str], start: &str, end: &str, tz: &str) -> When {
        When::parse(&strings(days), start, end, tz).unwrap()
    }

    fn tz(name: &str) -> Tz {
        name.parse().unwrap()
    }

    /// A UTC instant from an RFC 3339 string.
    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// The unique instant with local time `s` ("YYYY-MM-DD HH:MM:SS") in `zone`.
    fn local(zone: &str, s: &str) -> DateTime<Utc> {
        let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        match tz(zone).from_local_datetime(&naive) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            other => panic!("{s} is not a unique local time in {zone}: {other:?}"),
        }
    }

    /// Minutes (on whole UTC minutes) in `[from, to)` at which `w` is inside.
    fn minutes_inside(w: &When, from: DateTime<Utc>, to: DateTime<Utc>) -> usize {
        let mut count = 0;
        let mut t = from;
        while t < to {
            if w.contains(t) {
                count += 1;
            }
            t += TimeDelta::minutes(1);
        }
        count
    }

    #[test]
    fn weekday_window_boundaries_in_berlin() {
        let w = window(&["mon", "tue", "wed", "thu", "fri"], "09:00", "18:00", "Europe/Berlin");
        let berlin = |s: &str| local("Europe/Berlin", s);
        assert_eq!(
            berlin("2026-03-02 00:00:00")
                .with_timezone(&tz("Europe/Berlin"))
                .weekday(),
            Weekday::Mon
        );
        assert!(!w.contains(berlin("2026-03-02 08:59:59")));
        assert!(w.contains(berlin("2026-03-02 09:00:00")));
        assert!(w.contains(berlin("2026-03-02 17:59:59")));
        assert!(w.contains(berlin("2026-03-02 17:59:59") + TimeDelta::milliseconds(999)));
        assert!(!w.contains(berlin("2026-03-02 18:00:00")));
        assert!(w.contains(berlin("2026-03-06 12:00:00"))); // Friday
        assert!(!w.contains(berlin("2026-03-07 12:00:00"))); // Saturday
        assert!(!w.contains(berlin("2026-03-08 09:30:00"))); // Sunday
        // Summer time: same wall clock, different UTC instant.
        assert!(w.contains(utc("2026-07-06T07:00:00Z"))); // 09:00 CEST
        assert!(!w.contains(utc("2026-07-06T06:59:59Z")));
        assert!(!w.contains(utc("2026-07-06T16:00:00Z"))); // 18:00 CEST
        assert!(w.contains(utc("2026-07-06T15:59:59Z")));
    }

    #[test]
    fn crossing_midnight_friday_only() {
        let w = window(&["friday"], "22:00", "06:00", "Europe/Berlin");
        let berlin = |s: &str| local("Europe/Berlin", s);
        assert!(w.contains(berlin("2026-03-06 23:00:00"))); // Fri
        assert!(w.contains(berlin("2026-03-06 22:00:00")));
        assert!(!w.contains(berlin("2026-03-06 21:59:59")));
        assert!(w.contains(berlin("2026-03-07 00:00:00"))); // Sat
        assert!(w.contains(berlin("2026-03-07 05:59:00")));
        assert!(w.contains(berlin("2026-03-07 05:59:59")));
        assert!(!w.contains(berlin("2026-03-07 06:00:00")));
        assert!(!w.contains(berlin("2026-03-07 23:00:00"))); // Sat night: Sat not listed
        assert!(!w.contains(berlin("2026-03-05 23:00:00"))); // Thu
        assert!(!w.contains(berlin("2026-03-06 05:00:00"))); // Fri morning belongs to Thu's window

        let with_thursday = window(&["thu", "fri"], "22:00", "06:00", "Europe/Berlin");
        assert!(with_thursday.contains(berlin("2026-03-06 05:00:00")));
        assert!(with_thursday.contains(berlin("2026-03-05 23:00:00")));
        assert!(!with_thursday.contains(berlin("2026-03-06 12:00:00")));
    }

    #[test]
    fn crossing_midnight_until_midnight() {
        let w = window(&["sat"], "20:00", "00:00", "UTC");
        assert!(w.contains(utc("2026-03-07T20:00:00Z")));
        assert!(w.contains(utc("2026-03-07T23:59:59Z")));
        assert!(!w.contains(utc("2026-03-08T00:00:00Z")));
        assert!(!w.contains(utc("2026-03-07T19:59:59Z")));
    }

    #[test]
    fn berlin_spring_forward_loses_an_hour() {
        // 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00 UTC.
        let w = window(&["sun"], "01:30", "03:30", "Europe/Berlin");
        let normal = minutes_inside(&w, utc("2026-03-21T20:00:00Z"), utc("2026-03-22T06:00:00Z"));
        let spring = minutes_inside(&w, utc("2026-03-28T20:00:00Z"), utc("2026-03-29T06:00:00Z"));
        assert_eq!(normal, 120);
        assert_eq!(spring, normal - 60);
        assert!(w.contains(utc("2026-03-29T00:59:59Z"))); // 01:59:59 CET
        assert!(w.contains(utc("2026-03-29T01:00:00Z"))); // 03:00 CEST
        assert!(!w.contains(utc("2026-03-29T01:30:00Z"))); // 03:30 CEST

        // A window entirely inside the gap is empty that day.
        let gap = window(&["sun"], "02:00", "03:00", "Europe/Berlin");
        assert_eq!(
            minutes_inside(&gap, utc("2026-03-28T20:00:00Z"), utc("2026-03-29T06:00:00Z")),
            0
        );
        assert_eq!(
            minutes_inside(&gap, utc("2026-03-21T20:00:00Z"), utc("2026-03-22T06:00:00Z")),
            60
        );
        // ...so the next start after the preceding Saturday is a week later: 2026-04-05 02:00 CEST.
        assert_eq!(
            gap.next_start(utc("2026-03-28T12:00:00Z")),
            Some(utc("2026-04-05T00:00:00Z"))
        );

        // A window starting in the gap starts at the transition instant.
        let late = window(&["sun"], "02:30", "04:00", "Europe/Berlin");
        assert_eq!(
            late.next_start(utc("2026-03-28T12:00:00Z")),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        assert!(!late.contains(utc("2026-03-29T00:59:59Z")));
        assert_eq!(
            minutes_inside(&late, utc("2026-03-28T20:00:00Z"), utc("2026-03-29T06:00:00Z")),
            60
        );
    }

    #[test]
    fn berlin_fall_back_gains_an_hour() {
        // 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00 UTC.
        let w = window(&["sun"], "01:30", "03:30", "Europe/Berlin");
        let normal = minutes_inside(&w, utc("2026-10-17T20:00:00Z"), utc("2026-10-18T06:00:00Z"));
        let fall = minutes_inside(&w, utc("2026-10-24T20:00:00Z"), utc("2026-10-25T06:00:00Z"));
        assert_eq!(normal, 120);
        assert_eq!(fall, normal + 60);
        // Both instants of local 02:15 are inside.
        assert!(w.contains(utc("2026-10-25T00:15:00Z")));
        assert!(w.contains(utc("2026-10-25T01:15:00Z")));

        // A window that becomes active twice: 02:30–03:30.
        let twice = window(&["sun"], "02:30", "03:30", "Europe/Berlin");
        assert_eq!(
            twice.next_start(utc("2026-10-24T12:00:00Z")),
            Some(utc("2026-10-25T00:30:00Z"))
        );
        assert!(twice.contains(utc("2026-10-25T00:59:59Z"))); // 02:59:59 CEST
        assert!(!twice.contains(utc("2026-10-25T01:00:00Z"))); // 02:00 CET
        assert_eq!(
            twice.next_start(utc("2026-10-25T01:00:00Z")),
            Some(utc("2026-10-25T01:30:00Z"))
        );
        assert_eq!(
            minutes_inside(&twice, utc("2026-10-24T20:00:00Z"), utc("2026-10-25T06:00:00Z")),
            90
        );

        // Clocks going back *into* the window: 01:30–02:45 is re-entered at 02:00 CET.
        let reenter = window(&["sun"], "01:30", "02:45", "Europe/Berlin");
        assert!(!reenter.contains(utc("2026-10-25T00:59:59Z"))); // 02:59:59 CEST
        assert_eq!(
            reenter.next_start(utc("2026-10-25T00:50:00Z")),
            Some(utc("2026-10-25T01:00:00Z"))
        );
    }

    #[test]
    fn new_york_business_hours_across_dst() {
        let w = window(
            &["mon", "tue", "wed", "thu", "fri"],
            "09:00",
            "17:00",
            "America/New_York",
        );
        assert!(w.contains(utc("2026-01-05T14:00:00Z"))); // 09:00 EST
        assert!(!w.contains(utc("2026-01-05T13:59:59Z")));
        assert!(w.contains(utc("2026-07-06T13:00:00Z"))); // 09:00 EDT
        assert!(!w.contains(utc("2026-07-06T12:59:59Z")));
        assert!(!w.contains(utc("2026-07-06T21:00:00Z"))); // 17:00 EDT

        // Fall back on Sunday 2026-11-01: 02:00 EDT -> 01:00 EST at 06:00 UTC.
        let night = window(&["sat"], "23:00", "01:30", "America/New_York");
        // Sat 23:00 EDT .. Sun 01:30 EDT (first pass), then 01:00..01:30 EST again: 150 + 30 minutes.
        assert_eq!(
            minutes_inside(&night, utc("2026-10-31T12:00:00Z"), utc("2026-11-01T12:00:00Z")),
            180
        );
        assert!(night.contains(utc("2026-11-01T06:15:00Z"))); // 01:15 EST (second pass)
        assert!(!night.contains(utc("2026-11-01T06:30:00Z"))); // 01:30 EST

        // Spring forward on 2026-03-08: 02:00 EST -> 03:00 EDT at 07:00 UTC.
        let early = window(&["sun"], "01:00", "04:00", "America/New_York");
        assert_eq!(
            minutes_inside(&early, utc("2026-03-08T00:00:00Z"), utc("2026-03-08T12:00:00Z")),
            120
        );
    }

    #[test]
    fn lord_howe_half_hour_shift() {
        // 2026-10-04 (Sunday): 02:00 +10:30 -> 02:30 +11:00 at 15:30 UTC on 2026-10-03.
        let w = window(&["sun"], "02:00", "03:00", "Australia/Lord_Howe");
        assert_eq!(
            minutes_inside(&w, utc("2026-10-03T10:00:00Z"), utc("2026-10-03T20:00:00Z")),
            30
        );
        assert!(!w.contains(utc("2026-10-03T15:29:59Z"))); // 01:59:59 +10:30
        assert!(w.contains(utc("2026-10-03T15:30:00Z"))); // 02:30 +11:00
        assert_eq!(
            w.next_start(utc("2026-10-03T12:00:00Z")),
            Some(utc("2026-10-03T15:30:00Z"))
        );
        // A normal Sunday before: 60 minutes.
        assert_eq!(
            minutes_inside(&w, utc("2026-09-26T10:00:00Z"), utc("2026-09-26T20:00:00Z")),
            60
        );
    }

    #[test]
    fn parse_accepts_names_and_normalises_order() {
        let w = When::parse(&strings(&["FRI", "Monday", "wed"]), "22:00", "06:00", "UTC").unwrap();
        assert_eq!(
            w,
            When::Only {
                days: vec![Weekday::Mon, Weekday::Wed, Weekday::Fri],
                start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
                time_zone: Tz::UTC,
            }
        );
        for (i, name) in [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ]
        .iter()
        .enumerate()
        {
            let w = When::parse(&strings(&[name, &name[..3]]), "00:00", "23:59", "UTC");
            assert!(w.is_err(), "{name} and its abbreviation are duplicates");
            let w = When::parse(&strings(&[name]), "00:00", "23:59", "UTC").unwrap();
            let When::Only { days, .. } = w else { panic!() };
            assert_eq!(days, vec![WEEK[i]]);
        }
    }

    #[test]
    fn parse_collects_every_error() {
        let errors = When::parse(&strings(&["mon", "funday", "MONDAY"]), "9:00", "24:00", "Europe/Berln").unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            vec![FIELD_DAYS, FIELD_DAYS, FIELD_START, FIELD_END, FIELD_TIME_ZONE]
        );
        assert!(errors[0].message.contains("funday"));
        assert!(errors[1].message.contains("duplicate"));
        assert!(errors[2].message.contains("9:00"));
        assert!(errors[3].message.contains("24:00"));
        assert!(errors[4].message.contains("Europe/Berln"));
        assert_eq!(errors[0].to_string(), format!("when.days: {}", errors[0].message));

        let errors = When::parse(&[], "", "", "").unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, vec![FIELD_DAYS, FIELD_START, FIELD_END, FIELD_TIME_ZONE]);

        let errors = When::parse(&strings(&["sun"]), "10:00", "10:00", "UTC").unwrap_err();
        assert_eq!(
            errors,
            vec![WindowError::new(FIELD_END, "end time must differ from start time")]
        );

        for bad in [
            "09:60", "0900", "09:00:00", " 09:00", "09:0", "ab:cd", "-1:00", "09:00 ", "１9:00",
        ] {
            let errors = When::parse(&strings(&["sun"]), bad, "10:00", "UTC").unwrap_err();
            assert_eq!(errors.len(), 1, "{bad}");
            assert_eq!(errors[0].field, FIELD_START, "{bad}");
        }
        // Zone names are case-sensitive IANA names.
        assert!(When::parse(&strings(&["sun"]), "09:00", "10:00", "europe/berlin").is_err());
        assert!(When::parse(&strings(&["sun"]), "00:00", "23:59", "America/New_York").is_ok());
    }

    #[test]
    fn describe_output() {
        assert_eq!(
            window(&["mon", "tue", "wed", "thu", "fri"], "09:00", "18:00", "Europe/Berlin").describe(),
            "Mon–Fri 09:00–18:00 Europe/Berlin"
        );
        assert_eq!(
            window(&["wed", "mon"], "22:00", "06:00", "UTC").describe(),
            "Mon, Wed 22:00–06:00 UTC"
        );
        assert_eq!(
            window(&["sat", "sun"], "10:00", "12:30", "UTC").describe(),
            "Sat, Sun 10:00–12:30 UTC"
        );
        assert_eq!(
            window(
                &["mon", "tue", "thu", "fri", "sat", "sun"],
                "00:00",
                "23:59",
                "Australia/Lord_Howe"
            )
            .describe(),
            "Mon, Tue, Thu–Sun 00:00–23:59 Australia/Lord_Howe"
        );
        assert_eq!(
            window(
                &["sun", "sat", "fri", "thu", "wed", "tue", "mon"],
                "08:00",
                "20:00",
                "America/New_York"
            )
            .describe(),
            "Mon–Sun 08:00–20:00 America/New_York"
        );
        assert_eq!(When::Always.describe(), "Always");
        assert_eq!(When::Always.to_string(), "Always");
        let odd = When::Only {
            days: vec![],
            start: NaiveTime::from_hms_opt(1, 2, 3).unwrap(),
            end: NaiveTime::from_hms_opt(4, 5, 0).unwrap(),
            time_zone: Tz::UTC,
        };
        assert_eq!(odd.describe(), "(no days) 01:02:03–04:05 UTC");
    }

    #[test]
    fn next_start_basics() {
        let at = utc("2026-03-07T12:00:00Z"); // Saturday
        assert_eq!(When::Always.next_start(at), Some(at));
        let w = window(&["mon", "tue", "wed", "thu", "fri"], "09:00", "18:00", "Europe/Berlin");
        assert_eq!(w.next_start(at), Some(local("Europe/Berlin", "2026-03-09 09:00:00")));
        let inside = local("Europe/Berlin", "2026-03-09 12:34:56") + TimeDelta::nanoseconds(7);
        assert_eq!(w.next_start(inside), Some(inside));
        let evening = local("Europe/Berlin", "2026-03-09 18:00:00");
        assert_eq!(
            w.next_start(evening),
            Some(local("Europe/Berlin", "2026-03-10 09:00:00"))
        );

        // Windows that can never apply.
        let no_days = When::Only {
            days: vec![],
            start: NaiveTime::MIN,
            end: NaiveTime::MIN,
            time_zone: Tz::UTC,
        };
        assert_eq!(no_days.next_start(at), None);
        assert!(!no_days.contains(at));
        let equal = When::Only {
            days: WEEK.to_vec(),
            start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            time_zone: Tz::UTC,
        };
        assert_eq!(equal.next_start(at), None);
        assert!(!equal.contains(utc("2026-03-07T09:00:00Z")));

        // Extreme instants do not panic.
        let w = window(&["mon"], "09:00", "10:00", "Pacific/Kiritimati");
        let _ = w.next_start(DateTime::<Utc>::MAX_UTC);
        let _ = w.next_start(DateTime::<Utc>::MIN_UTC);
        let _ = w.contains(DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn apia_skipped_day() {
        // Pacific/Apia skipped Friday 2011-12-30 entirely (-10:00 -> +14:00 at 10:00 UTC).
        let friday = window(&["fri"], "09:00", "17:00", "Pacific/Apia");
        assert_eq!(
            minutes_inside(&friday, utc("2011-12-29T00:00:00Z"), utc("2012-01-01T00:00:00Z")),
            0
        );
        assert_eq!(
            friday.next_start(utc("2011-12-29T12:00:00Z")),
            Some(local("Pacific/Apia", "2012-01-06 09:00:00"))
        );
        // A Friday-night window still covers Saturday morning (the previous calendar day is a Friday).
        let night = window(&["fri"], "22:00", "06:00", "Pacific/Apia");
        assert!(night.contains(local("Pacific/Apia", "2011-12-31 00:00:00")));
        assert_eq!(
            night.next_start(utc("2011-12-29T12:00:00Z")),
            Some(utc("2011-12-30T10:00:00Z"))
        );
    }

    // ---------------------------------------------------------------- property tests

    const ZONES: &[&str] = &[
        "UTC",
        "Europe/Berlin",
        "Europe/London",
        "America/New_York",
        "America/St_Johns",
        "America/Santiago",
        "America/Havana",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
        "Asia/Kathmandu",
        "Asia/Tehran",
        "Africa/Casablanca",
        "Pacific/Chatham",
        "Pacific/Apia",
        "Pacific/Kiritimati",
    ];

    #[derive(Debug, Clone)]
    struct Case {
        days: Vec<Weekday>,
        start: NaiveTime,
        end: NaiveTime,
        tz: Tz,
        at: DateTime<Utc>,
    }

    impl Case {
        fn when(&self) -> When {
            When::Only {
                days: self.days.clone(),
                start: self.start,
                end: self.end,
                time_zone: self.tz,
            }
        }
    }

    fn minute_time(m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap()
    }

    /// Whole hours (UTC) right after each offset change of `tz` during `year`.
    fn offset_changes(tz: &Tz, year: i32) -> Vec<DateTime<Utc>> {
        let mut t = NaiveDate::from_ymd_opt(year, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        let end = NaiveDate::from_ymd_opt(year + 1, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        let offset = |t: DateTime<Utc>| t.with_timezone(tz).offset().fix();
        let mut changes = Vec::new();
        let mut previous = offset(t);
        while t < end {
            t += TimeDelta::hours(1);
            let current = offset(t);
            if current != previous {
                changes.push(t);
                previous = current;
            }
        }
        changes
    }

    /// Random windows (start != end) and instants, half of them within two days of an offset change.
    fn case(crossing_only: bool) -> impl Strategy<Value = Case> {
        (
            prop::sample::subsequence(WEEK.to_vec(), 1..=7),
            0u32..1440,
            0u32..1440,
            prop::sample::select(ZONES),
            1975i32..2045,
            any::<bool>(),
            0usize..1000,
            -172_800i64..172_800,
            0i64..(366 * 86_400),
        )
            .prop_filter("start != end", |(_, s, e, ..)| s != e)
            .prop_filter("crossing", move |(_, s, e, ..)| !crossing_only || e < s)
            .prop_map(|(days, s, e, zone, year, near_change, pick, delta, uniform)| {
                let tz: Tz = zone.parse().unwrap();
                let changes = if near_change {
                    offset_changes(&tz, year)
                } else {
                    Vec::new()
                };
                let at = if changes.is_empty() {
                    NaiveDate::from_ymd_opt(year, 1, 1)
                        .unwrap()
                        .and_hms_opt(0, 0, 0)
                        .unwrap()
                        .and_utc()
                        + TimeDelta::seconds(uniform)
                } else {
                    changes[pick % changes.len()] + TimeDelta::seconds(delta)
                };
                Case {
                    days,
                    start: minute_time(s),
                    end: minute_time(e),
                    tz,
                    at,
                }
            })
    }

    /// Independent reference: is the local datetime inside `[d + start, window end)` for the local
    /// date `d` or the day before?
    fn reference_contains(c: &Case) -> bool {
        let local = c.tz.from_utc_datetime(&c.at.naive_utc()).naive_local();
        [local.date(), local.date().pred_opt().unwrap()].into_iter().any(|d| {
            if !c.days.contains(&d.weekday()) {
                return false;
            }
            let window_start = NaiveDateTime::new(d, c.start);
            let window_end = if c.end > c.start {
                NaiveDateTime::new(d, c.end)
            } else {
                NaiveDateTime::new(d.succ_opt().unwrap(), c.end)
            };
            window_start <= local && local < window_end
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn prop_contains_matches_reference(c in case(false)) {
            prop_assert_eq!(c.when().contains(c.at), reference_contains(&c));
        }

        #[test]
        fn prop_crossing_is_union_of_evening_and_next_morning(c in case(true)) {
            let evening = When::Only {
                days: c.days.clone(),
                start: c.start,
                end: NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999).unwrap(),
                time_zone: c.tz,
            };
            let morning = When::Only {
                days: c.days.iter().map(|d| d.succ()).collect(),
                start: NaiveTime::MIN,
                end: c.end,
                time_zone: c.tz,
            };
            // Instants are whole seconds, so the 23:59:59.999999999 end loses nothing.
            prop_assert_eq!(c.when().contains(c.at), evening.contains(c.at) || morning.contains(c.at));
        }

        #[test]
        fn prop_all_day_window_excludes_only_last_minute(c in case(false)) {
            let all =
                When::Only { days: WEEK.to_vec(), start: NaiveTime::MIN, end: minute_time(1439), time_zone: c.tz };
            let local = c.at.with_timezone(&c.tz);
            let last_minute = local.hour() == 23 && local.minute() == 59;
            prop_assert_eq!(all.contains(c.at), !last_minute);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn prop_next_start_is_first_inside(c in case(false), nanos in 0u32..1_000_000_000) {
            let w = c.when();
            let at = c.at + TimeDelta::nanoseconds(i64::from(nanos));
            let next = w.next_start(at);
            prop_assert!(next.is_some());
            let next = next.unwrap();
            prop_assert!(next >= at);
            prop_assert!(w.contains(next));
            if next > at {
                prop_assert!(!w.contains(next - TimeDelta::nanoseconds(1)));
            }
            let limit = (at + TimeDelta::days(8)).min(next);
            let mut t = at;
            while t < limit {
                prop_assert!(!w.contains(t), "inside at {} before next_start {}", t, next);
                t += TimeDelta::minutes(1);
            }
        }
    }
}
