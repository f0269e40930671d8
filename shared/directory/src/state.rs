//! The replica's people: facts by user id, and user names (case-insensitive) to ids.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use latch_policy::conditions::Facts;

fn name_key(user_name: &str) -> String {
    user_name.trim().to_lowercase()
}

#[derive(Debug, Default)]
pub(crate) struct People {
    by_id: HashMap<String, Arc<Facts>>,
    ids_by_name: HashMap<String, String>,
    /// Manager id → the ids of their direct reports.
    reports: HashMap<String, BTreeSet<String>>,
    /// Everyone by (user name key, id): the order listings and "who may approve" use.
    ordered: BTreeMap<(String, String), Arc<Facts>>,
}

impl People {
    pub(crate) fn from_facts(all: impl IntoIterator<Item = Facts>) -> Self {
        let mut people = Self::default();
        for facts in all {
            people.upsert(facts);
        }
        people
    }

    pub(crate) fn upsert(&mut self, facts: Facts) {
        self.remove(&facts.user_id.clone());
        self.ids_by_name
            .insert(name_key(&facts.user_name), facts.user_id.clone());
        if let Some(manager) = &facts.manager_id {
            self.reports
                .entry(manager.clone())
                .or_default()
                .insert(facts.user_id.clone());
        }
        let facts = Arc::new(facts);
        self.ordered
            .insert((name_key(&facts.user_name), facts.user_id.clone()), facts.clone());
        self.by_id.insert(facts.user_id.clone(), facts);
    }

    pub(crate) fn remove(&mut self, user_id: &str) {
        if let Some(old) = self.by_id.remove(user_id) {
            let key = name_key(&old.user_name);
            self.ordered.remove(&(key.clone(), user_id.to_string()));
            if self.ids_by_name.get(&key).is_some_and(|id| id == user_id) {
                self.ids_by_name.remove(&key);
            }
            if let Some(manager) = &old.manager_id
                && let Some(reports) = self.reports.get_mut(manager)
            {
                reports.remove(user_id);
                if reports.is_empty() {
                    self.reports.remove(manager);
                }
            }
        }
    }

    /// The active users whose manager is `manager_id`.
    pub(crate) fn reports_of(&self, manager_id: &str) -> Vec<String> {
        self.reports
            .get(manager_id)
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// By id, or else by user name.
    pub(crate) fn find(&self, id_or_name: &str) -> Option<&Arc<Facts>> {
        self.by_id.get(id_or_name).or_else(|| {
            self.ids_by_name
                .get(&name_key(id_or_name))
                .and_then(|id| self.by_id.get(id))
        })
    }

    /// Everyone, ordered by user name (then id), as identity lists users.
    pub(crate) fn everyone(&self) -> Vec<Facts> {
        self.ordered.values().map(|f| Facts::clone(f)).collect()
    }

    /// Visits everyone in the order of [`Self::everyone`] without copying, until `visit`
    /// returns false.
    pub(crate) fn scan(&self, mut visit: impl FnMut(&Facts) -> bool) {
        for facts in self.ordered.values() {
            if !visit(facts) {
                return;
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(id: &str, name: &str) -> Facts {
        Facts {
            user_id: id.into(),
            user_name: name.into(),
            email: String::new(),
            groups: Vec::new(),
            attributes: Default::default(),
            manager_id: None,
        }
    }

    #[test]
    fn a_renamed_user_is_found_by_the_new_name_only() {
        let mut people = People::from_facts([facts("u1", "Alice"), facts("u2", "bob")]);
        assert_eq!(people.find("alice").map(|f| f.user_id.as_str()), Some("u1"));
        people.upsert(facts("u1", "alicia"));
        assert!(people.find("alice").is_none());
        assert_eq!(people.find("ALICIA").map(|f| f.user_id.as_str()), Some("u1"));
        people.remove("u2");
        assert!(people.find("bob").is_none());
        assert_eq!(people.everyone().len(), 1);
    }

    #[test]
    fn reports_follow_manager_changes_and_removals() {
        let managed = |id: &str, manager: &str| Facts {
            manager_id: Some(manager.into()),
            ..facts(id, id)
        };
        let mut people = People::from_facts([managed("u1", "m1"), managed("u2", "m1"), facts("m1", "boss")]);
        assert_eq!(people.reports_of("m1"), ["u1", "u2"]);
        people.upsert(managed("u1", "m2"));
        assert_eq!(people.reports_of("m1"), ["u2"]);
        assert_eq!(people.reports_of("m2"), ["u1"]);
        people.remove("u2");
        assert!(people.reports_of("m1").is_empty());
    }
}
