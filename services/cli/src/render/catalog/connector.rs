//! Built-in connectors as they describe themselves: resource types, permissions, config fields.

use latch_proto::connector::v1::{ConfigField, DescribeResponse, Permission, ResourceType};
use serde::Serialize;

use crate::output::{render, table};
use crate::render::optional;

#[derive(Debug, Serialize)]
pub struct ConnectorView {
    pub name: String,
    pub version: String,
    pub resource_types: Vec<ResourceTypeView>,
    pub config_fields: Vec<ConfigFieldView>,
}

impl From<&DescribeResponse> for ConnectorView {
    fn from(connector: &DescribeResponse) -> Self {
        Self {
            name: connector.name.clone(),
            version: connector.version.clone(),
            resource_types: connector.resource_types.iter().map(ResourceTypeView::from).collect(),
            config_fields: connector.config_fields.iter().map(ConfigFieldView::from).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ResourceTypeView {
    pub name: String,
    pub description: String,
    pub permissions: Vec<PermissionView>,
}

impl From<&ResourceType> for ResourceTypeView {
    fn from(resource_type: &ResourceType) -> Self {
        Self {
            name: resource_type.name.clone(),
            description: resource_type.description.clone(),
            permissions: resource_type.permissions.iter().map(PermissionView::from).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PermissionView {
    pub name: String,
    pub description: String,
}

impl From<&Permission> for PermissionView {
    fn from(permission: &Permission) -> Self {
        Self {
            name: permission.name.clone(),
            description: permission.description.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ConfigFieldView {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub secret: bool,
    pub default_value: Option<String>,
}

impl From<&ConfigField> for ConfigFieldView {
    fn from(field: &ConfigField) -> Self {
        Self {
            name: field.name.clone(),
            description: field.description.clone(),
            required: field.required,
            secret: field.secret,
            default_value: optional(&field.default_value),
        }
    }
}

/// One block per connector: its resource types with their permissions, then its config fields.
pub fn connectors_text(connectors: &[DescribeResponse]) -> String {
    connectors.iter().map(connector_text).collect::<Vec<_>>().join("\n\n")
}

fn connector_text(connector: &DescribeResponse) -> String {
    let heading = match connector.version.as_str() {
        "" => connector.name.clone(),
        version => format!("{} {version}", connector.name),
    };
    let mut fields = table(["field", "required", "secret", "default", "description"]);
    for field in &connector.config_fields {
        fields.add_row(vec![
            field.name.clone(),
            yes_or_blank(field.required),
            yes_or_blank(field.secret),
            field.default_value.clone(),
            field.description.clone(),
        ]);
    }
    let fields = if connector.config_fields.is_empty() {
        "no config fields".to_string()
    } else {
        format!("config fields:\n{}", render(&fields))
    };
    format!(
        "{heading}\n\nresource types:\n{}\n\n{fields}",
        resource_types_table(&connector.resource_types)
    )
}

pub fn resource_types_table(resource_types: &[ResourceType]) -> String {
    if resource_types.is_empty() {
        return "no resource types".to_string();
    }
    let mut rows = table(["type", "permissions", "description"]);
    for resource_type in resource_types {
        let permissions: Vec<&str> = resource_type
            .permissions
            .iter()
            .map(|permission| permission.name.as_str())
            .collect();
        rows.add_row(vec![
            resource_type.name.clone(),
            permissions.join(","),
            resource_type.description.clone(),
        ]);
    }
    render(&rows)
}

fn yes_or_blank(flag: bool) -> String {
    if flag { "yes".into() } else { String::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn postgres() -> DescribeResponse {
        DescribeResponse {
            name: "postgres".into(),
            version: "1.0.0".into(),
            resource_types: vec![ResourceType {
                name: "table".into(),
                description: "A table".into(),
                permissions: vec![
                    Permission {
                        name: "read".into(),
                        description: "SELECT".into(),
                    },
                    Permission {
                        name: "write".into(),
                        description: "INSERT, UPDATE, DELETE".into(),
                    },
                ],
            }],
            config_fields: vec![
                ConfigField {
                    name: "host".into(),
                    required: true,
                    ..Default::default()
                },
                ConfigField {
                    name: "password".into(),
                    required: true,
                    secret: true,
                    ..Default::default()
                },
            ],
        }
    }

    #[test]
    fn marks_secret_fields_and_lists_permissions() {
        let text = connectors_text(&[postgres()]);
        assert!(text.starts_with("postgres 1.0.0"), "{text}");
        assert!(
            text.lines()
                .any(|line| line.starts_with("table") && line.contains("read,write")),
            "{text}"
        );
        let password = text.lines().find(|line| line.starts_with("password")).unwrap();
        assert_eq!(
            password.split_whitespace().collect::<Vec<_>>(),
            ["password", "yes", "yes"]
        );
        let host = text.lines().find(|line| line.starts_with("host")).unwrap();
        assert_eq!(host.split_whitespace().collect::<Vec<_>>(), ["host", "yes"]);
    }

    #[test]
    fn json_says_which_fields_are_secret() {
        let json = serde_json::to_value(ConnectorView::from(&postgres())).unwrap();
        assert_eq!(json["config_fields"][1]["secret"], true);
        assert_eq!(json["config_fields"][0]["default_value"], serde_json::Value::Null);
        assert_eq!(json["resource_types"][0]["permissions"][1]["name"], "write");
    }
}
