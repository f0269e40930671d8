//! Stored flows: a summary table, one flow's fields with its YAML definition, and the JSON view
//! that carries the whole flow.

use latch_proto::flow::v1::Flow;
use serde::Serialize;

use super::yes_no;
use crate::output::{details, render, table};
use crate::render::optional;
use crate::timestamp;

#[derive(Debug, Serialize)]
pub struct FlowView {
    pub name: String,
    pub id: String,
    pub display_name: String,
    pub kind: String,
    pub space: Option<String>,
    pub active: bool,
    pub labels: Vec<String>,
    pub item_count: i64,
    pub etag: String,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
    /// The flow as a YAML document.
    pub definition: String,
}

impl From<&Flow> for FlowView {
    fn from(flow: &Flow) -> Self {
        Self {
            name: flow.name.clone(),
            id: flow.id.clone(),
            display_name: flow.display_name.clone(),
            kind: flow.kind.clone(),
            space: optional(&flow.space),
            active: flow.active,
            labels: flow.labels.clone(),
            item_count: flow.item_count,
            etag: flow.etag.clone(),
            create_time: timestamp::format_optional(flow.create_time.as_ref()),
            update_time: timestamp::format_optional(flow.update_time.as_ref()),
            definition: flow.definition.clone(),
        }
    }
}

pub fn flows_table(flows: &[Flow]) -> String {
    let mut rows = table(["id", "name", "kind", "space", "active", "items", "labels"]);
    for flow in flows {
        rows.add_row(vec![
            flow.id.clone(),
            flow.display_name.clone(),
            flow.kind.clone(),
            flow.space.clone(),
            yes_no(flow.active),
            flow.item_count.to_string(),
            flow.labels.join(","),
        ]);
    }
    render(&rows)
}

/// The fields people check after a write: what was stored, and the etag for the next update.
pub fn flow_summary(flow: &Flow) -> String {
    render(&details(vec![
        ("id", flow.id.clone()),
        ("name", flow.display_name.clone()),
        ("kind", flow.kind.clone()),
        ("space", flow.space.clone()),
        ("active", yes_no(flow.active)),
        ("items", flow.item_count.to_string()),
        ("labels", flow.labels.join(",")),
        ("updated", timestamp::format(flow.update_time.as_ref())),
        ("etag", flow.etag.clone()),
    ]))
}

/// The summary, then the definition as stored (with the server's defaults filled in).
pub fn flow_details(flow: &Flow) -> String {
    format!("{}\n\ndefinition:\n{}", flow_summary(flow), flow.definition.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> Flow {
        Flow {
            name: "flows/f-1".into(),
            id: "f-1".into(),
            display_name: "prod orders read".into(),
            kind: "self_serve".into(),
            active: true,
            labels: vec!["prod".into(), "orders".into()],
            definition: "name: prod orders read\nkind: self_serve\n".into(),
            etag: "\"3\"".into(),
            item_count: 3,
            ..Default::default()
        }
    }

    #[test]
    fn summary_has_kind_items_and_etag() {
        let text = flow_summary(&flow());
        for expected in ["prod orders read", "self_serve", "yes", "\"3\"", "prod,orders"] {
            assert!(text.contains(expected), "{expected}: {text}");
        }
        assert!(
            text.lines()
                .any(|line| line.starts_with("items:") && line.ends_with('3')),
            "{text}"
        );
    }

    #[test]
    fn details_end_with_the_yaml_definition() {
        let text = flow_details(&flow());
        assert!(
            text.ends_with("definition:\nname: prod orders read\nkind: self_serve"),
            "{text}"
        );
    }

    #[test]
    fn json_carries_the_definition_and_null_space() {
        let json = serde_json::to_value(FlowView::from(&flow())).unwrap();
        assert_eq!(json["definition"], "name: prod orders read\nkind: self_serve\n");
        assert_eq!(json["space"], serde_json::Value::Null);
        assert_eq!(json["item_count"], 3);
        assert_eq!(json["active"], true);
    }

    #[test]
    fn table_lists_one_row_per_flow() {
        let text = flows_table(&[flow()]);
        assert!(text.starts_with("ID"), "{text}");
        assert_eq!(text.lines().count(), 2, "{text}");
    }
}
