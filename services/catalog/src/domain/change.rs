//! The catalog change feed: every write appends changes with strictly increasing sequence
//! numbers, so other contexts can follow the catalog from a cursor without reading its tables.

use chrono::{DateTime, Utc};

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    SpaceCreated,
    SpaceDeleted,
    IntegrationCreated,
    IntegrationUpdated,
    IntegrationDeleted,
    /// A sync replaced what the integration's resources are.
    IntegrationSynced,
    /// An integration's status or last sync result was recorded.
    IntegrationStatusChanged,
    /// A resource's tags or owners changed.
    ResourceUpdated,
    BundleCreated,
    BundleDeleted,
    ScopeCreated,
    ScopeDeleted,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 12] = [
        ChangeKind::SpaceCreated,
        ChangeKind::SpaceDeleted,
        ChangeKind::IntegrationCreated,
        ChangeKind::IntegrationUpdated,
        ChangeKind::IntegrationDeleted,
        ChangeKind::IntegrationSynced,
        ChangeKind::IntegrationStatusChanged,
        ChangeKind::ResourceUpdated,
        ChangeKind::BundleCreated,
        ChangeKind::BundleDeleted,
        ChangeKind::ScopeCreated,
        ChangeKind::ScopeDeleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::SpaceCreated => "space_created",
            ChangeKind::SpaceDeleted => "space_deleted",
            ChangeKind::IntegrationCreated => "integration_created",
            ChangeKind::IntegrationUpdated => "integration_updated",
            ChangeKind::IntegrationDeleted => "integration_deleted",
            ChangeKind::IntegrationSynced => "integration_synced",
            ChangeKind::IntegrationStatusChanged => "integration_status_changed",
            ChangeKind::ResourceUpdated => "resource_updated",
            ChangeKind::BundleCreated => "bundle_created",
            ChangeKind::BundleDeleted => "bundle_deleted",
            ChangeKind::ScopeCreated => "scope_created",
            ChangeKind::ScopeDeleted => "scope_deleted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// One committed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub sequence: i64,
    pub at: DateTime<Utc>,
    pub kind: ChangeKind,
    /// `spaces/{id}`, `integrations/{id}`, `integrations/{id}/resources/{id}`, `bundles/{id}`,
    /// `accessScopes/{id}`.
    pub resource: String,
    /// `users/{id}`, or `system/{name}` for Latch's own work (scheduled syncs).
    pub actor: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_name() {
        for kind in ChangeKind::ALL {
            assert_eq!(ChangeKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ChangeKind::parse("nonsense"), None);
    }
}
