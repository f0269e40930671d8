//! Resources synced from connectors, with their tags and owners.

use std::collections::{BTreeMap, HashMap};

use latch_proto::catalog::v1::Resource;
use serde::Serialize;

use super::{PrincipalView, integration_label, principals_text, sorted, tags_text};
use crate::output::{details, render, table};
use crate::render::optional;
use crate::timestamp;

#[derive(Debug, Serialize)]
pub struct ResourceView {
    pub name: String,
    pub integration_id: String,
    pub id: String,
    pub display_name: String,
    pub path: String,
    pub parent_id: Option<String>,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub tags: BTreeMap<String, String>,
    pub system_tags: BTreeMap<String, String>,
    pub admin_tags: BTreeMap<String, String>,
    pub owners: Vec<PrincipalView>,
    pub owner_hint: Option<String>,
    pub present: bool,
    pub sync_time: Option<String>,
}

impl From<&Resource> for ResourceView {
    fn from(resource: &Resource) -> Self {
        Self {
            name: resource.name.clone(),
            integration_id: resource.integration_id.clone(),
            id: resource.id.clone(),
            display_name: resource.display_name.clone(),
            path: resource.path.clone(),
            parent_id: optional(&resource.parent_id),
            resource_type: resource.r#type.clone(),
            tags: sorted(&resource.tags),
            system_tags: sorted(&resource.system_tags),
            admin_tags: sorted(&resource.admin_tags),
            owners: resource.owners.iter().map(PrincipalView::from).collect(),
            owner_hint: optional(&resource.owner_hint),
            present: resource.present,
            sync_time: timestamp::format_optional(resource.sync_time.as_ref()),
        }
    }
}

/// The path, or the name when the connector gives no path; marked when the last sync no longer
/// found the resource.
fn location(resource: &Resource) -> String {
    let location = if resource.path.is_empty() {
        &resource.display_name
    } else {
        &resource.path
    };
    if resource.present {
        location.clone()
    } else {
        format!("{location} (missing)")
    }
}

/// `integration_names` maps integration ids to names for the first column.
pub fn resources_table(resources: &[Resource], integration_names: &HashMap<String, String>) -> String {
    let mut rows = table(["integration", "id", "type", "path", "tags", "owners"]);
    for resource in resources {
        rows.add_row(vec![
            integration_label(integration_names, &resource.integration_id).to_string(),
            resource.id.clone(),
            resource.r#type.clone(),
            location(resource),
            tags_text(&resource.tags),
            principals_text(&resource.owners),
        ]);
    }
    render(&rows)
}

/// The fields, then every tag with where it comes from (the system, an admin, or both with the
/// admin's value winning).
pub fn resource_details(resource: &Resource, integration_name: &str) -> String {
    let fields = details(vec![
        ("integration", integration_name.to_string()),
        ("id", resource.id.clone()),
        ("name", resource.display_name.clone()),
        ("path", resource.path.clone()),
        ("type", resource.r#type.clone()),
        ("parent", resource.parent_id.clone()),
        ("owners", principals_text(&resource.owners)),
        ("owner hint", resource.owner_hint.clone()),
        (
            "present",
            if resource.present {
                "yes"
            } else {
                "no (missing since the last sync)"
            }
            .to_string(),
        ),
        ("synced", timestamp::format(resource.sync_time.as_ref())),
    ]);
    let tags = sorted(&resource.tags);
    if tags.is_empty() {
        return format!("{}\n\nno tags", render(&fields));
    }
    let mut rows = table(["tag", "value", "source"]);
    for (key, value) in tags {
        let source = match (
            resource.system_tags.contains_key(&key),
            resource.admin_tags.contains_key(&key),
        ) {
            (true, true) => "admin (overrides system)",
            (false, true) => "admin",
            (true, false) => "system",
            (false, false) => "",
        };
        rows.add_row(vec![key, value, source.to_string()]);
    }
    format!("{}\n\ntags:\n{}", render(&fields), render(&rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use latch_proto::catalog::v1::{Principal, principal};

    fn orders() -> Resource {
        Resource {
            integration_id: "i-1".into(),
            id: "table:app/public/orders".into(),
            display_name: "orders".into(),
            path: "app/public/orders".into(),
            r#type: "table".into(),
            tags: HashMap::from([
                ("env".to_string(), "prod".to_string()),
                ("pii".to_string(), "yes".to_string()),
            ]),
            system_tags: HashMap::from([("env".to_string(), "staging".to_string())]),
            admin_tags: HashMap::from([
                ("env".to_string(), "prod".to_string()),
                ("pii".to_string(), "yes".to_string()),
            ]),
            owners: vec![Principal {
                kind: principal::Kind::User as i32,
                id: "u-ada".into(),
            }],
            present: true,
            ..Default::default()
        }
    }

    #[test]
    fn table_names_the_integration_and_marks_missing_resources() {
        let names = HashMap::from([("i-1".to_string(), "prod-pg".to_string())]);
        let mut gone = orders();
        gone.present = false;
        let text = resources_table(&[orders(), gone], &names);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("INTEGRATION"), "{text}");
        assert!(lines[1].starts_with("prod-pg"), "{text}");
        assert!(
            lines[1].contains("env=prod,pii=yes") && lines[1].contains("user:u-ada"),
            "{text}"
        );
        assert!(lines[2].contains("app/public/orders (missing)"), "{text}");
    }

    #[test]
    fn details_say_where_each_tag_comes_from() {
        let text = resource_details(&orders(), "prod-pg");
        assert!(
            text.lines()
                .any(|line| line.starts_with("env") && line.ends_with("admin (overrides system)")),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|line| line.starts_with("pii") && line.ends_with("admin")),
            "{text}"
        );
    }

    #[test]
    fn json_calls_the_type_type() {
        let json = serde_json::to_value(ResourceView::from(&orders())).unwrap();
        assert_eq!(json["type"], "table");
        assert_eq!(json["owners"][0]["kind"], "user");
        assert_eq!(json["parent_id"], serde_json::Value::Null);
    }
}
