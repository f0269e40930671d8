//! Durations as people write them: `90s`, `30m`, `1h`, `2h30m`, `1d`, `1w`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Ten years: no grant, extension or request is longer.
const MAX_SECONDS: u64 = 10 * 366 * 86_400;

/// A whole number of seconds, at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(u64);

impl Span {
    pub const MINUTE: Span = Span(60);
    pub const HOUR: Span = Span(3600);

    pub fn seconds(seconds: u64) -> Option<Self> {
        (seconds > 0).then_some(Span(seconds))
    }

    pub fn as_seconds(self) -> u64 {
        self.0
    }

    pub fn to_chrono(self) -> chrono::TimeDelta {
        chrono::TimeDelta::seconds(self.0.min(i64::MAX as u64) as i64)
    }

    /// `1h`, `30m`, `2h30m`, `1d`, `1w`, `45s`; units may repeat in any order but not be empty.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("a duration like 30m, 1h or 2h30m is required".into());
        }
        let mut total: u64 = 0;
        let mut number = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 604_800,
                _ => return Err(format!("{text:?}: unknown unit {c:?}; use s, m, h, d or w")),
            };
            let value: u64 = number
                .parse()
                .map_err(|_| format!("{text:?}: a number must come before {c:?}"))?;
            number.clear();
            total = value
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("{text:?} is too long"))?;
        }
        if !number.is_empty() {
            return Err(format!("{text:?}: the number {number} needs a unit (s, m, h, d or w)"));
        }
        if total > MAX_SECONDS {
            return Err(format!("{text:?} is longer than the limit of 10 years"));
        }
        Span::seconds(total).ok_or_else(|| format!("{text:?}: must be longer than zero"))
    }
}

impl fmt::Display for Span {
    /// The shortest exact form: `1w`, `1d2h`, `2h30m`, `45s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Span::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parses_and_prints() {
        assert_eq!(Span::parse("1h").unwrap().as_seconds(), 3600);
        assert_eq!(Span::parse("2h30m").unwrap().as_seconds(), 9000);
        assert_eq!(Span::parse(" 90s ").unwrap().to_string(), "1m30s");
        assert_eq!(Span::parse("1w1d").unwrap().to_string(), "1w1d");
        for bad in ["", "0m", "5", "h", "1y", "-1h", "99999999999999999999w", "1000w"] {
            assert!(Span::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn printing_then_parsing_is_the_identity(seconds in 1u64..100_000_000) {
            let span = Span::seconds(seconds).unwrap();
            prop_assert_eq!(Span::parse(&span.to_string()).unwrap(), span);
        }
    }
}
