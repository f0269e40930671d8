//! Access flows: the stored flows, templates, evaluation decisions, the plan of an apply,
//! requestable flows and explanations. Shared here: items and yes/no cells.

pub mod decision;
pub mod explain;
pub mod flows;
pub mod plan;
pub mod requestable;
pub mod template;

use latch_proto::flow::v1::Item;
use serde::Serialize;

use crate::flow_item::item_text;

#[derive(Debug, Serialize)]
pub struct ItemView {
    /// The item as `--item` takes it.
    pub spec: String,
    pub integration: String,
    pub resource_id: String,
    pub permission: String,
}

impl From<&Item> for ItemView {
    fn from(item: &Item) -> Self {
        Self {
            spec: item_text(item),
            integration: item.integration.clone(),
            resource_id: item.resource_id.clone(),
            permission: item.permission.clone(),
        }
    }
}

pub fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_string()
}

/// `1 item`, `3 items`.
pub fn count(number: i64, noun: &str) -> String {
    if number == 1 {
        format!("1 {noun}")
    } else {
        format!("{number} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_read_in_the_item_syntax() {
        let item = Item {
            integration: "demo".into(),
            resource_id: "table:orders-prod/orders".into(),
            permission: "read".into(),
        };
        let json = serde_json::to_value(ItemView::from(&item)).unwrap();
        assert_eq!(json["spec"], "demo/table:orders-prod/orders:read");
        assert_eq!(json["resource_id"], "table:orders-prod/orders");
    }

    #[test]
    fn counts_agree_in_number() {
        assert_eq!(count(1, "item"), "1 item");
        assert_eq!(count(0, "item"), "0 items");
        assert_eq!(count(3, "flow"), "3 flows");
    }
}
