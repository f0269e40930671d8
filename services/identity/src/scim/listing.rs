//! Listing and querying: filter, sort, pagination and attribute projection (RFC 7644 §3.4.2).

use std::cmp::Ordering;

use serde::Deserialize;
use serde_json::{Value, json};

use super::discovery::{LIST_SCHEMA, MAX_RESULTS};
use super::error::ScimError;
use super::filter::{AttrPath, CompareOp, Filter, get_ignore_case, is_core_schema_uri, parse_attr_path, parse_filter};

/// Query parameters of `GET /Users` and `GET /Groups`, also the body of `POST /.search`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    #[serde(deserialize_with = "comma_list")]
    pub attributes: Vec<String>,
    #[serde(deserialize_with = "comma_list")]
    pub excluded_attributes: Vec<String>,
}

/// Accepts `"a,b"` (query string) or `["a", "b"]` (search body).
fn comma_list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        List(Vec<String>),
    }
    Ok(match Option::<Raw>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(Raw::Text(text)) => text
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Raw::List(list)) => list,
    })
}

impl ListQuery {
    /// The body of `POST /.search`.
    pub fn from_search_body(body: Value) -> Result<Self, ScimError> {
        serde_json::from_value(body).map_err(|e| ScimError::bad_request("invalidValue", format!("search request: {e}")))
    }

    pub fn parsed_filter(&self) -> Result<Option<Filter>, ScimError> {
        match self.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
            None => Ok(None),
            Some(text) => parse_filter(text).map(Some).map_err(|e| {
                ScimError::bad_request(
                    "invalidFilter",
                    format!("filter: {} (at character {})", e.message, e.position),
                )
            }),
        }
    }

    /// `attr eq "value"` on the given attribute: the lookup a provisioning sync makes for every
    /// user, answered from an index instead of a scan.
    pub fn equality_on(&self, filter: &Filter, attribute: &str) -> Option<String> {
        match filter {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: Value::String(value),
            } if path.sub_attr.is_none()
                && path.uri.as_deref().is_none_or(is_core_schema_uri)
                && path.attr.eq_ignore_ascii_case(attribute) =>
            {
                Some(value.clone())
            }
            _ => None,
        }
    }
}

fn value_at<'v>(resource: &'v Value, path: &AttrPath) -> Option<&'v Value> {
    let base = match &path.uri {
        Some(uri) if !is_core_schema_uri(uri) => get_ignore_case(resource, uri)?,
        _ => resource,
    };
    let mut value = get_ignore_case(base, &path.attr)?;
    if let Value::Array(items) = value {
        // Multi-valued: sort by the primary (else first) element, per RFC 7644 §3.4.2.3.
        value = items
            .iter()
            .find(|i| get_ignore_case(i, "primary").and_then(Value::as_bool) == Some(true))
            .or_else(|| items.first())?;
    }
    match &path.sub_attr {
        Some(sub) => get_ignore_case(value, sub),
        None if value.is_object() => get_ignore_case(value, "value"),
        None => Some(value),
    }
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::String(a)), Some(Value::String(b))) => a.to_lowercase().cmp(&b.to_lowercase()),
        (Some(Value::Number(a)), Some(Value::Number(b))) => {
            a.as_f64().partial_cmp(&b.as_f64()).unwrap_or(Ordering::Equal)
        }
        (Some(Value::Bool(a)), Some(Value::Bool(b))) => a.cmp(b),
        // Resources without the attribute sort last.
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// Keeps `id` and `schemas` always, then the requested attributes, minus the excluded ones.
fn project(mut resource: Value, query: &ListQuery) -> Value {
    let top = |path: &str| -> String {
        match parse_attr_path(path) {
            Ok(p) => match p.uri {
                Some(uri) if !is_core_schema_uri(&uri) => uri,
                _ => p.attr,
            },
            Err(_) => path.to_string(),
        }
    };
    if let Some(object) = resource.as_object_mut() {
        if !query.attributes.is_empty() {
            let keep: Vec<String> = query.attributes.iter().map(|a| top(a)).collect();
            object.retain(|key, _| key == "id" || key == "schemas" || keep.iter().any(|k| k.eq_ignore_ascii_case(key)));
        }
        for excluded in &query.excluded_attributes {
            let key = top(excluded);
            if key != "id" && key != "schemas" {
                object.retain(|k, _| !k.eq_ignore_ascii_case(&key));
            }
        }
    }
    resource
}

/// Filters, sorts and pages `resources` into a ListResponse.
fn list_response(mut resources: Vec<Value>, filter: Option<&Filter>, query: &ListQuery) -> Result<Value, ScimError> {
    if let Some(filter) = filter {
        resources.retain(|r| filter.matches(r));
    }
    if let Some(sort_by) = query.sort_by.as_deref().filter(|s| !s.is_empty()) {
        let path = parse_attr_path(sort_by)
            .map_err(|e| ScimError::bad_request("invalidPath", format!("sortBy: {}", e.message)))?;
        let descending = match query.sort_order.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("ascending") => false,
            Some("descending") => true,
            Some(other) => {
                return Err(ScimError::bad_request(
                    "invalidValue",
                    format!("sortOrder must be ascending or descending, not {other:?}"),
                ));
            }
        };
        resources.sort_by(|a, b| {
            let ordering = compare(value_at(a, &path), value_at(b, &path));
            if descending { ordering.reverse() } else { ordering }
        });
    }
    let total = resources.len();
    let (start_index, count) = page_bounds(query);
    let page: Vec<Value> = resources.into_iter().skip(start_index - 1).take(count).collect();
    Ok(paged_response(total, start_index, page, query))
}

/// Answers a list or search over one resource type. An equality filter on the type's unique name is
/// a direct lookup; without a filter or sort order only the requested page is rendered; anything
/// else renders every resource, then filters, sorts and pages.
pub fn list_resources<T>(
    query: &ListQuery,
    unique_name: &str,
    lookup: impl FnOnce(&str) -> Option<T>,
    sorted: impl FnOnce() -> Vec<T>,
    render: impl Fn(&T) -> Value,
) -> Result<Value, ScimError> {
    let filter = query.parsed_filter()?;
    if let Some(name) = filter.as_ref().and_then(|f| query.equality_on(f, unique_name)) {
        let found = lookup(&name).iter().map(&render).collect();
        return list_response(found, filter.as_ref(), query);
    }
    let every = sorted();
    if !needs_every_resource(filter.as_ref(), query) {
        let (start_index, count) = page_bounds(query);
        let page = every.iter().skip(start_index - 1).take(count).map(&render).collect();
        return Ok(paged_response(every.len(), start_index, page, query));
    }
    let all = every.iter().map(&render).collect();
    list_response(all, filter.as_ref(), query)
}

/// Without a filter or a sort order the page can be cut before any JSON is built.
fn needs_every_resource(filter: Option<&Filter>, query: &ListQuery) -> bool {
    filter.is_some() || query.sort_by.as_deref().is_some_and(|s| !s.is_empty())
}

/// `startIndex` (1-based, at least 1) and `count` (0 to the maximum, default 100).
fn page_bounds(query: &ListQuery) -> (usize, usize) {
    let start_index = query.start_index.unwrap_or(1).max(1) as usize;
    let count = query.count.unwrap_or(100).clamp(0, MAX_RESULTS as i64) as usize;
    (start_index, count)
}

/// A ListResponse of one page out of `total` resources.
fn paged_response(total: usize, start_index: usize, page: Vec<Value>, query: &ListQuery) -> Value {
    let page: Vec<Value> = page.into_iter().map(|r| project(r, query)).collect();
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": page.len(),
        "Resources": page,
    })
}

pub fn project_one(resource: Value, query: &ListQuery) -> Value {
    project(resource, query)
}
