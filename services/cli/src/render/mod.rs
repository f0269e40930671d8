//! How each proto message reads: a `Serialize` view for JSON (prost types do not derive it) and
//! table renderings for people.

pub mod catalog;
pub mod change;
pub mod flow;
pub mod group;
pub mod request;
pub mod schedule;
pub mod subject;
pub mod token;
pub mod user;

use latch_proto::common::v1::Role;

/// `ROLE_ADMIN` → `admin`; an unknown number is shown as is.
pub fn role_name(role: i32) -> String {
    enum_name(Role::try_from(role).ok().map(|role| role.as_str_name()), "ROLE_", role)
}

pub fn role_names(roles: &[i32]) -> Vec<String> {
    roles.iter().map(|role| role_name(*role)).collect()
}

/// Strips the proto enum prefix and lower-cases the rest.
pub fn enum_name(name: Option<&str>, prefix: &str, number: i32) -> String {
    match name {
        Some(name) => name.strip_prefix(prefix).unwrap_or(name).to_lowercase(),
        None => number.to_string(),
    }
}

/// `None` for an empty string, so JSON says `null` rather than `""`.
pub fn optional(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_as_lower_case_words() {
        assert_eq!(
            role_names(&[Role::Admin as i32, Role::Auditor as i32, Role::User as i32]),
            ["admin", "auditor", "user"]
        );
        assert_eq!(role_name(42), "42");
    }
}
