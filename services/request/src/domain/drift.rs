//! Drift between Latch's records and a target system: grants the system holds that Latch does
//! not know as open (orphans), and grants Latch holds as given that the system does not have
//! (missing).

use std::collections::BTreeSet;

/// A grant as the connector lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub grant_id: String,
    pub resource_id: String,
    pub permission: String,
    pub account: String,
}

/// A shared grant as Latch records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub hold_id: String,
    /// Latch considers it given (not still being made, nor being revoked).
    pub given: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// At the system, unknown to Latch or already ended in its records.
    pub orphans: Vec<Listed>,
    /// Given in Latch's records, absent at the system (hold ids).
    pub missing: Vec<String>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.orphans.is_empty() && self.missing.is_empty()
    }
}

/// Compares one integration's listing with Latch's open holds there. Grants being made or
/// revoked right now are in flight: they count neither way.
pub fn compare(listed: &[Listed], recorded: &[Recorded]) -> Drift {
    let open: BTreeSet<&str> = recorded.iter().map(|r| r.hold_id.as_str()).collect();
    let present: BTreeSet<&str> = listed.iter().map(|l| l.grant_id.as_str()).collect();
    Drift {
        orphans: listed
            .iter()
            .filter(|l| !open.contains(l.grant_id.as_str()))
            .cloned()
            .collect(),
        missing: recorded
            .iter()
            .filter(|r| r.given && !present.contains(r.hold_id.as_str()))
            .map(|r| r.hold_id.clone())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(id: &str) -> Listed {
        Listed {
            grant_id: id.into(),
            resource_id: "t".into(),
            permission: "read".into(),
            account: "a".into(),
        }
    }

    fn recorded(id: &str, given: bool) -> Recorded {
        Recorded {
            hold_id: id.into(),
            given,
        }
    }

    #[test]
    fn orphans_and_missing_grants_are_told_apart() {
        let drift = compare(
            &[listed("h1"), listed("stray")],
            &[recorded("h1", true), recorded("h2", true), recorded("h3", false)],
        );
        assert_eq!(drift.orphans, vec![listed("stray")]);
        assert_eq!(drift.missing, vec!["h2".to_string()], "h3 is still being made");
    }

    #[test]
    fn in_step_is_no_drift() {
        assert!(compare(&[listed("h1")], &[recorded("h1", true)]).is_empty());
        assert!(compare(&[], &[]).is_empty());
        // Being revoked: at the system still, and not missing either.
        assert!(compare(&[listed("h4")], &[recorded("h4", false)]).is_empty());
    }
}
