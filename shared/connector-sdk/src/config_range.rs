//! Numeric settings: the range a connector documents in `Describe`, checked by Latch when an
//! integration is created or updated, and again by the connector on every call (a value stored
//! by an older version must give an error, never an abort or a panic).

use crate::connector::ConnectorResult;
use crate::error::ConnectorError;
use crate::model::{Config, ConfigField};

/// An inclusive range; `integer` accepts whole numbers written in digits only (`1e3` and `10.0`
/// are refused, so no float is ever cast to an integer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NumberRange {
    pub min: i64,
    pub max: i64,
    pub integer: bool,
}

impl NumberRange {
    pub const fn integer(min: i64, max: i64) -> Self {
        Self {
            min,
            max,
            integer: true,
        }
    }

    /// Any finite decimal number from `min` to `max`.
    pub const fn decimal(min: i64, max: i64) -> Self {
        Self {
            min,
            max,
            integer: false,
        }
    }

    /// The rule, as a field violation states it: "must be a whole number from 0 to 100000".
    pub fn rule(&self) -> String {
        let kind = if self.integer { "a whole number" } else { "a number" };
        format!("must be {kind} from {} to {}", self.min, self.max)
    }

    /// Checks a whole number; the value itself is never quoted back (it may be huge).
    pub fn check_integer(&self, raw: &str) -> Result<i64, String> {
        let raw = raw.trim();
        let digits = raw.strip_prefix('-').unwrap_or(raw);
        if !self.integer || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.rule());
        }
        // Digits beyond i64 are out of range as surely as a large number is.
        match raw.parse::<i64>() {
            Ok(value) if (self.min..=self.max).contains(&value) => Ok(value),
            _ => Err(self.rule()),
        }
    }

    /// Checks a decimal number (finite, within the range).
    pub fn check_decimal(&self, raw: &str) -> Result<f64, String> {
        let raw = raw.trim();
        if self.integer {
            return self.check_integer(raw).map(|v| v as f64);
        }
        match raw.parse::<f64>() {
            Ok(value) if value.is_finite() && value >= self.min as f64 && value <= self.max as f64 => Ok(value),
            _ => Err(self.rule()),
        }
    }

    /// Checks `raw` as this range's kind of number.
    pub fn check(&self, raw: &str) -> Result<(), String> {
        if self.integer {
            self.check_integer(raw).map(drop)
        } else {
            self.check_decimal(raw).map(drop)
        }
    }
}

/// A numeric setting, read by a connector: the field's range checked on every call. `None`
/// when unset or empty (the caller falls back to the default it describes).
pub fn integer_setting(config: &Config, field: &ConfigField) -> ConnectorResult<Option<i64>> {
    setting(config, field, NumberRange::check_integer)
}

/// [`integer_setting`] for decimal settings.
pub fn decimal_setting(config: &Config, field: &ConfigField) -> ConnectorResult<Option<f64>> {
    setting(config, field, NumberRange::check_decimal)
}

fn setting<T>(
    config: &Config,
    field: &ConfigField,
    parse: impl Fn(&NumberRange, &str) -> Result<T, String>,
) -> ConnectorResult<Option<T>> {
    let Some(raw) = config.get(&field.name).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let Some(range) = &field.range else {
        return Err(ConnectorError::invalid(
            format!("config.{}", field.name),
            "has no documented range",
        ));
    };
    parse(range, raw)
        .map(Some)
        .map_err(|rule| ConnectorError::invalid(format!("config.{}", field.name), rule))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_are_digits_within_the_range() {
        let range = NumberRange::integer(0, 100_000);
        assert_eq!(range.check_integer(" 42 "), Ok(42));
        assert_eq!(range.check_integer("100000"), Ok(100_000));
        for bad in [
            "100001",
            "10000000000",
            "99999999999999999999999",
            "1e18",
            "1e3",
            "10.0",
            "-1",
            "NaN",
            "inf",
            "",
            "+5",
            "0x10",
        ] {
            assert_eq!(
                range.check_integer(bad),
                Err("must be a whole number from 0 to 100000".into()),
                "{bad}"
            );
        }
        assert_eq!(NumberRange::integer(-5, 5).check_integer("-5"), Ok(-5));
    }

    #[test]
    fn decimals_are_finite_and_within_the_range() {
        let range = NumberRange::decimal(0, 1);
        assert_eq!(range.check_decimal("0.25"), Ok(0.25));
        assert_eq!(range.check_decimal("1"), Ok(1.0));
        for bad in ["1.0001", "-0.1", "NaN", "inf", "1e18", "x"] {
            assert_eq!(
                range.check_decimal(bad),
                Err("must be a number from 0 to 1".into()),
                "{bad}"
            );
        }
    }

    #[test]
    fn settings_name_the_config_field_and_never_echo_the_value() {
        let field = ConfigField {
            name: "resource_count".into(),
            range: Some(NumberRange::integer(0, 10)),
            ..ConfigField::default()
        };
        let huge = "9".repeat(10_000);
        let config = Config::from([("resource_count".to_string(), huge.clone())]);
        let error = integer_setting(&config, &field).unwrap_err();
        assert_eq!(
            error,
            ConnectorError::invalid("config.resource_count", "must be a whole number from 0 to 10")
        );
        assert!(!error.to_string().contains(&huge[..20]));
        assert_eq!(integer_setting(&Config::new(), &field), Ok(None));
    }
}
