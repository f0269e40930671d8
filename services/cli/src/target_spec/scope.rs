//! `--scope SCOPE:PERM[,PERM...]` of `targets resolve`: an access scope and the permissions to
//! grant on every resource it matches.

use std::str::FromStr;

use latch_proto::catalog::v1::ScopeTarget;

use super::{TargetSpecError, parse_permissions};

pub const SCOPE_TARGET_SYNTAX: &str = "SCOPE:PERM[,PERM...], e.g. prod-tables:read,write";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeTargetSpec {
    pub scope: String,
    pub permissions: Vec<String>,
}

impl ScopeTargetSpec {
    pub fn to_proto(&self) -> ScopeTarget {
        ScopeTarget {
            scope: self.scope.clone(),
            permissions: self.permissions.clone(),
        }
    }
}

impl FromStr for ScopeTargetSpec {
    type Err = TargetSpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let spec = text.trim();
        let fail = |reason: String| TargetSpecError::new(reason, SCOPE_TARGET_SYNTAX);
        let (scope, permissions) = spec
            .split_once(':')
            .ok_or_else(|| fail("no ':' between the scope and the permissions".into()))?;
        let scope = scope.trim();
        if scope.is_empty() {
            return Err(fail("the scope is empty".into()));
        }
        Ok(Self {
            scope: scope.to_string(),
            permissions: parse_permissions(permissions).map_err(fail)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_scope_and_its_permissions() {
        let spec: ScopeTargetSpec = "prod-tables:read, write".parse().unwrap();
        assert_eq!(spec.scope, "prod-tables");
        assert_eq!(spec.permissions, ["read", "write"]);
        assert_eq!(spec.to_proto().permissions, ["read", "write"]);
    }

    #[test]
    fn rejects_missing_parts_showing_the_syntax() {
        for (bad, reason) in [
            ("prod-tables", "no ':'"),
            (":read", "scope is empty"),
            ("prod-tables:", "no permissions"),
            ("prod-tables:read,", "empty entry"),
        ] {
            let message = bad.parse::<ScopeTargetSpec>().unwrap_err().to_string();
            assert!(message.contains(reason), "{bad:?}: {message}");
            assert!(message.contains("expected SCOPE:PERM"), "{bad:?}: {message}");
        }
    }
}
