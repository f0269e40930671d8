//! `key=value` arguments: attribute filters and values, integration config and secrets, resource
//! tags.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use latch_proto::common::v1::Attribute;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl fmt::Display for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

impl FromStr for KeyValue {
    type Err = String;

    /// Splits at the first `=`, so values may contain `=` themselves.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?} is not key=value"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("{text:?} has an empty key"));
        }
        Ok(Self {
            key: key.to_string(),
            value: value.trim().to_string(),
        })
    }
}

/// Repeated keys become one attribute with several values, in the order given.
pub fn attributes(pairs: &[KeyValue]) -> Vec<Attribute> {
    let mut attributes: Vec<Attribute> = Vec::new();
    for pair in pairs {
        match attributes.iter_mut().find(|attribute| attribute.key == pair.key) {
            Some(attribute) => attribute.values.push(pair.value.clone()),
            None => attributes.push(Attribute {
                key: pair.key.clone(),
                values: vec![pair.value.clone()],
            }),
        }
    }
    attributes
}

/// Config values, secrets or tags as a map. A key given twice is refused: silently keeping one
/// of the two values would hide a typo.
pub fn to_map(pairs: &[KeyValue]) -> Result<HashMap<String, String>, String> {
    let mut map = HashMap::with_capacity(pairs.len());
    for pair in pairs {
        if map.insert(pair.key.clone(), pair.value.clone()).is_some() {
            return Err(format!("{:?} is given more than once", pair.key));
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn parses_key_value() {
        assert_eq!("department=payments".parse(), Ok(pair("department", "payments")));
        assert_eq!(" title = Staff Engineer ".parse(), Ok(pair("title", "Staff Engineer")));
        assert_eq!("formula=a=b".parse(), Ok(pair("formula", "a=b")));
        assert_eq!("note=".parse(), Ok(pair("note", "")));
    }

    #[test]
    fn rejects_missing_separator_or_key() {
        assert!("department".parse::<KeyValue>().is_err());
        assert!("=payments".parse::<KeyValue>().is_err());
        assert!("".parse::<KeyValue>().is_err());
    }

    #[test]
    fn display_round_trips() {
        let parsed: KeyValue = "location=Berlin".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.to_string(), "location=Berlin");
    }

    #[test]
    fn repeated_keys_collect_into_one_attribute() {
        let attributes = attributes(&[pair("team", "a"), pair("title", "SRE"), pair("team", "b")]);
        assert_eq!(
            attributes,
            [
                Attribute {
                    key: "team".into(),
                    values: vec!["a".into(), "b".into()]
                },
                Attribute {
                    key: "title".into(),
                    values: vec!["SRE".into()]
                },
            ]
        );
    }

    #[test]
    fn pairs_become_a_map_without_duplicate_keys() {
        let map = to_map(&[pair("host", "db"), pair("port", "5432"), pair("sslmode", "")]).unwrap();
        assert_eq!(map.len(), 3);
        assert_eq!(map["port"], "5432");
        assert_eq!(map["sslmode"], "");
        let error = to_map(&[pair("host", "a"), pair("host", "b")]).unwrap_err();
        assert!(error.contains("\"host\" is given more than once"), "{error}");
    }
}
