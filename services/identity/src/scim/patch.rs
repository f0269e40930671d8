//! SCIM 2.0 PATCH (RFC 7644 §3.5.2): parsing PatchOp messages and applying
//! their operations to a resource in its JSON (GET) representation.
//!
//! # Semantics
//!
//! * Operations apply in order and atomically: on any error the resource is left
//!   untouched (RFC 7644 §3.5.2: "the entire PATCH request MUST be rejected").
//! * Attribute names match existing keys case-insensitively; an existing key keeps
//!   its spelling. Schema-URI prefixes of the core schemas address the top level,
//!   other URIs address the extension object under that URI, which `add`/`replace`
//!   create on demand (appending the URI to `schemas` when the resource lists them).
//!   A URI whose last segment starts with an upper-case letter, or that names an
//!   existing extension object or an entry of `schemas`, addresses the whole
//!   extension (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`).
//! * `add` without a path merges the members of an object value; keys may be plain
//!   attribute names, whole extension URIs with an object value, or paths such as
//!   `name.givenName` or `urn:...:enterprise:2.0:User:department` (Entra ID).
//!   On a multi-valued attribute `add` appends the values not already present
//!   (complex values are compared by their `value` sub-attribute when both have
//!   one); on a complex attribute it merges sub-attributes; otherwise it sets the
//!   value, creating the attribute if missing.
//! * `replace` without a path replaces each attribute named in the object value.
//!   Following RFC 7644 §3.5.2.3, replacing a single-valued complex attribute with
//!   an object replaces the given sub-attributes and leaves the others unchanged;
//!   multi-valued and simple attributes are replaced whole.
//! * `replace` with a value filter replaces the matching elements (or their
//!   sub-attribute); no matching element is a `noTarget` error. `add` with a value
//!   filter merges into matching elements; with no match it creates an element
//!   from the filter's `eq` terms when the filter is a conjunction of them (how
//!   Entra ID adds `emails[type eq "work"].value`), else `noTarget`.
//! * `remove` requires a path (`noTarget` otherwise). Removing an absent attribute,
//!   or a value filter that matches nothing, succeeds without change. Removing the
//!   last element of a multi-valued attribute removes the attribute, and removing
//!   the last attribute of an extension removes the extension object (and its URI
//!   from `schemas`). `remove` with a value on a multi-valued attribute removes just
//!   the listed values (Entra ID's `{"op":"Remove","path":"members","value":[...]}`).
//! * A `null` value (and an empty array for `replace`) unassigns the attribute.
//! * Adding a value with `"primary": true` clears `primary` on the other values.
//! * `id` and `meta` are read-only: an operation that would change them fails with
//!   `mutability`; one that leaves them as they were is accepted. `schemas` is
//!   ignored as a target.
//! * Entra ID sends `active` as the strings `"True"`/`"False"`; those are coerced
//!   to booleans for the top-level `active` attribute, and a bare string assigned
//!   to the enterprise `manager` becomes `{"value": "..."}`.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use super::filter::{
    AttrPath, CompareOp, Filter, FilterError, get_ignore_case, is_core_schema_uri, parse_attr_path,
    parse_path_expression,
};

/// The `schemas` value of a PATCH request body.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

const ENTERPRISE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The `op` of a PATCH operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Replace,
    Remove,
}

impl PatchOpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Replace => "replace",
            PatchOpKind::Remove => "remove",
        }
    }
}

impl FromStr for PatchOpKind {
    type Err = PatchError;

    /// Parses `add`/`replace`/`remove` in any case (Entra ID sends `Add`, `Replace`, `Remove`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [PatchOpKind::Add, PatchOpKind::Replace, PatchOpKind::Remove]
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                PatchError::new(
                    "invalidSyntax",
                    format!("unknown op '{s}': expected add, replace or remove"),
                )
            })
    }
}

impl fmt::Display for PatchOpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the `Operations` array.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: PatchOpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// A parsed PATCH target path.
#[derive(Debug, Clone, PartialEq)]
pub enum PatchPath {
    /// `userName`, `name.familyName`, `urn:...:enterprise:2.0:User:manager.value`
    Attr(AttrPath),
    /// `members[value eq "2819c223"]`, `emails[type eq "work"].value`
    Filtered {
        attr: AttrPath,
        filter: Filter,
        sub_attr: Option<String>,
    },
}

/// A PATCH failure with its RFC 7644 Table 9 `scimType`: `invalidPath`,
/// `noTarget`, `invalidValue`, `invalidFilter`, `mutability`, or `invalidSyntax`
/// for a malformed request body.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchError {
    pub scim_type: &'static str,
    pub message: String,
}

impl PatchError {
    pub fn new(scim_type: &'static str, message: impl Into<String>) -> Self {
        PatchError {
            scim_type,
            message: message.into(),
        }
    }

    fn invalid_path(message: impl Into<String>) -> Self {
        Self::new("invalidPath", message)
    }

    fn no_target(message: impl Into<String>) -> Self {
        Self::new("noTarget", message)
    }

    fn invalid_value(message: impl Into<String>) -> Self {
        Self::new("invalidValue", message)
    }

    fn invalid_syntax(message: impl Into<String>) -> Self {
        Self::new("invalidSyntax", message)
    }
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.scim_type, self.message)
    }
}

impl std::error::Error for PatchError {}

/// Parses a PATCH path: `attrPath` or `valuePath ["." subAttr]`.
pub fn parse_patch_path(input: &str) -> Result<PatchPath, FilterError> {
    let expression = parse_path_expression(input)?;
    Ok(match expression.filter {
        None => PatchPath::Attr(expression.attr),
        Some(filter) => PatchPath::Filtered {
            attr: expression.attr,
            filter,
            sub_attr: expression.sub_attr,
        },
    })
}

/// Parses a path, classifying errors inside `[...]` as `invalidFilter`.
fn parse_patch_path_checked(input: &str) -> Result<PatchPath, PatchError> {
    parse_patch_path(input).map_err(|error| {
        let in_filter = input.find('[').is_some_and(|open| error.position > open);
        let scim_type = if in_filter {
            "invalidFilter"
        } else {
            "invalidPath"
        };
        PatchError::new(scim_type, format!("invalid path '{input}': {error}"))
    })
}

/// Parses a PatchOp request body into its operations, validating paths.
pub fn parse_operations(body: &Value) -> Result<Vec<PatchOperation>, PatchError> {
    if !body.is_object() {
        return Err(PatchError::invalid_syntax(
            "the PATCH body must be a JSON object",
        ));
    }
    if let Some(schemas) = get_ignore_case(body, "schemas") {
        let lists_patch_op = schemas.as_array().is_some_and(|uris| {
            uris.iter()
                .filter_map(Value::as_str)
                .any(|uri| uri.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
        });
        if !lists_patch_op {
            return Err(PatchError::invalid_syntax(format!(
                "schemas must contain \"{PATCH_OP_SCHEMA}\""
            )));
        }
    }
    let operations = match get_ignore_case(body, "Operations") {
        Some(Value::Array(operations)) => operations,
        Some(_) => return Err(PatchError::invalid_syntax("Operations must be an array")),
        None => return Err(PatchError::invalid_syntax("missing Operations")),
    };
    if operations.is_empty() {
        return Err(PatchError::invalid_syntax(
            "Operations must contain at least one operation",
        ));
    }
    operations
        .iter()
        .enumerate()
        .map(|(index, raw)| parse_operation(raw).map_err(|e| prefix_error(e, index)))
        .collect()
}

fn prefix_error(error: PatchError, index: usize) -> PatchError {
    PatchError::new(
        error.scim_type,
        format!("operation {index}: {}", error.message),
    )
}

fn parse_operation(raw: &Value) -> Result<PatchOperation, PatchError> {
    if !raw.is_object() {
        return Err(PatchError::invalid_syntax("an operation must be a JSON object"));
    }
    let op = match get_ignore_case(raw, "op") {
        Some(Value::String(op)) => op.parse::<PatchOpKind>()?,
        _ => return Err(PatchError::invalid_syntax("missing or non-string op")),
    };
    let path = match get_ignore_case(raw, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(path)) => {
            parse_patch_path_checked(path)?;
            Some(path.clone())
        }
        Some(_) => return Err(PatchError::invalid_path("path must be a string")),
    };
    let value = get_ignore_case(raw, "value").cloned();
    Ok(PatchOperation { op, path, value })
}

/// Applies the operations in order; on error the resource is left unchanged.
pub fn apply_operations(resource: &mut Value, ops: &[PatchOperation]) -> Result<(), PatchError> {
    if !resource.is_object() {
        return Err(PatchError::invalid_value("the resource must be a JSON object"));
    }
    let mut working = resource.clone();
    for (index, operation) in ops.iter().enumerate() {
        let read_only_before = read_only_values(&working);
        apply_operation(&mut working, operation).map_err(|e| prefix_error(e, index))?;
        let read_only_after = read_only_values(&working);
        for ((name, before), (_, after)) in read_only_before.iter().zip(&read_only_after) {
            if before != after {
                return Err(prefix_error(
                    PatchError::new("mutability", format!("attribute '{name}' is read-only")),
                    index,
                ));
            }
        }
    }
    *resource = working;
    Ok(())
}

/// The attributes a PATCH must not change, with their current values.
fn read_only_values(resource: &Value) -> [(&'static str, Option<Value>); 2] {
    ["id", "meta"].map(|name| (name, get_ignore_case(resource, name).cloned()))
}

fn apply_operation(resource: &mut Value, operation: &PatchOperation) -> Result<(), PatchError> {
    let Some(path_text) = &operation.path else {
        return match operation.op {
            PatchOpKind::Remove => Err(PatchError::no_target("remove requires a path")),
            kind => match &operation.value {
                Some(Value::Object(members)) => {
                    for (key, value) in members {
                        apply_keyed_value(resource, key, value.clone(), kind)?;
                    }
                    Ok(())
                }
                _ => Err(PatchError::invalid_value(format!(
                    "{kind} without a path requires an object value"
                ))),
            },
        };
    };
    let value = || {
        operation
            .value
            .clone()
            .ok_or_else(|| PatchError::invalid_value(format!("{} requires a value", operation.op)))
    };
    match parse_patch_path_checked(path_text)? {
        PatchPath::Attr(path) => match operation.op {
            PatchOpKind::Remove => remove_at_path(resource, &path, operation.value.as_ref()),
            kind => match schema_namespace(resource, &path) {
                Some(namespace) => set_namespace(resource, &namespace, value()?, kind),
                None => set_at_path(resource, &path, value()?, kind),
            },
        },
        PatchPath::Filtered {
            attr,
            filter,
            sub_attr,
        } => {
            let value = match operation.op {
                PatchOpKind::Remove => None,
                _ => Some(value()?),
            };
            apply_filtered(resource, operation.op, &attr, &filter, sub_attr.as_deref(), value)
        }
    }
}

/// Where a whole-schema path points.
#[derive(Debug, Clone, PartialEq)]
enum Namespace {
    /// A core schema URI (`urn:ietf:params:scim:schemas:core:2.0:User`): the top level.
    TopLevel,
    /// An extension object, by the key it has (or will have) in the resource.
    Extension(String),
}

/// Recognises a path that names a whole schema rather than an attribute; see the module docs.
fn schema_namespace(resource: &Value, path: &AttrPath) -> Option<Namespace> {
    let uri = path.uri.as_deref()?;
    if path.sub_attr.is_some() {
        return None;
    }
    let full = format!("{uri}:{}", path.attr);
    if is_core_schema_uri(&full) {
        return Some(Namespace::TopLevel);
    }
    if let Some(key) = resource.as_object().and_then(|map| existing_key(map, &full)) {
        return Some(Namespace::Extension(key));
    }
    let listed = get_ignore_case(resource, "schemas")
        .and_then(Value::as_array)
        .and_then(|uris| {
            uris.iter()
                .filter_map(Value::as_str)
                .find(|listed| listed.eq_ignore_ascii_case(&full))
        });
    if let Some(listed) = listed {
        return Some(Namespace::Extension(listed.to_string()));
    }
    // Schema names (User, Group, EnterpriseUser) are capitalised, attribute names are not.
    path.attr
        .starts_with(|c: char| c.is_ascii_uppercase())
        .then_some(Namespace::Extension(full))
}

/// One member of a path-less add/replace value: `"userName": ...`,
/// `"name.givenName": ...`, `"urn:...:enterprise:2.0:User": {...}` or
/// `"urn:...:enterprise:2.0:User:department": ...`.
fn apply_keyed_value(
    resource: &mut Value,
    key: &str,
    value: Value,
    kind: PatchOpKind,
) -> Result<(), PatchError> {
    let path = parse_attr_path(key)
        .map_err(|e| PatchError::invalid_path(format!("invalid attribute '{key}': {e}")))?;
    match schema_namespace(resource, &path) {
        Some(namespace) => set_namespace(resource, &namespace, value, kind),
        None => set_at_path(resource, &path, value, kind),
    }
}

/// Adds or replaces each attribute of `value` inside a whole schema.
fn set_namespace(
    resource: &mut Value,
    namespace: &Namespace,
    value: Value,
    kind: PatchOpKind,
) -> Result<(), PatchError> {
    let Value::Object(members) = value else {
        return Err(PatchError::invalid_value(
            "a schema URI must be given an object of attributes",
        ));
    };
    for (key, member_value) in members {
        let mut path = parse_attr_path(&key)
            .map_err(|e| PatchError::invalid_path(format!("invalid attribute '{key}': {e}")))?;
        if path.uri.is_some() {
            return Err(PatchError::invalid_path(format!(
                "'{key}' inside a schema object must not carry a schema URI"
            )));
        }
        if let Namespace::Extension(uri) = namespace {
            path.uri = Some(uri.clone());
        }
        set_at_path(resource, &path, member_value, kind)?;
    }
    Ok(())
}

/// The spelling of `name` among the object's keys, ignoring ASCII case.
fn existing_key(map: &Map<String, Value>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_string());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn is_schemas_path(path: &AttrPath) -> bool {
    path.is_top_level() && path.attr.eq_ignore_ascii_case("schemas") && path.sub_attr.is_none()
}

/// Fixes value shapes that identity providers are known to send.
fn normalize_value(path: &AttrPath, value: Value) -> Value {
    let is_active = path.is_top_level()
        && path.sub_attr.is_none()
        && path.attr.eq_ignore_ascii_case("active");
    let is_enterprise_manager = path
        .uri
        .as_deref()
        .is_some_and(|uri| uri.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA))
        && path.sub_attr.is_none()
        && path.attr.eq_ignore_ascii_case("manager");
    match value {
        Value::String(text) if is_active && text.eq_ignore_ascii_case("true") => Value::Bool(true),
        Value::String(text) if is_active && text.eq_ignore_ascii_case("false") => {
            Value::Bool(false)
        }
        Value::String(id) if is_enterprise_manager => {
            let mut manager = Map::new();
            manager.insert("value".into(), Value::String(id));
            Value::Object(manager)
        }
        other => other,
    }
}

/// The object holding the path's attribute: the resource itself, or the
/// extension object for a non-core URI (created when `create` is set).
fn container_for<'r>(
    resource: &'r mut Value,
    path: &AttrPath,
    create: bool,
) -> Result<Option<&'r mut Map<String, Value>>, PatchError> {
    let Some(root) = resource.as_object_mut() else {
        return Err(PatchError::invalid_value("the resource must be a JSON object"));
    };
    let uri = match &path.uri {
        Some(uri) if !is_core_schema_uri(uri) => uri,
        _ => return Ok(Some(root)),
    };
    let key = match existing_key(root, uri) {
        Some(key) => key,
        None if create => {
            root.insert(uri.clone(), Value::Object(Map::new()));
            list_schema(root, uri);
            uri.clone()
        }
        None => return Ok(None),
    };
    match root.get_mut(&key) {
        Some(Value::Object(extension)) => Ok(Some(extension)),
        _ => Err(PatchError::invalid_path(format!(
            "'{key}' is not an extension object"
        ))),
    }
}

/// Appends `uri` to the resource's `schemas`, when it keeps such a list.
fn list_schema(root: &mut Map<String, Value>, uri: &str) {
    let Some(key) = existing_key(root, "schemas") else {
        return;
    };
    if let Some(Value::Array(uris)) = root.get_mut(&key) {
        let listed = uris
            .iter()
            .filter_map(Value::as_str)
            .any(|listed| listed.eq_ignore_ascii_case(uri));
        if !listed {
            uris.push(Value::String(uri.to_string()));
        }
    }
}

/// Removes an extension object and its `schemas` entry.
fn unlist_schema(root: &mut Map<String, Value>, extension_key: &str) {
    root.remove(extension_key);
    let Some(key) = existing_key(root, "schemas") else {
        return;
    };
    if let Some(Value::Array(uris)) = root.get_mut(&key) {
        uris.retain(|listed| {
            !listed
                .as_str()
                .is_some_and(|listed| listed.eq_ignore_ascii_case(extension_key))
        });
    }
}

/// Drops the path's extension object once its last attribute is gone.
fn prune_empty_extension(resource: &mut Value, path: &AttrPath) {
    let Some(uri) = path.uri.as_deref().filter(|uri| !is_core_schema_uri(uri)) else {
        return;
    };
    let Some(root) = resource.as_object_mut() else {
        return;
    };
    let Some(key) = existing_key(root, uri) else {
        return;
    };
    if root.get(&key).is_some_and(|ext| ext.as_object().is_some_and(Map::is_empty)) {
        unlist_schema(root, &key);
    }
}

/// `add`/`replace` of a value at an unfiltered attribute path.
fn set_at_path(
    resource: &mut Value,
    path: &AttrPath,
    value: Value,
    kind: PatchOpKind,
) -> Result<(), PatchError> {
    if is_schemas_path(path) {
        return Ok(());
    }
    let value = normalize_value(path, value);
    let unassigns = match &value {
        Value::Null => true,
        Value::Array(items) => items.is_empty() && kind == PatchOpKind::Replace,
        _ => false,
    };
    if unassigns {
        return remove_at_path(resource, path, None);
    }
    if matches!(&value, Value::Array(items) if items.is_empty()) {
        // Adding no values changes nothing.
        return Ok(());
    }
    let Some(container) = container_for(resource, path, true)? else {
        return Err(PatchError::no_target(format!("no target for '{path}'")));
    };
    match &path.sub_attr {
        None => {
            set_member(container, &path.attr, value, kind);
            Ok(())
        }
        Some(sub) => {
            let key = existing_key(container, &path.attr).unwrap_or_else(|| path.attr.clone());
            let parent = container.entry(key).or_insert(Value::Null);
            if parent.is_null() {
                *parent = Value::Object(Map::new());
            }
            match parent {
                Value::Object(complex) => {
                    set_member(complex, sub, value, kind);
                    Ok(())
                }
                Value::Array(items) if !items.is_empty() => {
                    // `emails.type` without a filter addresses every element.
                    for item in items.iter_mut() {
                        let Value::Object(element) = item else {
                            return Err(PatchError::invalid_path(format!(
                                "'{}' has values that are not complex",
                                path.attr
                            )));
                        };
                        set_member(element, sub, value.clone(), kind);
                    }
                    Ok(())
                }
                Value::Array(_) => Err(PatchError::no_target(format!(
                    "'{}' has no values to set '{sub}' on",
                    path.attr
                ))),
                _ => Err(PatchError::invalid_path(format!(
                    "'{}' is not a complex attribute",
                    path.attr
                ))),
            }
        }
    }
}

/// Sets `name` inside an object: merges into an existing value, keeping the key's spelling.
fn set_member(map: &mut Map<String, Value>, name: &str, value: Value, kind: PatchOpKind) {
    match existing_key(map, name) {
        Some(key) if value.is_null() => {
            map.remove(&key);
        }
        Some(key) => {
            if let Some(existing) = map.get_mut(&key) {
                merge_value(existing, value, kind);
            }
        }
        None if value.is_null() => {}
        None => {
            map.insert(name.to_string(), value);
        }
    }
}

/// Combines `value` into an existing attribute value per add/replace rules.
fn merge_value(existing: &mut Value, value: Value, kind: PatchOpKind) {
    if let Value::Array(items) = existing {
        let new_items = match value {
            Value::Array(new_items) => new_items,
            single => vec![single],
        };
        if kind == PatchOpKind::Add {
            append_unique(items, new_items);
        } else {
            *items = new_items;
        }
        return;
    }
    if let (Value::Object(complex), Value::Object(sub_values)) = (&mut *existing, &value) {
        // Sub-attributes named in the value are set; the others are left unchanged.
        for (name, sub_value) in sub_values {
            set_member(complex, name, sub_value.clone(), kind);
        }
        return;
    }
    *existing = value;
}

/// Two elements of a multi-valued attribute are the same value when their
/// `value` sub-attributes are equal, or when they are wholly equal.
fn same_element(a: &Value, b: &Value) -> bool {
    match (get_ignore_case(a, "value"), get_ignore_case(b, "value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn is_primary(element: &Value) -> bool {
    get_ignore_case(element, "primary") == Some(&Value::Bool(true))
}

/// RFC 7643 §2.4: at most one element may be primary.
fn clear_primary(element: &mut Value) {
    if let Value::Object(map) = element
        && let Some(key) = existing_key(map, "primary")
    {
        map.insert(key, Value::Bool(false));
    }
}

fn append_unique(items: &mut Vec<Value>, new_items: Vec<Value>) {
    for item in new_items {
        if item.is_null() || items.iter().any(|existing| same_element(existing, &item)) {
            continue;
        }
        if is_primary(&item) {
            items.iter_mut().for_each(clear_primary);
        }
        items.push(item);
    }
}

/// `remove` at an unfiltered path; `listed` (Entra ID) restricts a multi-valued
/// removal to the given values.
fn remove_at_path(
    resource: &mut Value,
    path: &AttrPath,
    listed: Option<&Value>,
) -> Result<(), PatchError> {
    if is_schemas_path(path) {
        return Ok(());
    }
    if let Some(namespace) = schema_namespace(resource, path) {
        return match namespace {
            Namespace::TopLevel => Err(PatchError::invalid_path(
                "the core schema cannot be removed",
            )),
            Namespace::Extension(key) => {
                if let Some(root) = resource.as_object_mut()
                    && existing_key(root, &key).is_some()
                {
                    unlist_schema(root, &key);
                }
                Ok(())
            }
        };
    }
    let Some(container) = container_for(resource, path, false)? else {
        return Ok(());
    };
    let Some(key) = existing_key(container, &path.attr) else {
        return Ok(());
    };
    match &path.sub_attr {
        None => match (container.get_mut(&key), listed) {
            (Some(Value::Array(items)), Some(listed)) if !listed.is_null() => {
                let listed = match listed {
                    Value::Array(values) => values.as_slice(),
                    single => std::slice::from_ref(single),
                };
                items.retain(|item| !listed.iter().any(|gone| same_element(item, gone)));
                if items.is_empty() {
                    container.remove(&key);
                }
            }
            _ => {
                container.remove(&key);
            }
        },
        Some(sub) => match container.get_mut(&key) {
            Some(Value::Object(complex)) => {
                if let Some(sub_key) = existing_key(complex, sub) {
                    complex.remove(&sub_key);
                }
                if complex.is_empty() {
                    container.remove(&key);
                }
            }
            Some(Value::Array(items)) => {
                for item in items.iter_mut() {
                    remove_member(item, sub);
                }
            }
            _ => {}
        },
    }
    prune_empty_extension(resource, path);
    Ok(())
}

fn remove_member(element: &mut Value, name: &str) {
    if let Value::Object(map) = element
        && let Some(key) = existing_key(map, name)
    {
        map.remove(&key);
    }
}

/// Operations whose path has a value filter: `members[value eq "x"]`, `emails[type eq "work"].value`.
fn apply_filtered(
    resource: &mut Value,
    kind: PatchOpKind,
    attr: &AttrPath,
    filter: &Filter,
    sub_attr: Option<&str>,
    value: Option<Value>,
) -> Result<(), PatchError> {
    if attr.sub_attr.is_some() {
        return Err(PatchError::invalid_path(format!(
            "a value filter cannot follow the sub-attribute in '{attr}'"
        )));
    }
    let value = match value {
        // Assigning null unassigns: treat it as a removal of the same target.
        Some(Value::Null) | None => {
            return remove_filtered(resource, attr, filter, sub_attr);
        }
        Some(value) => value,
    };
    let Some(container) = container_for(resource, attr, kind == PatchOpKind::Add)? else {
        return Err(PatchError::no_target(format!("'{attr}' has no values")));
    };
    let key = existing_key(container, &attr.attr).unwrap_or_else(|| attr.attr.clone());
    let matching: Vec<usize> = match container.get(&key) {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter(|(_, element)| filter.matches_element(element, &attr.attr))
            .map(|(index, _)| index)
            .collect(),
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            return Err(PatchError::invalid_path(format!(
                "'{attr}' is not a multi-valued attribute"
            )));
        }
    };
    if matching.is_empty() {
        if let Some(element) = element_from_filter(filter, sub_attr, &value)
            .filter(|_| kind == PatchOpKind::Add)
        {
            match container.get_mut(&key) {
                Some(Value::Array(items)) => append_unique(items, vec![element]),
                _ => {
                    container.insert(key, Value::Array(vec![element]));
                }
            }
            return Ok(());
        }
        return Err(PatchError::no_target(format!(
            "no value of '{attr}' matches the filter {filter}"
        )));
    }
    let Some(Value::Array(items)) = container.get_mut(&key) else {
        return Err(PatchError::no_target(format!("'{attr}' has no values")));
    };
    for &index in &matching {
        let Some(element) = items.get_mut(index) else {
            continue;
        };
        match (sub_attr, kind) {
            (Some(sub), _) => match element {
                Value::Object(map) => set_member(map, sub, value.clone(), kind),
                _ => {
                    return Err(PatchError::invalid_path(format!(
                        "'{attr}' values are not complex"
                    )));
                }
            },
            (None, PatchOpKind::Add) => merge_value(element, value.clone(), kind),
            (None, _) => *element = value.clone(),
        }
    }
    if matching
        .iter()
        .any(|&index| items.get(index).is_some_and(is_primary))
    {
        for (index, element) in items.iter_mut().enumerate() {
            if !matching.contains(&index) {
                clear_primary(element);
            }
        }
    }
    Ok(())
}

fn remove_filtered(
    resource: &mut Value,
    attr: &AttrPath,
    filter: &Filter,
    sub_attr: Option<&str>,
) -> Result<(), PatchError> {
    let Some(container) = container_for(resource, attr, false)? else {
        return Ok(());
    };
    let Some(key) = existing_key(container, &attr.attr) else {
        return Ok(());
    };
    if let Some(Value::Array(items)) = container.get_mut(&key) {
        match sub_attr {
            None => {
                items.retain(|element| !filter.matches_element(element, &attr.attr));
                if items.is_empty() {
                    container.remove(&key);
                }
            }
            Some(sub) => {
                for element in items.iter_mut() {
                    if filter.matches_element(element, &attr.attr) {
                        remove_member(element, sub);
                    }
                }
            }
        }
    }
    prune_empty_extension(resource, attr);
    Ok(())
}

/// Builds a new element for `add` to a filter that matched nothing, when the
/// filter is a conjunction of `eq` terms: `emails[type eq "work"].value` with
/// value `"a@b"` gives `{"type": "work", "value": "a@b"}`.
fn element_from_filter(filter: &Filter, sub_attr: Option<&str>, value: &Value) -> Option<Value> {
    fn collect_equalities(filter: &Filter, into: &mut Map<String, Value>) -> bool {
        match filter {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.uri.is_none() && path.sub_attr.is_none() && !value.is_null() => {
                into.insert(path.attr.clone(), value.clone());
                true
            }
            Filter::And(left, right) => {
                collect_equalities(left, into) && collect_equalities(right, into)
            }
            _ => false,
        }
    }
    let mut element = Map::new();
    if !collect_equalities(filter, &mut element) {
        return None;
    }
    match (sub_attr, value) {
        (Some(sub), value) => {
            element.insert(sub.to_string(), value.clone());
        }
        (None, Value::Object(members)) => {
            for (name, member) in members {
                element.insert(name.clone(), member.clone());
            }
        }
        (None, _) => return None,
    }
    Some(Value::Object(element))
}
