//! People: the user record, its attributes and the rules a valid one follows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use latch_runtime::FieldViolation;
use latch_runtime::text;
use serde::{Deserialize, Serialize};

/// Well-known attribute keys. Any other key matching [`is_valid_attribute_key`] is custom.
pub const DEPARTMENT: &str = "department";
pub const TITLE: &str = "title";
pub const EMPLOYMENT_TYPE: &str = "employment_type";
pub const LOCATION: &str = "location";
pub const EMPLOYEE_NUMBER: &str = "employee_number";
pub const COST_CENTER: &str = "cost_center";
pub const ORGANIZATION: &str = "organization";
pub const DIVISION: &str = "division";

/// Identity attributes: each key holds one or many values, kept sorted by key for stable output.
pub type Attributes = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub user_name: String,
    pub email: String,
    pub display_name: String,
    pub active: bool,
    pub attributes: Attributes,
    pub manager_id: Option<String>,
    pub external_id: Option<String>,
    /// Roles granted to this user directly (admin, auditor), beside those from configured groups.
    pub granted_roles: Vec<String>,
    /// SCIM attributes Latch does not model (name parts, phone numbers…), kept so an identity
    /// provider reads back what it wrote.
    #[serde(default)]
    pub scim_extra: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl User {
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }

    pub fn attribute(&self, key: &str) -> &[String] {
        self.attributes.get(key).map(Vec::as_slice).unwrap_or_default()
    }
}

/// The fields a caller may set on a user; everything else is the server's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserDraft {
    pub user_name: String,
    pub email: String,
    pub display_name: String,
    pub active: bool,
    pub attributes: Attributes,
    pub manager_id: Option<String>,
    pub external_id: Option<String>,
    pub scim_extra: serde_json::Map<String, serde_json::Value>,
}

pub fn is_valid_attribute_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' || c == '.')
}

/// Attributes a user may carry; values each attribute may have; characters in one value. A
/// directory entry stays small enough that a page of users always fits in one answer.
pub const MAX_ATTRIBUTES: usize = 64;
pub const MAX_ATTRIBUTE_VALUES: usize = 100;
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 1024;
pub const MAX_ATTRIBUTE_BYTES: usize = 16 * 1024;

impl UserDraft {
    /// Checks the draft on its own (references to other users are checked by the caller, who
    /// has the directory). `prefix` is the field path of the user in the request, e.g. `user`.
    pub fn validate(&self, prefix: &str) -> Vec<FieldViolation> {
        let mut violations = Vec::new();
        let field = |name: &str| format!("{prefix}.{name}");
        let user_name = self.user_name.trim();
        if user_name.is_empty() {
            violations.push(FieldViolation::new(field("user_name"), "must not be empty"));
        } else if user_name.len() > 256 {
            violations.push(FieldViolation::new(
                field("user_name"),
                "must be at most 256 characters",
            ));
        } else if user_name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            violations.push(FieldViolation::new(
                field("user_name"),
                "must not contain spaces or control characters",
            ));
        }
        if !self.email.is_empty() {
            let valid = self.email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && !domain.is_empty() && !self.email.contains(char::is_whitespace)
            });
            if !valid {
                violations.push(FieldViolation::new(
                    field("email"),
                    "must be an address like name@example.com",
                ));
            }
        }
        // Names are names: no control characters (NUL cannot even be stored on PostgreSQL).
        let names = [
            ("email", self.email.as_str()),
            ("display_name", self.display_name.as_str()),
            ("external_id", self.external_id.as_deref().unwrap_or_default()),
        ];
        for (name, value) in names {
            if let Err(violation) = text::check_name(&field(name), value, text::MAX_NAME_CHARS) {
                violations.push(violation);
            }
        }
        let total: usize = self.attributes.values().flatten().map(String::len).sum();
        if total > MAX_ATTRIBUTE_BYTES {
            violations.push(FieldViolation::new(
                field("attributes"),
                format!("at most {MAX_ATTRIBUTE_BYTES} bytes of values in all"),
            ));
        }
        if self.attributes.len() > MAX_ATTRIBUTES {
            violations.push(FieldViolation::new(
                field("attributes"),
                format!("at most {MAX_ATTRIBUTES} attributes per user"),
            ));
        }
        for (key, values) in &self.attributes {
            if values.len() > MAX_ATTRIBUTE_VALUES {
                violations.push(FieldViolation::new(
                    field(&format!("attributes.{}", text::prefix(key, 64))),
                    format!("at most {MAX_ATTRIBUTE_VALUES} values per attribute"),
                ));
            }
            if let Some(violation) = values.iter().find_map(|value| {
                text::check_name(
                    &field(&format!("attributes.{}", text::prefix(key, 64))),
                    value,
                    MAX_ATTRIBUTE_VALUE_CHARS,
                )
                .err()
            }) {
                violations.push(violation);
            }
        }
        for (key, values) in &self.attributes {
            if !is_valid_attribute_key(key) {
                violations.push(FieldViolation::new(
                    field(&format!("attributes.{key}")),
                    "key must be lowercase letters, digits, '_', '-' or '.', starting with a letter or digit, at most 64 characters",
                ));
            }
            if values.is_empty() || values.iter().any(|v| v.trim().is_empty()) {
                violations.push(FieldViolation::new(
                    field(&format!("attributes.{key}")),
                    "values must not be empty",
                ));
            }
        }
        violations
    }

    /// Normalises what the caller sent: trimmed names, deduplicated attribute values.
    pub fn normalized(mut self) -> Self {
        self.user_name = self.user_name.trim().to_string();
        self.email = self.email.trim().to_string();
        self.display_name = self.display_name.trim().to_string();
        for values in self.attributes.values_mut() {
            for value in values.iter_mut() {
                *value = value.trim().to_string();
            }
            let mut seen = std::collections::HashSet::new();
            values.retain(|v| seen.insert(v.clone()));
        }
        if self.display_name.is_empty() {
            self.display_name = self.user_name.clone();
        }
        self
    }
}

/// The key under which user names are unique: SCIM says userName is case-insensitive.
pub fn user_name_key(user_name: &str) -> String {
    user_name.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> UserDraft {
        UserDraft {
            user_name: "ada".into(),
            email: "ada@example.com".into(),
            active: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_draft_has_no_violations() {
        assert!(draft().validate("user").is_empty());
    }

    #[test]
    fn violations_name_the_field_and_rule() {
        let mut bad = draft();
        bad.user_name = "  ".into();
        bad.email = "no-at-sign".into();
        bad.attributes.insert("Department".into(), vec!["x".into()]);
        bad.attributes.insert("team".into(), vec![]);
        let fields: Vec<_> = bad.validate("user").into_iter().map(|v| v.field).collect();
        assert_eq!(
            fields,
            [
                "user.user_name",
                "user.email",
                "user.attributes.Department",
                "user.attributes.team"
            ]
        );
    }

    #[test]
    fn normalising_fills_display_name_and_dedups_values() {
        let mut d = draft();
        d.attributes
            .insert("team".into(), vec!["a".into(), " a ".into(), "b".into()]);
        let n = d.normalized();
        assert_eq!(n.display_name, "ada");
        assert_eq!(n.attributes["team"], ["a", "b"]);
    }
}
