//! Integrations: config (secrets only ever as "set"), status, resource types and the last sync.

use std::collections::BTreeMap;

use latch_proto::catalog::v1::{Integration, IntegrationStatus, SyncSummary, integration_status::State};
use serde::Serialize;

use super::connector::{ResourceTypeView, resource_types_table};
use super::{PrincipalView, principal_text, sorted};
use crate::output::{details, render, table};
use crate::render::{enum_name, optional};
use crate::timestamp;

/// What a set secret reads as; its value never leaves the server.
pub const SECRET_SET: &str = "set";

#[derive(Debug, Serialize)]
pub struct IntegrationView {
    pub name: String,
    pub id: String,
    pub display_name: String,
    pub connector: String,
    pub endpoint: Option<String>,
    pub config: BTreeMap<String, String>,
    /// Secret fields that have a value, each as `"set"`.
    pub secrets: BTreeMap<String, &'static str>,
    pub owner: Option<PrincipalView>,
    pub space: Option<String>,
    pub status: Option<StatusView>,
    pub resource_types: Vec<ResourceTypeView>,
    pub last_sync: Option<SyncSummaryView>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
    pub etag: String,
}

impl From<&Integration> for IntegrationView {
    fn from(integration: &Integration) -> Self {
        Self {
            name: integration.name.clone(),
            id: integration.id.clone(),
            display_name: integration.display_name.clone(),
            connector: integration.connector.clone(),
            endpoint: optional(&integration.endpoint),
            config: sorted(&integration.config),
            secrets: integration
                .secrets_set
                .iter()
                .map(|name| (name.clone(), SECRET_SET))
                .collect(),
            owner: integration.owner.as_ref().map(PrincipalView::from),
            space: optional(&integration.space),
            status: integration.status.as_ref().map(StatusView::from),
            resource_types: integration.resource_types.iter().map(ResourceTypeView::from).collect(),
            last_sync: integration.last_sync.as_ref().map(SyncSummaryView::from),
            create_time: timestamp::format_optional(integration.create_time.as_ref()),
            update_time: timestamp::format_optional(integration.update_time.as_ref()),
            etag: integration.etag.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct StatusView {
    pub state: String,
    pub problems: Vec<String>,
    pub check_time: Option<String>,
}

impl From<&IntegrationStatus> for StatusView {
    fn from(status: &IntegrationStatus) -> Self {
        Self {
            state: state_name(status.state),
            problems: status.problems.clone(),
            check_time: timestamp::format_optional(status.check_time.as_ref()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SyncSummaryView {
    pub sync_time: Option<String>,
    pub resources: i64,
    pub added: i64,
    pub removed: i64,
    pub error: Option<String>,
}

impl From<&SyncSummary> for SyncSummaryView {
    fn from(summary: &SyncSummary) -> Self {
        Self {
            sync_time: timestamp::format_optional(summary.sync_time.as_ref()),
            resources: summary.resources,
            added: summary.added,
            removed: summary.removed,
            error: optional(&summary.error),
        }
    }
}

/// `ok`, `error`, `unknown`; a missing status reads as `unknown`.
pub fn state_name(state: i32) -> String {
    enum_name(
        State::try_from(state).ok().map(|state| state.as_str_name()),
        "STATE_",
        state,
    )
}

pub fn is_unhealthy(integration: &Integration) -> bool {
    integration
        .status
        .as_ref()
        .is_some_and(|status| status.state == State::Error as i32)
}

fn status_text(integration: &Integration) -> String {
    integration
        .status
        .as_ref()
        .map_or_else(|| "unknown".to_string(), |status| state_name(status.state))
}

/// `120 resources, 3 added, 1 removed`, or the failure of the sync.
pub fn sync_text(summary: &SyncSummary) -> String {
    let counts = format!(
        "{} resources, {} added, {} removed",
        summary.resources, summary.added, summary.removed
    );
    match summary.error.as_str() {
        "" => counts,
        error => format!("failed: {error} (before: {counts})"),
    }
}

pub fn integrations_table(integrations: &[Integration]) -> String {
    let mut rows = table(["id", "name", "connector", "status", "space", "owner", "last sync"]);
    for integration in integrations {
        rows.add_row(vec![
            integration.id.clone(),
            integration.display_name.clone(),
            integration.connector.clone(),
            status_text(integration),
            integration.space.clone(),
            integration.owner.as_ref().map(principal_text).unwrap_or_default(),
            integration
                .last_sync
                .as_ref()
                .map(|sync| timestamp::format(sync.sync_time.as_ref()))
                .unwrap_or_default(),
        ]);
    }
    render(&rows)
}

/// The fields, then status problems, config, resource types and the last sync.
pub fn integration_details(integration: &Integration) -> String {
    let status = integration.status.clone().unwrap_or_default();
    let fields = details(vec![
        ("id", integration.id.clone()),
        ("name", integration.display_name.clone()),
        ("connector", integration.connector.clone()),
        ("endpoint", integration.endpoint.clone()),
        ("space", integration.space.clone()),
        (
            "owner",
            integration.owner.as_ref().map(principal_text).unwrap_or_default(),
        ),
        ("status", status_text(integration)),
        ("checked", timestamp::format(status.check_time.as_ref())),
        ("created", timestamp::format(integration.create_time.as_ref())),
        ("updated", timestamp::format(integration.update_time.as_ref())),
        ("etag", integration.etag.clone()),
    ]);
    let mut sections = vec![render(&fields)];
    if !status.problems.is_empty() {
        let problems: Vec<String> = status.problems.iter().map(|problem| format!("  - {problem}")).collect();
        sections.push(format!("problems:\n{}", problems.join("\n")));
    }
    sections.push(config_text(integration));
    sections.push(format!(
        "resource types:\n{}",
        resource_types_table(&integration.resource_types)
    ));
    sections.push(match &integration.last_sync {
        Some(sync) => render(&details(vec![
            ("last sync", timestamp::format(sync.sync_time.as_ref())),
            ("result", sync_text(sync)),
        ])),
        None => "never synced".to_string(),
    });
    sections.join("\n\n")
}

/// Config values and set secrets in one table, by key; a secret's value is only ever "set".
fn config_text(integration: &Integration) -> String {
    let mut entries: BTreeMap<&str, (&str, &str)> = integration
        .config
        .iter()
        .map(|(key, value)| (key.as_str(), (value.as_str(), "")))
        .collect();
    for name in &integration.secrets_set {
        entries.insert(name, (SECRET_SET, "yes"));
    }
    if entries.is_empty() {
        return "no config".to_string();
    }
    let mut rows = table(["key", "value", "secret"]);
    for (key, (value, secret)) in entries {
        rows.add_row(vec![key, value, secret]);
    }
    format!("config:\n{}", render(&rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use latch_proto::catalog::v1::{Principal, principal};
    use std::collections::HashMap;

    fn integration() -> Integration {
        Integration {
            id: "i-1".into(),
            display_name: "prod-pg".into(),
            connector: "postgres".into(),
            config: HashMap::from([("host".to_string(), "db.internal".to_string())]),
            secrets_set: vec!["password".into()],
            owner: Some(Principal {
                kind: principal::Kind::Group as i32,
                id: "g-sre".into(),
            }),
            status: Some(IntegrationStatus {
                state: State::Error as i32,
                problems: vec!["connection refused".into()],
                check_time: None,
            }),
            last_sync: Some(SyncSummary {
                resources: 120,
                added: 3,
                removed: 1,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn secrets_read_as_set_never_as_values() {
        let text = integration_details(&integration());
        let password = text.lines().find(|line| line.starts_with("password")).unwrap();
        assert_eq!(
            password.split_whitespace().collect::<Vec<_>>(),
            ["password", "set", "yes"]
        );
        assert!(text.contains("db.internal"), "{text}");
        let json = serde_json::to_value(IntegrationView::from(&integration())).unwrap();
        assert_eq!(json["secrets"], serde_json::json!({"password": "set"}));
        assert_eq!(json["config"], serde_json::json!({"host": "db.internal"}));
    }

    #[test]
    fn details_show_status_problems_and_last_sync() {
        let text = integration_details(&integration());
        assert!(
            text.lines()
                .any(|line| line.starts_with("status:") && line.ends_with("error")),
            "{text}"
        );
        assert!(text.contains("problems:\n  - connection refused"), "{text}");
        assert!(text.contains("120 resources, 3 added, 1 removed"), "{text}");
        assert!(text.contains("group:g-sre"), "{text}");
        assert!(is_unhealthy(&integration()));
    }

    #[test]
    fn a_failed_sync_says_so() {
        let summary = SyncSummary {
            error: "timeout".into(),
            ..Default::default()
        };
        assert!(sync_text(&summary).starts_with("failed: timeout"));
    }
}
