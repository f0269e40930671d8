//! The flows the caller may request right now, with how many items each covers.

use latch_proto::flow::v1::RequestableFlow;
use serde::Serialize;

use super::ItemView;
use crate::output::{render, table};

#[derive(Debug, Serialize)]
pub struct RequestableView {
    pub flow_id: String,
    pub flow_name: String,
    pub item_count: i64,
    /// The first items (the server sends at most 1000).
    pub items: Vec<ItemView>,
}

impl From<&RequestableFlow> for RequestableView {
    fn from(flow: &RequestableFlow) -> Self {
        Self {
            flow_id: flow.flow_id.clone(),
            flow_name: flow.flow_name.clone(),
            item_count: flow.item_count,
            items: flow.items.iter().map(ItemView::from).collect(),
        }
    }
}

pub fn requestable_text(flows: &[RequestableFlow]) -> String {
    if flows.is_empty() {
        return "no flow can be requested now".to_string();
    }
    let mut rows = table(["id", "flow", "items"]);
    for flow in flows {
        rows.add_row(vec![
            flow.flow_id.clone(),
            flow.flow_name.clone(),
            flow.item_count.to_string(),
        ]);
    }
    render(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_flows_with_item_counts() {
        let flows = [RequestableFlow {
            flow_id: "f-1".into(),
            flow_name: "prod orders read".into(),
            items: Vec::new(),
            item_count: 3,
        }];
        let text = requestable_text(&flows);
        assert!(text.starts_with("ID"), "{text}");
        assert!(text.lines().nth(1).is_some_and(|row| row.ends_with('3')), "{text}");
        assert_eq!(requestable_text(&[]), "no flow can be requested now");
    }
}
