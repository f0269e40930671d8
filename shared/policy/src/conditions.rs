//! Conditions on people: rows of attribute × operator × values, combined with AND or OR.
//!
//! The rule for multi-valued attributes (groups, multi-valued identity attributes, and the user,
//! which matches by id, user name or email): a row with a positive operator (`is`, `contains`,
//! `starts_with`) holds when ANY of the subject's values matches ANY of the row's values; the
//! negative operators (`is_not`, `does_not_contain`) are exactly the negation of their positive
//! twin, so they hold when NONE of the subject's values matches any row value (and hold for a
//! subject that has no value at all). Comparisons ignore case.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a row looks at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribute {
    /// The user: id, user name or email.
    User,
    /// Any group the user belongs to, directly or through nesting: id or name.
    Group,
    /// An identity attribute: department, title, employment_type, location or a custom key.
    #[serde(untagged)]
    Named(String),
}

impl Attribute {
    pub fn parse(text: &str) -> Self {
        match text.trim() {
            "user" => Attribute::User,
            "group" => Attribute::Group,
            other => Attribute::Named(other.to_string()),
        }
    }

    pub fn label(&self) -> &str {
        match self {
            Attribute::User => "user",
            Attribute::Group => "group",
            Attribute::Named(name) => name,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Is,
    IsNot,
    Contains,
    DoesNotContain,
    StartsWith,
}

impl Operator {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_lowercase().replace([' ', '-'], "_").as_str() {
            "is" => Operator::Is,
            "is_not" => Operator::IsNot,
            "contains" => Operator::Contains,
            "does_not_contain" => Operator::DoesNotContain,
            "starts_with" => Operator::StartsWith,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Operator::Is => "is",
            Operator::IsNot => "is not",
            Operator::Contains => "contains",
            Operator::DoesNotContain => "does not contain",
            Operator::StartsWith => "starts with",
        }
    }

    /// The positive operator this one negates, if it is negative.
    fn positive(self) -> (Operator, bool) {
        match self {
            Operator::IsNot => (Operator::Is, true),
            Operator::DoesNotContain => (Operator::Contains, true),
            other => (other, false),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    pub attribute: Attribute,
    pub operator: Operator,
    /// Alternatives: the row holds for any of them.
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    #[default]
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conditions {
    #[serde(default)]
    pub combine: Combine,
    pub rows: Vec<Condition>,
}

/// What conditions are evaluated against: one person's facts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    pub user_id: String,
    pub user_name: String,
    pub email: String,
    /// Transitive groups as (id, name).
    pub groups: Vec<(String, String)>,
    pub attributes: BTreeMap<String, Vec<String>>,
    pub manager_id: Option<String>,
}

impl Facts {
    /// The subject's values for an attribute, lowercased.
    pub fn values(&self, attribute: &Attribute) -> Vec<String> {
        let lower = |s: &String| s.to_lowercase();
        match attribute {
            Attribute::User => [&self.user_id, &self.user_name, &self.email]
                .into_iter()
                .filter(|s| !s.is_empty())
                .map(lower)
                .collect(),
            Attribute::Group => self
                .groups
                .iter()
                .flat_map(|(id, name)| [lower(id), lower(name)])
                .collect(),
            Attribute::Named(key) => self
                .attributes
                .get(key)
                .map(|v| v.iter().map(lower).collect())
                .unwrap_or_default(),
        }
    }
}

impl Condition {
    pub fn holds(&self, facts: &Facts) -> bool {
        let subject = facts.values(&self.attribute);
        let (positive, negated) = self.operator.positive();
        let any = self.values.iter().map(|v| v.to_lowercase()).any(|wanted| {
            subject.iter().any(|have| match positive {
                Operator::Is => *have == wanted,
                Operator::Contains => have.contains(&wanted),
                Operator::StartsWith => have.starts_with(&wanted),
                Operator::IsNot | Operator::DoesNotContain => false,
            })
        });
        any != negated
    }

    /// "department is not Engineering".
    pub fn describe(&self) -> String {
        format!(
            "{} {} {}",
            self.attribute.label(),
            self.operator.label(),
            self.values.join(" or ")
        )
    }
}

impl Conditions {
    pub fn holds(&self, facts: &Facts) -> bool {
        match self.combine {
            Combine::And => self.rows.iter().all(|row| row.holds(facts)),
            Combine::Or => self.rows.iter().any(|row| row.holds(facts)),
        }
    }

    /// Why the conditions do not hold, in words: what is true of the person for each failing
    /// row (AND), or for every row (OR, when none holds). Empty when they hold.
    pub fn failures(&self, facts: &Facts) -> Vec<String> {
        match self.combine {
            Combine::And => self
                .rows
                .iter()
                .filter(|r| !r.holds(facts))
                .map(Condition::describe_unmet)
                .collect(),
            Combine::Or if self.holds(facts) => Vec::new(),
            Combine::Or if self.rows.is_empty() => vec!["no requestor row is given".to_string()],
            Combine::Or => self.rows.iter().map(Condition::describe_unmet).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn facts() -> Facts {
        Facts {
            user_id: "u1".into(),
            user_name: "ada".into(),
            email: "ada@example.com".into(),
            groups: vec![("g1".into(), "sre".into()), ("g2".into(), "engineering".into())],
            attributes: BTreeMap::from([
                ("department".into(), vec!["Engineering".into()]),
                ("skills".into(), vec!["rust".into(), "go".into()]),
            ]),
            manager_id: None,
        }
    }

    fn row(attribute: &str, operator: Operator, values: &[&str]) -> Condition {
        Condition {
            attribute: Attribute::parse(attribute),
            operator,
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn operators_follow_the_documented_rule() {
        let f = facts();
        assert!(
            row("group", Operator::Is, &["SRE"]).holds(&f),
            "names, case-insensitive"
        );
        assert!(row("group", Operator::Is, &["g2"]).holds(&f), "ids too");
        assert!(
            !row("group", Operator::IsNot, &["sre", "finance"]).holds(&f),
            "is not = none matches"
        );
        assert!(row("group", Operator::IsNot, &["finance"]).holds(&f));
        assert!(row("user", Operator::Is, &["ada@example.com"]).holds(&f));
        assert!(row("department", Operator::StartsWith, &["eng"]).holds(&f));
        assert!(
            row("skills", Operator::Contains, &["us"]).holds(&f),
            "any value of a multi-valued attribute"
        );
        assert!(row("skills", Operator::DoesNotContain, &["java"]).holds(&f));
        assert!(
            !row("title", Operator::Is, &["x"]).holds(&f),
            "a missing attribute matches nothing"
        );
        assert!(row("title", Operator::IsNot, &["x"]).holds(&f), "and is not anything");
    }

    #[test]
    fn rows_combine_with_and_or_or_and_explain_failures() {
        let f = facts();
        let both = Conditions {
            combine: Combine::And,
            rows: vec![
                row("group", Operator::Is, &["sre"]),
                row("department", Operator::Is, &["Finance"]),
            ],
        };
        assert!(!both.holds(&f));
        assert_eq!(both.failures(&f), ["department is not Finance"]);
        let either = Conditions {
            combine: Combine::Or,
            ..both
        };
        assert!(either.holds(&f));
        assert!(either.failures(&f).is_empty());
    }

    proptest! {
        /// Negative operators are exactly the negation of their positive twins.
        #[test]
        fn negations_are_exact(values in prop::collection::vec("[a-c]{0,3}", 0..4), have in prop::collection::vec("[a-c]{0,3}", 0..4)) {
            let facts = Facts { attributes: BTreeMap::from([("k".to_string(), have)]), ..Facts::default() };
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            prop_assert_eq!(row("k", Operator::IsNot, &values).holds(&facts), !row("k", Operator::Is, &values).holds(&facts));
            prop_assert_eq!(row("k", Operator::DoesNotContain, &values).holds(&facts), !row("k", Operator::Contains, &values).holds(&facts));
        }
    }
}
