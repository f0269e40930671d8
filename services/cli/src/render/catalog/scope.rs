//! Access scopes: saved queries over the catalog's resources.

use latch_proto::catalog::v1::{AccessScope, AccessScopeQuery, TagSelector};
use serde::Serialize;

use crate::output::{details, render, table};
use crate::render::optional;
use crate::tag_selector::TagSelectorArg;
use crate::timestamp;

#[derive(Debug, Serialize)]
pub struct ScopeView {
    pub name: String,
    pub id: String,
    pub display_name: String,
    pub description: String,
    pub space: Option<String>,
    pub query: QueryView,
    pub create_time: Option<String>,
}

impl From<&AccessScope> for ScopeView {
    fn from(scope: &AccessScope) -> Self {
        Self {
            name: scope.name.clone(),
            id: scope.id.clone(),
            display_name: scope.display_name.clone(),
            description: scope.description.clone(),
            space: optional(&scope.space),
            query: QueryView::from(&scope.query.clone().unwrap_or_default()),
            create_time: timestamp::format_optional(scope.create_time.as_ref()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct QueryView {
    pub integrations: Vec<String>,
    pub resource_types: Vec<String>,
    pub name_patterns: Vec<String>,
    /// `key` or `key=v1|v2`, as `--include-tag` takes them.
    pub include_tags: Vec<String>,
    pub exclude_tags: Vec<String>,
}

impl From<&AccessScopeQuery> for QueryView {
    fn from(query: &AccessScopeQuery) -> Self {
        Self {
            integrations: query.integrations.clone(),
            resource_types: query.resource_types.clone(),
            name_patterns: query.name_patterns.clone(),
            include_tags: selectors_text(&query.include_tags),
            exclude_tags: selectors_text(&query.exclude_tags),
        }
    }
}

fn selectors_text(selectors: &[TagSelector]) -> Vec<String> {
    selectors
        .iter()
        .map(|selector| TagSelectorArg::from_proto(selector).to_string())
        .collect()
}

/// `integration=a,b type=table name=orders* tag=env=prod -tag=pii` on one line, `everything` for
/// an empty query.
pub fn query_text(query: &AccessScopeQuery) -> String {
    let view = QueryView::from(query);
    let parts: Vec<String> = [
        ("integration", view.integrations),
        ("type", view.resource_types),
        ("name", view.name_patterns),
    ]
    .into_iter()
    .filter(|(_, values)| !values.is_empty())
    .map(|(label, values)| format!("{label}={}", values.join(",")))
    .chain(view.include_tags.iter().map(|tag| format!("tag={tag}")))
    .chain(view.exclude_tags.iter().map(|tag| format!("-tag={tag}")))
    .collect();
    if parts.is_empty() {
        return "everything".to_string();
    }
    parts.join(" ")
}

pub fn scopes_table(scopes: &[AccessScope]) -> String {
    let mut rows = table(["id", "name", "space", "query", "description"]);
    for scope in scopes {
        rows.add_row(vec![
            scope.id.clone(),
            scope.display_name.clone(),
            scope.space.clone(),
            query_text(&scope.query.clone().unwrap_or_default()),
            scope.description.clone(),
        ]);
    }
    render(&rows)
}

pub fn scope_details(scope: &AccessScope) -> String {
    let query = QueryView::from(&scope.query.clone().unwrap_or_default());
    render(&details(vec![
        ("id", scope.id.clone()),
        ("name", scope.display_name.clone()),
        ("description", scope.description.clone()),
        ("space", scope.space.clone()),
        ("integrations", or_all(&query.integrations)),
        ("types", or_all(&query.resource_types)),
        ("name patterns", or_all(&query.name_patterns)),
        ("include tags", query.include_tags.join(", ")),
        ("exclude tags", query.exclude_tags.join(", ")),
        ("created", timestamp::format(scope.create_time.as_ref())),
    ]))
}

fn or_all(values: &[String]) -> String {
    if values.is_empty() {
        return "(all)".to_string();
    }
    values.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_reads_on_one_line() {
        let query = AccessScopeQuery {
            integrations: vec!["prod-pg".into()],
            resource_types: vec!["table".into(), "view".into()],
            name_patterns: vec!["orders*".into()],
            include_tags: vec![TagSelector {
                key: "env".into(),
                values: vec!["prod".into(), "staging".into()],
            }],
            exclude_tags: vec![TagSelector {
                key: "pii".into(),
                values: vec![],
            }],
        };
        assert_eq!(
            query_text(&query),
            "integration=prod-pg type=table,view name=orders* tag=env=prod|staging -tag=pii"
        );
        assert_eq!(query_text(&AccessScopeQuery::default()), "everything");
    }
}
