//! Why a person does not meet a condition, as words a person reads: the negation of the row
//! ("department is not Engineering", "not in group sre", "title starts with none of eng, ops"),
//! grammatical for every operator and for one value or several.

use crate::conditions::{Attribute, Condition, Operator};

/// Alternatives in words: "Engineering" or "Engineering, Sales".
fn listed(values: &[String]) -> String {
    values.join(", ")
}

impl Condition {
    /// What is true of a person this row does not hold for.
    pub fn describe_unmet(&self) -> String {
        let one = self.values.len() == 1;
        let values = listed(&self.values);
        if self.attribute == Attribute::Group {
            return match (self.operator, one) {
                (Operator::Is, true) => format!("not in group {values}"),
                (Operator::Is, false) => format!("in none of the groups {values}"),
                (Operator::IsNot, true) => format!("in group {values}"),
                (Operator::IsNot, false) => format!("in one of the groups {values}"),
                (Operator::Contains, _) => format!("in no group whose name contains {}", or_list(&self.values)),
                (Operator::DoesNotContain, _) => format!("in a group whose name contains {}", or_list(&self.values)),
                (Operator::StartsWith, _) => format!("in no group whose name starts with {}", or_list(&self.values)),
            };
        }
        let attribute = self.attribute.label();
        if self.values.is_empty() {
            return format!("{attribute} matches no value the flow lists");
        }
        match (self.operator, one) {
            (Operator::Is, true) => format!("{attribute} is not {values}"),
            (Operator::Is, false) => format!("{attribute} is none of {values}"),
            (Operator::IsNot, true) => format!("{attribute} is {values}"),
            (Operator::IsNot, false) => format!("{attribute} is one of {values}"),
            (Operator::Contains, true) => format!("{attribute} does not contain {values}"),
            (Operator::Contains, false) => format!("{attribute} contains none of {values}"),
            (Operator::DoesNotContain, true) => format!("{attribute} contains {values}"),
            (Operator::DoesNotContain, false) => format!("{attribute} contains one of {values}"),
            (Operator::StartsWith, true) => format!("{attribute} does not start with {values}"),
            (Operator::StartsWith, false) => format!("{attribute} starts with none of {values}"),
        }
    }
}

/// "a", "a or b", "a, b or c".
fn or_list(values: &[String]) -> String {
    match values {
        [] => String::new(),
        [only] => only.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(attribute: &str, operator: Operator, values: &[&str]) -> Condition {
        Condition {
            attribute: Attribute::parse(attribute),
            operator,
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn every_operator_reads_as_a_sentence_with_one_value() {
        let cases = [
            (Operator::Is, "department is not Engineering"),
            (Operator::IsNot, "department is Engineering"),
            (Operator::Contains, "department does not contain Engineering"),
            (Operator::DoesNotContain, "department contains Engineering"),
            (Operator::StartsWith, "department does not start with Engineering"),
        ];
        for (operator, words) in cases {
            assert_eq!(row("department", operator, &["Engineering"]).describe_unmet(), words);
        }
    }

    #[test]
    fn every_operator_reads_as_a_sentence_with_several_values() {
        let cases = [
            (Operator::Is, "title is none of SRE, DBA"),
            (Operator::IsNot, "title is one of SRE, DBA"),
            (Operator::Contains, "title contains none of SRE, DBA"),
            (Operator::DoesNotContain, "title contains one of SRE, DBA"),
            (Operator::StartsWith, "title starts with none of SRE, DBA"),
        ];
        for (operator, words) in cases {
            assert_eq!(row("title", operator, &["SRE", "DBA"]).describe_unmet(), words);
        }
    }

    #[test]
    fn groups_read_as_membership() {
        let cases = [
            (Operator::Is, &["sre"][..], "not in group sre"),
            (Operator::Is, &["sre", "dba"][..], "in none of the groups sre, dba"),
            (Operator::IsNot, &["sre"][..], "in group sre"),
            (Operator::IsNot, &["sre", "dba"][..], "in one of the groups sre, dba"),
            (
                Operator::Contains,
                &["ops", "eng"][..],
                "in no group whose name contains ops or eng",
            ),
            (
                Operator::DoesNotContain,
                &["ops"][..],
                "in a group whose name contains ops",
            ),
            (
                Operator::StartsWith,
                &["a", "b", "c"][..],
                "in no group whose name starts with a, b or c",
            ),
        ];
        for (operator, values, words) in cases {
            assert_eq!(row("group", operator, values).describe_unmet(), words);
        }
    }

    #[test]
    fn the_user_row_names_the_user() {
        assert_eq!(row("user", Operator::Is, &["ada"]).describe_unmet(), "user is not ada");
    }
}
