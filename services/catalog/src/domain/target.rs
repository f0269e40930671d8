//! Targets: what a flow (or a bundle) gives access to.

use serde::{Deserialize, Serialize};

use super::tags::TagSelector;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SelectionMode {
    Any,
    Include,
    Exclude,
}

/// Which resources of a type a target covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    pub mode: SelectionMode,
    pub resource_ids: Vec<String>,
    pub resource_names: Vec<String>,
    pub tags: Vec<TagSelector>,
}

impl Selection {
    pub fn any() -> Self {
        Self {
            mode: SelectionMode::Any,
            resource_ids: Vec::new(),
            resource_names: Vec::new(),
            tags: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.resource_ids.is_empty() && self.resource_names.is_empty() && self.tags.is_empty()
    }
}

/// An integration's resources of one type, with permissions. `integration` is an id once
/// stored (names are resolved on the way in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationTarget {
    pub integration: String,
    pub resource_type: String,
    pub permissions: Vec<String>,
    pub selection: Selection,
}

/// A saved query over resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AccessScopeQuery {
    /// Integration ids; empty for all.
    pub integrations: Vec<String>,
    pub resource_types: Vec<String>,
    pub name_patterns: Vec<String>,
    pub include_tags: Vec<TagSelector>,
    pub exclude_tags: Vec<TagSelector>,
}

/// What ResolveTargets takes, references already resolved to ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Integration(IntegrationTarget),
    Bundle(String),
    Scope { scope: String, permissions: Vec<String> },
}

/// One concrete thing a grant is made for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResolvedItem {
    pub integration_id: String,
    pub resource_id: String,
    pub permission: String,
    pub resource_type: String,
    pub resource_path: String,
}
