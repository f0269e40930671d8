//! What a connector deals in, free of transport types.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// An integration's configuration: field name to value, secrets included.
pub type Config = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    pub name: String,
    pub description: String,
    pub permissions: Vec<Permission>,
}

impl ResourceType {
    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p.name == permission)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigField {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub secret: bool,
    pub default_value: String,
    /// For numeric settings, the values accepted (see [`crate::NumberRange`]).
    pub range: Option<crate::NumberRange>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub name: String,
    pub version: String,
    pub resource_types: Vec<ResourceType>,
    pub config_fields: Vec<ConfigField>,
}

impl Description {
    pub fn resource_type(&self, name: &str) -> Option<&ResourceType> {
        self.resource_types.iter().find(|t| t.name == name)
    }

    pub fn secret_fields(&self) -> impl Iterator<Item = &str> {
        self.config_fields.iter().filter(|f| f.secret).map(|f| f.name.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resource {
    pub id: String,
    pub name: String,
    pub path: String,
    pub parent_id: String,
    pub resource_type: String,
    pub tags: BTreeMap<String, String>,
    pub owner_hint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grantee {
    pub user_id: String,
    pub user_name: String,
    pub email: String,
    pub attributes: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRequest {
    pub grant_id: String,
    pub grantee: Grantee,
    pub resource_type: String,
    pub resource_id: String,
    pub permission: String,
    /// `None`: indefinite.
    pub expires_at: Option<DateTime<Utc>>,
    pub context: BTreeMap<String, String>,
}

/// What a grant gives the grantee. `credentials` is secret as a whole.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct GrantOutcome {
    pub account: String,
    pub credentials: BTreeMap<String, String>,
}

impl std::fmt::Debug for GrantOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrantOutcome")
            .field("account", &self.account)
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub grant_id: String,
    pub resource_type: String,
    pub resource_id: String,
    pub permission: String,
    pub account: String,
    pub expires_at: Option<DateTime<Utc>>,
}
