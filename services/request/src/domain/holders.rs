//! Overlapping grants share one connector grant: for each (grantee, integration, resource,
//! permission) the requests holding it are counted, the connector is called to grant when the
//! first holder arrives and to revoke only when the last one leaves. A later holder with a later
//! end moves the connector grant's expiry out, never in.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// What one shared connector grant is held by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holders {
    /// Request id → when its access ends (`None`: indefinite).
    held_by: BTreeMap<String, Option<DateTime<Utc>>>,
}

/// What the connector must be told after a change of holders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorAction {
    /// First holder: grant until this end.
    Grant(Option<DateTime<Utc>>),
    /// The latest end moved: extend to it.
    Extend(Option<DateTime<Utc>>),
    /// The last holder left.
    Revoke,
    Nothing,
}

impl Holders {
    pub fn is_empty(&self) -> bool {
        self.held_by.is_empty()
    }

    /// The connector grant must last until the latest holder's end (`None` wins: indefinite).
    pub fn latest_end(&self) -> Option<Option<DateTime<Utc>>> {
        if self.held_by.is_empty() {
            return None;
        }
        if self.held_by.values().any(Option::is_none) {
            return Some(None);
        }
        Some(self.held_by.values().flatten().max().copied())
    }

    /// `request` holds (or re-holds with a new end) the grant.
    pub fn acquire(&mut self, request: &str, ends: Option<DateTime<Utc>>) -> ConnectorAction {
        let before = self.latest_end();
        self.held_by.insert(request.to_string(), ends);
        match (before, self.latest_end()) {
            (None, Some(end)) => ConnectorAction::Grant(end),
            (Some(old), Some(new)) if extends(old, new) => ConnectorAction::Extend(new),
            _ => ConnectorAction::Nothing,
        }
    }

    /// `request` no longer holds the grant (expired, revoked, failed).
    pub fn release(&mut self, request: &str) -> ConnectorAction {
        if self.held_by.remove(request).is_none() {
            return ConnectorAction::Nothing;
        }
        if self.held_by.is_empty() {
            ConnectorAction::Revoke
        } else {
            ConnectorAction::Nothing
        }
    }
}

/// Whether `new` is a later end than `old` (indefinite is the latest).
fn extends(old: Option<DateTime<Utc>>, new: Option<DateTime<Utc>>) -> bool {
    match (old, new) {
        (Some(old), Some(new)) => new > old,
        (Some(_), None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};
    use proptest::prelude::*;

    use super::*;

    fn at(hours: i64) -> Option<DateTime<Utc>> {
        Some(Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap() + TimeDelta::hours(hours))
    }

    #[test]
    fn the_last_holder_revokes_and_later_ends_extend() {
        let mut holders = Holders::default();
        assert_eq!(holders.acquire("r1", at(1)), ConnectorAction::Grant(at(1)));
        assert_eq!(holders.acquire("r2", at(3)), ConnectorAction::Extend(at(3)));
        assert_eq!(
            holders.acquire("r3", at(2)),
            ConnectorAction::Nothing,
            "an earlier end never shortens"
        );
        assert_eq!(
            holders.release("r1"),
            ConnectorAction::Nothing,
            "overlapping grants are not revoked early"
        );
        assert_eq!(holders.release("r2"), ConnectorAction::Nothing);
        assert_eq!(
            holders.release("r2"),
            ConnectorAction::Nothing,
            "releasing twice is harmless"
        );
        assert_eq!(holders.release("r3"), ConnectorAction::Revoke);
        assert_eq!(holders.acquire("r4", None), ConnectorAction::Grant(None));
    }

    proptest! {
        /// Revoke happens exactly when the last holder leaves, and the grant is never revoked
        /// while someone holds it.
        #[test]
        fn revoke_exactly_when_empty(ops in prop::collection::vec((any::<bool>(), 0u8..4, 0i64..5), 0..40)) {
            let mut holders = Holders::default();
            let mut live = std::collections::BTreeSet::new();
            for (acquire, who, hours) in ops {
                let id = format!("r{who}");
                if acquire {
                    let was_empty = live.is_empty();
                    let action = holders.acquire(&id, at(hours));
                    live.insert(id);
                    prop_assert_eq!(matches!(action, ConnectorAction::Grant(_)), was_empty);
                } else {
                    let held = live.remove(&id);
                    let action = holders.release(&id);
                    prop_assert_eq!(action == ConnectorAction::Revoke, held && live.is_empty());
                }
                prop_assert_eq!(holders.is_empty(), live.is_empty());
            }
        }
    }
}
