//! The resource index: every resource in memory with lookups by integration and type, by name
//! and by tag, so resolving a target over a million resources touches only what it selects.

use std::collections::HashMap;
use std::sync::Arc;

use super::glob;
use super::records::ResourceRecord;
use super::tags::{TagSelector, Tags};
use super::target::{AccessScopeQuery, IntegrationTarget, SelectionMode};

struct Entry {
    record: Arc<ResourceRecord>,
    /// Effective tags when admins added any; otherwise the system tags serve as they are (most
    /// resources), which keeps a million of them from costing a second copy of every map.
    overridden: Option<Tags>,
    name_lower: String,
}

impl Entry {
    fn tags(&self) -> &Tags {
        self.overridden.as_ref().unwrap_or(&self.record.system_tags)
    }
}

#[derive(Default)]
pub struct ResourceIndex {
    entries: Vec<Entry>,
    by_key: HashMap<(String, String), u32>,
    /// Present resources of an (integration, type), in resource-id order.
    by_type: HashMap<(String, String), Vec<u32>>,
    by_integration: HashMap<String, Vec<u32>>,
    by_name: HashMap<(String, String, String), Vec<u32>>,
    /// Present resources carrying tag `key` with `value`, in index order.
    by_tag: HashMap<(String, String), Vec<u32>>,
    by_tag_key: HashMap<String, Vec<u32>>,
    present: Vec<u32>,
}

impl std::fmt::Debug for ResourceIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceIndex")
            .field("resources", &self.entries.len())
            .finish()
    }
}

impl ResourceIndex {
    pub fn build(mut records: Vec<ResourceRecord>) -> Self {
        records.sort_by(|a, b| (&a.integration_id, &a.id).cmp(&(&b.integration_id, &b.id)));
        let mut index = Self::default();
        for record in records {
            let position = index.entries.len() as u32;
            let overridden = (!record.admin_tags.is_empty()).then(|| record.tags());
            let tags = overridden.as_ref().unwrap_or(&record.system_tags).clone();
            index
                .by_key
                .insert((record.integration_id.clone(), record.id.clone()), position);
            if record.present {
                index.present.push(position);
                index
                    .by_type
                    .entry((record.integration_id.clone(), record.resource_type.clone()))
                    .or_default()
                    .push(position);
                index
                    .by_integration
                    .entry(record.integration_id.clone())
                    .or_default()
                    .push(position);
                index
                    .by_name
                    .entry((
                        record.integration_id.clone(),
                        record.resource_type.clone(),
                        record.name.to_lowercase(),
                    ))
                    .or_default()
                    .push(position);
                for (key, value) in &tags {
                    index
                        .by_tag
                        .entry((key.clone(), value.clone()))
                        .or_default()
                        .push(position);
                    index.by_tag_key.entry(key.clone()).or_default().push(position);
                }
            }
            let name_lower = record.name.to_lowercase();
            index.entries.push(Entry {
                record: Arc::new(record),
                overridden,
                name_lower,
            });
        }
        index
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn record(&self, position: u32) -> &Arc<ResourceRecord> {
        &self.entries[position as usize].record
    }

    pub fn tags(&self, position: u32) -> &Tags {
        self.entries[position as usize].tags()
    }

    pub fn get(&self, integration_id: &str, resource_id: &str) -> Option<&Arc<ResourceRecord>> {
        self.by_key
            .get(&(integration_id.to_string(), resource_id.to_string()))
            .map(|p| self.record(*p))
    }

    /// Every resource, present or not.
    pub fn records(&self) -> impl Iterator<Item = &Arc<ResourceRecord>> {
        self.entries.iter().map(|e| &e.record)
    }

    /// Every resource of an integration, present or not, in id order.
    pub fn all_of_integration(&self, integration_id: &str) -> Vec<Arc<ResourceRecord>> {
        self.entries
            .iter()
            .filter(|e| e.record.integration_id == integration_id)
            .map(|e| e.record.clone())
            .collect()
    }

    /// Present resources, optionally limited to an integration.
    pub fn present(&self, integration_id: Option<&str>) -> &[u32] {
        match integration_id {
            Some(id) => self.by_integration.get(id).map(Vec::as_slice).unwrap_or_default(),
            None => &self.present,
        }
    }

    fn with_tag(&self, selector: &TagSelector) -> Vec<u32> {
        self.tag_list(selector).into_owned()
    }

    /// The sorted positions carrying a tag selector, borrowed when one list answers it.
    fn tag_list(&self, selector: &TagSelector) -> std::borrow::Cow<'_, [u32]> {
        use std::borrow::Cow;
        if selector.values.is_empty() {
            return Cow::Borrowed(
                self.by_tag_key
                    .get(&selector.key)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            );
        }
        if let [value] = selector.values.as_slice() {
            return Cow::Borrowed(
                self.by_tag
                    .get(&(selector.key.clone(), value.clone()))
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            );
        }
        let mut found: Vec<u32> = selector
            .values
            .iter()
            .filter_map(|v| self.by_tag.get(&(selector.key.clone(), v.clone())))
            .flatten()
            .copied()
            .collect();
        found.sort_unstable();
        found.dedup();
        Cow::Owned(found)
    }

    fn selected_by_entry(&self, position: u32, target: &IntegrationTarget) -> bool {
        let entry = &self.entries[position as usize];
        let selection = &target.selection;
        selection.resource_ids.iter().any(|id| *id == entry.record.id)
            || selection
                .resource_names
                .iter()
                .any(|n| n.to_lowercase() == entry.name_lower)
            || selection.tags.iter().any(|t| t.matches(entry.tags()))
    }

    /// The present resources a target selects, in index order.
    pub fn select(&self, target: &IntegrationTarget) -> Vec<u32> {
        let key = (target.integration.clone(), target.resource_type.clone());
        let of_type = self.by_type.get(&key).map(Vec::as_slice).unwrap_or_default();
        match target.selection.mode {
            SelectionMode::Any => of_type.to_vec(),
            SelectionMode::Exclude => of_type
                .iter()
                .copied()
                .filter(|p| !self.selected_by_entry(*p, target))
                .collect(),
            SelectionMode::Include => {
                let selection = &target.selection;
                let mut found: Vec<u32> = Vec::new();
                for id in &selection.resource_ids {
                    if let Some(position) = self.by_key.get(&(target.integration.clone(), id.clone()))
                        && self.entries[*position as usize].record.present
                        && self.entries[*position as usize].record.resource_type == target.resource_type
                    {
                        found.push(*position);
                    }
                }
                for name in &selection.resource_names {
                    let key = (
                        target.integration.clone(),
                        target.resource_type.clone(),
                        name.to_lowercase(),
                    );
                    found.extend(self.by_name.get(&key).into_iter().flatten().copied());
                }
                for selector in &selection.tags {
                    found.extend(self.with_tag(selector).into_iter().filter(|p| {
                        let record = &self.entries[*p as usize].record;
                        record.integration_id == target.integration && record.resource_type == target.resource_type
                    }));
                }
                found.sort_unstable();
                found.dedup();
                found
            }
        }
    }

    /// The present resources an access-scope query matches, in index order.
    pub fn query(&self, query: &AccessScopeQuery) -> Vec<u32> {
        // Start from the narrowest list an index gives, then check every condition.
        let candidates: Vec<u32> = if !query.include_tags.is_empty() {
            // Every include selector must match: start from the shortest list and keep what the
            // others (sorted) also hold, found by binary search.
            let mut lists: Vec<std::borrow::Cow<'_, [u32]>> =
                query.include_tags.iter().map(|t| self.tag_list(t)).collect();
            lists.sort_by_key(|l| l.len());
            let mut narrowest = lists[0].to_vec();
            for other in &lists[1..] {
                narrowest.retain(|p| other.binary_search(p).is_ok());
            }
            narrowest
        } else if !query.integrations.is_empty() && !query.resource_types.is_empty() {
            let mut lists: Vec<u32> = query
                .integrations
                .iter()
                .flat_map(|i| query.resource_types.iter().map(move |t| (i.clone(), t.clone())))
                .filter_map(|key| self.by_type.get(&key))
                .flatten()
                .copied()
                .collect();
            lists.sort_unstable();
            lists
        } else if !query.integrations.is_empty() {
            let mut lists: Vec<u32> = query
                .integrations
                .iter()
                .filter_map(|i| self.by_integration.get(i))
                .flatten()
                .copied()
                .collect();
            lists.sort_unstable();
            lists
        } else {
            self.present.clone()
        };
        candidates
            .into_iter()
            .filter(|p| self.matches_query(*p, query))
            .collect()
    }

    fn matches_query(&self, position: u32, query: &AccessScopeQuery) -> bool {
        let entry = &self.entries[position as usize];
        let record = &entry.record;
        (query.integrations.is_empty() || query.integrations.contains(&record.integration_id))
            && (query.resource_types.is_empty() || query.resource_types.contains(&record.resource_type))
            && (query.name_patterns.is_empty()
                || query
                    .name_patterns
                    .iter()
                    .any(|p| glob::matches(p, &record.name) || glob::matches(p, &record.path)))
            && query.include_tags.iter().all(|t| t.matches(entry.tags()))
            && !query.exclude_tags.iter().any(|t| t.matches(entry.tags()))
    }
}

#[cfg(test)]
mod tests;
