//! The change feed on the wire.

use latch_proto::catalog::v1 as pb;
use pb::catalog_change::Kind;

use crate::domain::change::{Change, ChangeKind};

fn kind(kind: ChangeKind) -> Kind {
    match kind {
        ChangeKind::SpaceCreated => Kind::SpaceCreated,
        ChangeKind::SpaceDeleted => Kind::SpaceDeleted,
        ChangeKind::IntegrationCreated => Kind::IntegrationCreated,
        ChangeKind::IntegrationUpdated => Kind::IntegrationUpdated,
        ChangeKind::IntegrationDeleted => Kind::IntegrationDeleted,
        ChangeKind::IntegrationSynced => Kind::IntegrationSynced,
        ChangeKind::IntegrationStatusChanged => Kind::IntegrationStatusChanged,
        ChangeKind::ResourceUpdated => Kind::ResourceUpdated,
        ChangeKind::BundleCreated => Kind::BundleCreated,
        ChangeKind::BundleDeleted => Kind::BundleDeleted,
        ChangeKind::ScopeCreated => Kind::ScopeCreated,
        ChangeKind::ScopeDeleted => Kind::ScopeDeleted,
    }
}

pub fn change(change: Change) -> pb::CatalogChange {
    pb::CatalogChange {
        sequence: change.sequence,
        at: Some(latch_runtime::wire::timestamp(change.at)),
        kind: kind(change.kind) as i32,
        resource: change.resource,
        actor: change.actor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_wire_value() {
        let values: std::collections::BTreeSet<i32> = ChangeKind::ALL.iter().map(|k| kind(*k) as i32).collect();
        assert_eq!(values.len(), ChangeKind::ALL.len());
        assert!(!values.contains(&(Kind::Unspecified as i32)));
    }
}
