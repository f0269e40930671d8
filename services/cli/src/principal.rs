//! Principals on the command line: `alice` or `user:alice` is a user, `group:sre` a group. Ids
//! and names are both accepted as they are; the server resolves names.

use std::fmt;
use std::str::FromStr;

use latch_proto::catalog::v1::{Principal, principal::Kind};

pub const PRINCIPAL_SYNTAX: &str = "USER, user:USER or group:GROUP";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalArg {
    User(String),
    Group(String),
}

impl PrincipalArg {
    pub fn to_proto(&self) -> Principal {
        let (kind, id) = match self {
            Self::User(id) => (Kind::User, id),
            Self::Group(id) => (Kind::Group, id),
        };
        Principal {
            kind: kind as i32,
            id: id.clone(),
        }
    }
}

impl fmt::Display for PrincipalArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(id) => write!(f, "user:{id}"),
            Self::Group(id) => write!(f, "group:{id}"),
        }
    }
}

impl FromStr for PrincipalArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (make, id): (fn(String) -> Self, &str) = match text.split_once(':') {
            None => (Self::User, text),
            Some(("user", id)) => (Self::User, id),
            Some(("group", id)) => (Self::Group, id),
            Some((kind, _)) => {
                return Err(format!(
                    "{text:?} names an unknown kind {kind:?}; expected {PRINCIPAL_SYNTAX}"
                ));
            }
        };
        let id = id.trim();
        if id.is_empty() {
            return Err(format!("{text:?} names nobody; expected {PRINCIPAL_SYNTAX}"));
        }
        Ok(make(id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PrincipalArg, String> {
        text.parse()
    }

    #[test]
    fn bare_names_and_user_prefix_are_users() {
        assert_eq!(parse("alice"), Ok(PrincipalArg::User("alice".into())));
        assert_eq!(parse("user:alice"), Ok(PrincipalArg::User("alice".into())));
        assert_eq!(parse(" user: u-123 "), Ok(PrincipalArg::User("u-123".into())));
        assert_eq!(
            parse("ada@example.com"),
            Ok(PrincipalArg::User("ada@example.com".into()))
        );
    }

    #[test]
    fn group_prefix_is_a_group() {
        assert_eq!(parse("group:sre"), Ok(PrincipalArg::Group("sre".into())));
        let proto = parse("group:sre").unwrap().to_proto();
        assert_eq!(proto.kind, Kind::Group as i32);
        assert_eq!(proto.id, "sre");
        assert_eq!(parse("alice").unwrap().to_proto().kind, Kind::User as i32);
    }

    #[test]
    fn rejects_unknown_kinds_and_empty_names() {
        for bad in [
            "",
            "  ",
            "user:",
            "group:",
            "group: ",
            "team:sre",
            "Group:sre",
            ":alice",
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains(PRINCIPAL_SYNTAX), "{bad:?}: {error}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in ["user:alice", "group:sre"] {
            assert_eq!(parse(text).unwrap().to_string(), text);
        }
    }
}
