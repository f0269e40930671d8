//! Tag arguments. A selector `key=v1|v2` matches any of the values, `key` alone any value (scope
//! queries and bundle selections); a filter `key=value` or `key` is the simpler form
//! `resources list` takes.

use std::fmt;
use std::str::FromStr;

use latch_proto::catalog::v1::TagSelector;

use crate::key_value::KeyValue;

pub const TAG_SELECTOR_SYNTAX: &str = "KEY, KEY=VALUE or KEY=VALUE1|VALUE2";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagSelectorArg {
    pub key: String,
    /// Empty: the key is present with any value.
    pub values: Vec<String>,
}

impl TagSelectorArg {
    pub fn to_proto(&self) -> TagSelector {
        TagSelector {
            key: self.key.clone(),
            values: self.values.clone(),
        }
    }

    pub fn from_proto(selector: &TagSelector) -> Self {
        Self {
            key: selector.key.clone(),
            values: selector.values.clone(),
        }
    }
}

impl fmt::Display for TagSelectorArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.values.is_empty() {
            return write!(f, "{}", self.key);
        }
        write!(f, "{}={}", self.key, self.values.join("|"))
    }
}

impl FromStr for TagSelectorArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (key, values) = match text.split_once('=') {
            Some((key, values)) => (key.trim(), Some(values)),
            None => (text.trim(), None),
        };
        if key.is_empty() {
            return Err(format!("tag {text:?} has an empty key; expected {TAG_SELECTOR_SYNTAX}"));
        }
        if key.contains('|') {
            return Err(format!("tag key {key:?} contains '|'; expected {TAG_SELECTOR_SYNTAX}"));
        }
        let values = match values {
            None => Vec::new(),
            Some(values) => values
                .split('|')
                .map(|value| {
                    let value = value.trim();
                    if value.is_empty() {
                        return Err(format!(
                            "tag {text:?} has an empty value (the key alone matches any value); \
                             expected {TAG_SELECTOR_SYNTAX}"
                        ));
                    }
                    Ok(value.to_string())
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Self {
            key: key.to_string(),
            values,
        })
    }
}

/// A clap value parser for `resources list --tag`: `key=value` or `key`, normalised.
pub fn parse_tag_filter(text: &str) -> Result<String, String> {
    if text.contains('=') {
        return text.parse::<KeyValue>().map(|pair| pair.to_string());
    }
    let key = text.trim();
    if key.is_empty() {
        return Err("empty tag; expected KEY=VALUE or KEY".into());
    }
    Ok(key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selector(key: &str, values: &[&str]) -> TagSelectorArg {
        TagSelectorArg {
            key: key.into(),
            values: values.iter().map(|value| value.to_string()).collect(),
        }
    }

    #[test]
    fn parses_key_one_value_or_several() {
        assert_eq!("env".parse(), Ok(selector("env", &[])));
        assert_eq!("env=prod".parse(), Ok(selector("env", &["prod"])));
        assert_eq!("env=prod|staging".parse(), Ok(selector("env", &["prod", "staging"])));
        assert_eq!(
            " env = prod | staging ".parse(),
            Ok(selector("env", &["prod", "staging"]))
        );
        assert_eq!("url=a=b".parse(), Ok(selector("url", &["a=b"])));
    }

    #[test]
    fn rejects_empty_keys_and_values() {
        for bad in [
            "",
            "=prod",
            " =prod",
            "env=",
            "env=prod|",
            "env=|prod",
            "env=prod||dev",
            "a|b=c",
        ] {
            let error = bad.parse::<TagSelectorArg>().unwrap_err();
            assert!(error.contains(TAG_SELECTOR_SYNTAX), "{bad:?}: {error}");
        }
    }

    #[test]
    fn display_and_proto_round_trip() {
        for text in ["env", "env=prod", "env=prod|staging"] {
            let parsed: TagSelectorArg = text.parse().unwrap();
            assert_eq!(parsed.to_string(), text);
            assert_eq!(TagSelectorArg::from_proto(&parsed.to_proto()), parsed);
        }
    }

    #[test]
    fn tag_filters_are_key_value_or_key() {
        assert_eq!(parse_tag_filter("env=prod"), Ok("env=prod".into()));
        assert_eq!(parse_tag_filter(" env = prod "), Ok("env=prod".into()));
        assert_eq!(parse_tag_filter(" pii "), Ok("pii".into()));
        assert!(parse_tag_filter("").is_err());
        assert!(parse_tag_filter("=prod").is_err());
    }
}
