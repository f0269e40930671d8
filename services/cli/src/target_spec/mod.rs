//! Target SPECs, one string per target on the command line:
//!
//! ```text
//! SPEC      = INTEGRATION "/" TYPE ":" PERMS [ "@" SELECTION ]
//! PERMS     = PERM { "," PERM }
//! SELECTION = "any" | "only:" ITEMS | "except:" ITEMS      (default: any)
//! ITEMS     = ITEM { ";" ITEM }
//! ITEM      = "id=" ID | "name=" NAME | "tag=" KEY [ "=" VALUE { "|" VALUE } ]
//! ```
//!
//! e.g. `prod-pg/table:read@only:tag=env=prod|staging;name=orders`. The spec is split at the
//! first `@`, so resource ids and names in the selection may hold `/`, `:`, `=` and `@`, but not
//! `;`. Integration names and resource types may not hold `/`, `:` or `@`.

mod scope;
mod selection;

use std::fmt;
use std::str::FromStr;

use latch_proto::catalog::v1::IntegrationTarget;

pub use scope::ScopeTargetSpec;
pub use selection::{SelectionItem, SelectionSpec};

pub const TARGET_SYNTAX: &str = "INTEGRATION/TYPE:PERM[,PERM...][@SELECTION], SELECTION being `any` \
(the default), `only:ITEMS` or `except:ITEMS`, ITEMS being `;`-separated `id=ID`, `name=NAME` or \
`tag=KEY[=V1|V2...]`; e.g. prod-pg/table:read@only:tag=env=prod|staging;name=orders";

/// One integration target, parsed and checked; the server still checks that the integration,
/// type and permissions exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub integration: String,
    pub resource_type: String,
    pub permissions: Vec<String>,
    pub selection: SelectionSpec,
}

/// Why a spec is wrong, followed by the expected syntax. clap names the flag and the value
/// before it: `invalid value 'pg/table' for '--target <SPEC>': no ':' between …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpecError {
    reason: String,
    syntax: &'static str,
}

impl TargetSpecError {
    fn new(reason: impl Into<String>, syntax: &'static str) -> Self {
        Self {
            reason: reason.into(),
            syntax,
        }
    }
}

impl fmt::Display for TargetSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n  expected {}", self.reason, self.syntax)
    }
}

impl std::error::Error for TargetSpecError {}

impl TargetSpec {
    pub fn to_proto(&self) -> IntegrationTarget {
        IntegrationTarget {
            integration: self.integration.clone(),
            resource_type: self.resource_type.clone(),
            permissions: self.permissions.clone(),
            selection: Some(self.selection.to_proto()),
        }
    }

    pub fn from_proto(target: &IntegrationTarget) -> Self {
        Self {
            integration: target.integration.clone(),
            resource_type: target.resource_type.clone(),
            permissions: target.permissions.clone(),
            selection: target
                .selection
                .as_ref()
                .map(SelectionSpec::from_proto)
                .unwrap_or_default(),
        }
    }
}

/// The canonical spelling: `@any` is left out, selection items come ids first, then names,
/// then tags.
impl fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}:{}",
            self.integration,
            self.resource_type,
            self.permissions.join(",")
        )?;
        match self.selection {
            SelectionSpec::Any => Ok(()),
            _ => write!(f, "@{}", self.selection),
        }
    }
}

impl FromStr for TargetSpec {
    type Err = TargetSpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let spec = text.trim();
        let fail = |reason: String| TargetSpecError::new(reason, TARGET_SYNTAX);
        let (head, selection) = match spec.split_once('@') {
            Some((head, selection)) => (head, Some(selection)),
            None => (spec, None),
        };
        let (integration, rest) = head
            .split_once('/')
            .ok_or_else(|| fail("no '/' between the integration and the resource type".into()))?;
        let (resource_type, permissions) = rest
            .split_once(':')
            .ok_or_else(|| fail("no ':' between the resource type and the permissions".into()))?;
        let integration = integration.trim();
        if integration.is_empty() {
            return Err(fail("the integration is empty".into()));
        }
        let resource_type = resource_type.trim();
        if resource_type.is_empty() {
            return Err(fail("the resource type is empty".into()));
        }
        if resource_type.contains('/') {
            return Err(fail(format!("the resource type {resource_type:?} contains '/'")));
        }
        let permissions = parse_permissions(permissions).map_err(fail)?;
        let selection = match selection {
            Some(selection) => selection.parse().map_err(fail)?,
            None => SelectionSpec::Any,
        };
        Ok(Self {
            integration: integration.to_string(),
            resource_type: resource_type.to_string(),
            permissions,
            selection,
        })
    }
}

/// `read,write`: at least one, none empty, in the order given.
fn parse_permissions(text: &str) -> Result<Vec<String>, String> {
    if text.trim().is_empty() {
        return Err("no permissions after ':'".into());
    }
    text.split(',')
        .map(|permission| {
            let permission = permission.trim();
            if permission.is_empty() {
                return Err(format!("the permission list {text:?} has an empty entry"));
            }
            Ok(permission.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests;
