use std::collections::{BTreeMap, HashMap};

use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::domain::group::Group;
use crate::domain::user::User;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()
}

fn user(id: &str, manager: Option<&str>) -> User {
    User {
        id: id.into(),
        user_name: format!("{id}-name"),
        email: String::new(),
        display_name: id.into(),
        active: true,
        attributes: BTreeMap::new(),
        manager_id: manager.map(Into::into),
        external_id: None,
        granted_roles: Vec::new(),
        scim_extra: Default::default(),
        created_at: at(),
        updated_at: at(),
        version: 1,
    }
}

fn group(id: &str) -> Group {
    Group {
        id: id.into(),
        display_name: format!("{id}-group"),
        external_id: None,
        created_at: at(),
        updated_at: at(),
        version: 1,
    }
}

#[test]
fn nested_groups_resolve_transitively() {
    let mut dir = Directory::new("admins-group", "");
    dir.upsert_user(user("u1", None));
    for g in ["a", "b", "c", "d"] {
        dir.upsert_group(group(g));
    }
    dir.add_member("a", MemberKind::User, "u1");
    dir.add_member("b", MemberKind::Group, "a");
    dir.add_member("c", MemberKind::Group, "b");
    let ids = dir.transitive_group_ids("u1");
    let mut ids: Vec<_> = ids.into_iter().collect();
    ids.sort();
    assert_eq!(ids, ["a", "b", "c"]);
    dir.remove_member("b", MemberKind::Group, "a");
    assert_eq!(dir.transitive_group_ids("u1").len(), 1);
}

#[test]
fn admin_role_comes_from_the_configured_group_through_nesting() {
    let mut dir = Directory::new("Admins", "");
    dir.upsert_user(user("u1", None));
    let mut admins = group("g-admins");
    admins.display_name = "admins".into();
    dir.upsert_group(admins);
    dir.upsert_group(group("sre"));
    dir.add_member("sre", MemberKind::User, "u1");
    assert_eq!(dir.roles_of("u1"), [RoleName::User]);
    dir.add_member("g-admins", MemberKind::Group, "sre");
    assert_eq!(dir.roles_of("u1"), [RoleName::User, RoleName::Admin]);
}

#[test]
fn cycles_are_detected_through_nesting() {
    let mut dir = Directory::default();
    for g in ["a", "b", "c"] {
        dir.upsert_group(group(g));
    }
    dir.add_member("b", MemberKind::Group, "a"); // a ⊂ b
    dir.add_member("c", MemberKind::Group, "b"); // b ⊂ c
    assert!(dir.would_create_cycle("a", "c"), "c ⊂ a would close a ⊂ b ⊂ c");
    assert!(dir.would_create_cycle("a", "a"));
    assert!(
        !dir.would_create_cycle("c", "a"),
        "a ⊂ c again is redundant, not a cycle"
    );
}

#[test]
fn managers_and_reports_follow_updates() {
    let mut dir = Directory::default();
    dir.upsert_user(user("boss", None));
    dir.upsert_user(user("other", None));
    dir.upsert_user(user("u1", Some("boss")));
    assert!(dir.is_direct_report("u1", "boss"));
    assert_eq!(dir.direct_reports("boss").len(), 1);
    dir.upsert_user(user("u1", Some("other")));
    assert!(dir.direct_reports("boss").is_empty());
    assert!(dir.is_direct_report("u1", "other"));
    assert!(dir.manager_chain_contains("u1", "other"));
    assert!(!dir.manager_chain_contains("other", "u1"));
}

#[test]
fn removing_a_user_removes_memberships() {
    let mut dir = Directory::default();
    dir.upsert_user(user("u1", None));
    dir.upsert_group(group("a"));
    dir.add_member("a", MemberKind::User, "u1");
    dir.remove_user("u1");
    assert!(dir.members("a").0.is_empty());
    assert!(dir.find_user("u1-name").is_none());
}

#[test]
fn changes_at_or_below_the_sequence_are_skipped() {
    let mut dir = Directory::default();
    let change = |sequence, id: &str| Change {
        sequence,
        at: at(),
        kind: ChangeKind::UserUpserted,
        resource: format!("users/{id}"),
        actor: "test".into(),
        payload: serde_json::to_value(user(id, None)).unwrap(),
    };
    dir.apply(&change(1, "u1"));
    dir.apply(&change(2, "u2"));
    dir.apply(&change(2, "u3"));
    assert_eq!(dir.sequence(), 2);
    assert_eq!(dir.user_count(), 2);
}

/// Reachability by an independent depth-first search over an explicit edge list.
fn contains(edges: &HashMap<usize, Vec<usize>>, from: usize, to: usize) -> bool {
    let mut stack = vec![from];
    let mut seen = std::collections::HashSet::new();
    while let Some(node) = stack.pop() {
        if node == to {
            return true;
        }
        if seen.insert(node) {
            stack.extend(edges.get(&node).into_iter().flatten().copied());
        }
    }
    false
}

proptest! {
    /// Adding only the edges the directory accepts keeps the group graph acyclic, and every
    /// refused edge really would have closed a cycle.
    #[test]
    fn cycle_detection_agrees_with_a_reference_search(
        edges in prop::collection::vec((0usize..8, 0usize..8), 0..40)
    ) {
        let mut dir = Directory::default();
        for g in 0..8 {
            dir.upsert_group(group(&format!("g{g}")));
        }
        // parent → children that it contains.
        let mut accepted: HashMap<usize, Vec<usize>> = HashMap::new();
        for (parent, child) in edges {
            let refused = dir.would_create_cycle(&format!("g{parent}"), &format!("g{child}"));
            // The edge closes a cycle iff the child already contains the parent (or is it).
            let reference = parent == child || contains(&accepted, child, parent);
            prop_assert_eq!(refused, reference);
            if !refused {
                dir.add_member(&format!("g{parent}"), MemberKind::Group, &format!("g{child}"));
                accepted.entry(parent).or_default().push(child);
            }
        }
        for node in 0..8 {
            for child in accepted.get(&node).into_iter().flatten() {
                prop_assert!(!contains(&accepted, *child, node), "cycle through g{} and g{}", node, child);
            }
        }
    }

    /// Transitive membership equals reachability over the accepted edges.
    #[test]
    fn transitive_groups_match_reachability(
        edges in prop::collection::vec((0usize..8, 0usize..8), 0..30),
        direct in prop::collection::btree_set(0usize..8, 0..4),
    ) {
        let mut dir = Directory::default();
        dir.upsert_user(user("u", None));
        for g in 0..8 {
            dir.upsert_group(group(&format!("g{g}")));
        }
        let mut accepted: HashMap<usize, Vec<usize>> = HashMap::new();
        for (parent, child) in edges {
            if !dir.would_create_cycle(&format!("g{parent}"), &format!("g{child}")) {
                dir.add_member(&format!("g{parent}"), MemberKind::Group, &format!("g{child}"));
                accepted.entry(parent).or_default().push(child);
            }
        }
        for g in &direct {
            dir.add_member(&format!("g{g}"), MemberKind::User, "u");
        }
        let resolved = dir.transitive_group_ids("u");
        for g in 0..8 {
            let expected = direct.iter().any(|d| contains(&accepted, g, *d));
            prop_assert_eq!(resolved.contains(format!("g{g}").as_str()), expected, "group g{}", g);
        }
    }
}
