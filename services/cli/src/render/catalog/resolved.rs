//! What targets resolve to: concrete (integration, resource, permission) items.

use std::collections::HashMap;

use latch_proto::catalog::v1::ResolvedItem;
use serde::Serialize;

use super::integration_label;
use crate::output::{render, table};

#[derive(Debug, Serialize)]
pub struct ResolvedItemView {
    pub integration_id: String,
    pub resource_id: String,
    pub resource_type: String,
    pub resource_path: String,
    pub permission: String,
}

impl From<&ResolvedItem> for ResolvedItemView {
    fn from(item: &ResolvedItem) -> Self {
        Self {
            integration_id: item.integration_id.clone(),
            resource_id: item.resource_id.clone(),
            resource_type: item.resource_type.clone(),
            resource_path: item.resource_path.clone(),
            permission: item.permission.clone(),
        }
    }
}

/// The items in the server's order, then their count.
pub fn resolved_text(items: &[ResolvedItem], integration_names: &HashMap<String, String>) -> String {
    if items.is_empty() {
        return "the targets cover nothing".to_string();
    }
    let mut rows = table(["integration", "type", "resource", "permission"]);
    for item in items {
        let resource = if item.resource_path.is_empty() {
            &item.resource_id
        } else {
            &item.resource_path
        };
        rows.add_row(vec![
            integration_label(integration_names, &item.integration_id).to_string(),
            item.resource_type.clone(),
            resource.clone(),
            item.permission.clone(),
        ]);
    }
    let noun = if items.len() == 1 { "item" } else { "items" };
    format!("{}\n\n{} {noun}", render(&rows), items.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_items_and_counts_them() {
        let items = [
            ResolvedItem {
                integration_id: "i-1".into(),
                resource_id: "table:app/public/orders".into(),
                resource_type: "table".into(),
                permission: "read".into(),
                resource_path: "app/public/orders".into(),
            },
            ResolvedItem {
                integration_id: "i-1".into(),
                resource_id: "table:app/public/users".into(),
                resource_type: "table".into(),
                permission: "read".into(),
                resource_path: String::new(),
            },
        ];
        let names = HashMap::from([("i-1".to_string(), "prod-pg".to_string())]);
        let text = resolved_text(&items, &names);
        assert!(text.ends_with("\n\n2 items"), "{text}");
        assert!(text.contains("prod-pg") && text.contains("app/public/orders"), "{text}");
        assert!(text.contains("table:app/public/users"), "{text}");
        assert_eq!(resolved_text(&[], &names), "the targets cover nothing");
    }
}
