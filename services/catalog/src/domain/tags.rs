//! Tags and tag selectors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub type Tags = BTreeMap<String, String>;

/// Matches a resource whose tag `key` has one of `values` (any value when `values` is empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagSelector {
    pub key: String,
    pub values: Vec<String>,
}

impl TagSelector {
    pub fn matches(&self, tags: &Tags) -> bool {
        match tags.get(&self.key) {
            Some(value) => self.values.is_empty() || self.values.iter().any(|v| v == value),
            None => false,
        }
    }

    /// `key=value`, `key=v1|v2` or `key` (present).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (key, values) = match text.split_once('=') {
            Some((key, values)) => {
                let values: Vec<String> = values
                    .split('|')
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
                    .collect();
                if values.is_empty() {
                    return Err(format!("{text:?}: a value must follow '='"));
                }
                (key.trim(), values)
            }
            None => (text, Vec::new()),
        };
        if !is_valid_tag_key(key) {
            return Err(format!(
                "{text:?}: the key must be 1–128 characters of letters, digits, '_', '-', '.', '/' or ':'"
            ));
        }
        Ok(Self {
            key: key.to_string(),
            values,
        })
    }
}

pub fn is_valid_tag_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 128
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':'))
}

pub fn is_valid_tag_value(value: &str) -> bool {
    value.len() <= 256 && !value.chars().any(char::is_control)
}

/// System tags overlaid with admin tags (the admins' win).
pub fn effective(system: &Tags, admin: &Tags) -> Tags {
    let mut tags = system.clone();
    tags.extend(admin.iter().map(|(k, v)| (k.clone(), v.clone())));
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn selectors_parse_and_match() {
        let env = TagSelector::parse("env=prod|staging").unwrap();
        assert!(env.matches(&tags(&[("env", "prod")])));
        assert!(env.matches(&tags(&[("env", "staging")])));
        assert!(!env.matches(&tags(&[("env", "dev")])));
        assert!(!env.matches(&tags(&[])));
        let present = TagSelector::parse("pii").unwrap();
        assert!(present.matches(&tags(&[("pii", "false")])));
        assert!(TagSelector::parse("env=").is_err());
        assert!(TagSelector::parse("bad key=x").is_err());
        assert!(TagSelector::parse("").is_err());
    }

    #[test]
    fn admin_tags_override_system_tags() {
        let merged = effective(
            &tags(&[("env", "prod"), ("team", "a")]),
            &tags(&[("team", "b"), ("tier", "1")]),
        );
        assert_eq!(merged, tags(&[("env", "prod"), ("team", "b"), ("tier", "1")]));
    }
}
