//! Relative durations on the command line: `30d`, `12h`, `90m` (also `45s` and `2w`).

use std::fmt;
use std::str::FromStr;

use chrono::TimeDelta;

/// A positive length of time, parsed from a number and one unit letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelativeDuration(TimeDelta);

impl RelativeDuration {
    pub fn as_time_delta(self) -> TimeDelta {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError(String);

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; expected a number and a unit, like 30d, 12h or 90m", self.0)
    }
}

impl std::error::Error for DurationError {}

impl FromStr for RelativeDuration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let Some(unit) = text.chars().last() else {
            return Err(DurationError("empty duration".into()));
        };
        let seconds_per_unit: i64 = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => {
                return Err(DurationError(format!("{text:?} has no unit (s, m, h, d or w)")));
            }
        };
        let number = &text[..text.len() - unit.len_utf8()];
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DurationError(format!("{text:?} does not start with a whole number")));
        }
        let count: i64 = number
            .parse()
            .map_err(|_| DurationError(format!("{text:?} is too large")))?;
        if count == 0 {
            return Err(DurationError(format!("{text:?} must be longer than zero")));
        }
        count
            .checked_mul(seconds_per_unit)
            .and_then(TimeDelta::try_seconds)
            .map(Self)
            .ok_or_else(|| DurationError(format!("{text:?} is too large")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TimeDelta, DurationError> {
        text.parse::<RelativeDuration>().map(RelativeDuration::as_time_delta)
    }

    #[test]
    fn parses_days_hours_and_minutes() {
        assert_eq!(parse("30d"), Ok(TimeDelta::days(30)));
        assert_eq!(parse("12h"), Ok(TimeDelta::hours(12)));
        assert_eq!(parse("90m"), Ok(TimeDelta::minutes(90)));
        assert_eq!(parse("45s"), Ok(TimeDelta::seconds(45)));
        assert_eq!(parse("2w"), Ok(TimeDelta::days(14)));
        assert_eq!(parse(" 1d "), Ok(TimeDelta::days(1)));
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "d",
            "30",
            "30x",
            "-5d",
            "+5d",
            "1.5h",
            "0d",
            "h12",
            "3 d",
            "30D",
            "99999999999999999999d",
            "9223372036854775807w",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn error_message_shows_the_expected_form() {
        let message = parse("soon").map(|_| ()).unwrap_err().to_string();
        assert!(message.contains("like 30d, 12h or 90m"), "{message}");
    }
}
