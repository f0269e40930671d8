//! The catalog: connectors, integrations, resources, bundles, access scopes, spaces and
//! resolved targets. Shared here: principals, tag maps and integration names.

pub mod bundle;
pub mod connector;
pub mod integration;
pub mod resolved;
pub mod resource;
pub mod scope;
pub mod space;

use std::collections::{BTreeMap, HashMap};

use latch_proto::catalog::v1::{Principal, principal};
use serde::Serialize;

use super::enum_name;

#[derive(Debug, Serialize)]
pub struct PrincipalView {
    /// `user` or `group`.
    pub kind: String,
    pub id: String,
}

impl From<&Principal> for PrincipalView {
    fn from(principal: &Principal) -> Self {
        Self {
            kind: principal_kind(principal.kind),
            id: principal.id.clone(),
        }
    }
}

pub fn principal_kind(kind: i32) -> String {
    enum_name(
        principal::Kind::try_from(kind).ok().map(|kind| kind.as_str_name()),
        "KIND_",
        kind,
    )
}

/// `user:u-1` or `group:g-7`, the way principals are typed on the command line.
pub fn principal_text(principal: &Principal) -> String {
    format!("{}:{}", principal_kind(principal.kind), principal.id)
}

pub fn principals_text(principals: &[Principal]) -> String {
    principals.iter().map(principal_text).collect::<Vec<_>>().join(",")
}

/// Sorted, so JSON and tables do not change order between runs.
pub fn sorted(map: &HashMap<String, String>) -> BTreeMap<String, String> {
    map.iter().map(|(key, value)| (key.clone(), value.clone())).collect()
}

/// `env=prod,team=payments`, sorted by key.
pub fn tags_text(tags: &HashMap<String, String>) -> String {
    sorted(tags)
        .into_iter()
        .map(|(key, value)| {
            if value.is_empty() {
                key
            } else {
                format!("{key}={value}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Integration ids → display names, so tables read `prod-pg` rather than an id. An id missing
/// from the map (deleted meanwhile, or not listed to the caller) is shown as is.
pub fn integration_label<'a>(names: &'a HashMap<String, String>, id: &'a str) -> &'a str {
    names.get(id).map(String::as_str).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_read_as_kind_and_id() {
        let principals = [
            Principal {
                kind: principal::Kind::User as i32,
                id: "u-1".into(),
            },
            Principal {
                kind: principal::Kind::Group as i32,
                id: "g-7".into(),
            },
        ];
        assert_eq!(principals_text(&principals), "user:u-1,group:g-7");
        let view = serde_json::to_value(PrincipalView::from(&principals[1])).unwrap();
        assert_eq!(view, serde_json::json!({"kind": "group", "id": "g-7"}));
    }

    #[test]
    fn tags_are_sorted_and_bare_keys_have_no_equals() {
        let tags = HashMap::from([
            ("team".to_string(), "payments".to_string()),
            ("env".to_string(), "prod".to_string()),
            ("pii".to_string(), String::new()),
        ]);
        assert_eq!(tags_text(&tags), "env=prod,pii,team=payments");
    }

    #[test]
    fn unknown_integration_ids_show_as_is() {
        let names = HashMap::from([("i-1".to_string(), "prod-pg".to_string())]);
        assert_eq!(integration_label(&names, "i-1"), "prod-pg");
        assert_eq!(integration_label(&names, "i-2"), "i-2");
    }
}
