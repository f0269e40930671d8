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
        let scim_type = if in_filter { "invalidFilter" } else { "invalidPath" };
        PatchError::new(scim_type, format!("invalid path '{input}': {error}"))
    })
}

/// Parses a PatchOp request body into its operations, validating paths.
pub fn parse_operations(body: &Value) -> Result<Vec<PatchOperation>, PatchError> {
    if !body.is_object() {
        return Err(PatchError::invalid_syntax("the PATCH body must be a JSON object"));
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
    PatchError::new(error.scim_type, format!("operation {index}: {}", error.message))
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
        PatchPath::Filtered { attr, filter, sub_attr } => {
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
    // `urn:...:core:2.0:User:title` is an attribute of a core schema, not a schema.
    if path.sub_attr.is_some() || is_core_schema_uri(uri) {
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
fn apply_keyed_value(resource: &mut Value, key: &str, value: Value, kind: PatchOpKind) -> Result<(), PatchError> {
    let path = parse_attr_path(key).map_err(|e| PatchError::invalid_path(format!("invalid attribute '{key}': {e}")))?;
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
        let mut path =
            parse_attr_path(&key).map_err(|e| PatchError::invalid_path(format!("invalid attribute '{key}': {e}")))?;
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
    let is_active = path.is_top_level() && path.sub_attr.is_none() && path.attr.eq_ignore_ascii_case("active");
    let is_enterprise_manager = path
        .uri
        .as_deref()
        .is_some_and(|uri| uri.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA))
        && path.sub_attr.is_none()
        && path.attr.eq_ignore_ascii_case("manager");
    match value {
        Value::String(text) if is_active && text.eq_ignore_ascii_case("true") => Value::Bool(true),
        Value::String(text) if is_active && text.eq_ignore_ascii_case("false") => Value::Bool(false),
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
        Some(slot @ Value::Null) if create => {
            *slot = Value::Object(Map::new());
            Ok(slot.as_object_mut())
        }
        Some(Value::Object(extension)) => Ok(Some(extension)),
        _ => Err(PatchError::invalid_path(format!("'{key}' is not an extension object"))),
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
    if root
        .get(&key)
        .is_some_and(|ext| ext.as_object().is_some_and(Map::is_empty))
    {
        unlist_schema(root, &key);
    }
}

/// `add`/`replace` of a value at an unfiltered attribute path.
fn set_at_path(resource: &mut Value, path: &AttrPath, value: Value, kind: PatchOpKind) -> Result<(), PatchError> {
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
fn remove_at_path(resource: &mut Value, path: &AttrPath, listed: Option<&Value>) -> Result<(), PatchError> {
    if is_schemas_path(path) {
        return Ok(());
    }
    if let Some(namespace) = schema_namespace(resource, path) {
        return match namespace {
            Namespace::TopLevel => Err(PatchError::invalid_path("the core schema cannot be removed")),
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
        if let Some(element) = element_from_filter(filter, sub_attr, &value).filter(|_| kind == PatchOpKind::Add) {
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
                    return Err(PatchError::invalid_path(format!("'{attr}' values are not complex")));
                }
            },
            (None, PatchOpKind::Add) => merge_value(element, value.clone(), kind),
            (None, _) => *element = value.clone(),
        }
    }
    if matching.iter().any(|&index| items.get(index).is_some_and(is_primary)) {
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
            Filter::And(left, right) => collect_equalities(left, into) && collect_equalities(right, into),
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const MEMBER_1: &str = "2819c223-7f76-453a-919d-413861904646";
    const MEMBER_2: &str = "902c246b-6245-4190-8e05-00816be7344a";

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "userName": "bjensen",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "addresses": [
                {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"},
                {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood"}
            ],
            "meta": {"resourceType": "User", "version": "W/\"a330bc54f0671c9\""}
        })
    }

    fn group() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
            "displayName": "Tour Guides",
            "members": [
                {"value": MEMBER_1, "display": "Babs Jensen"},
                {"value": MEMBER_2, "display": "Mandy Pepperidge"}
            ],
            "meta": {"resourceType": "Group"}
        })
    }

    fn op(kind: PatchOpKind, path: Option<&str>, value: Option<Value>) -> PatchOperation {
        PatchOperation {
            op: kind,
            path: path.map(str::to_string),
            value,
        }
    }

    fn add(path: &str, value: Value) -> PatchOperation {
        op(PatchOpKind::Add, Some(path), Some(value))
    }

    fn replace(path: &str, value: Value) -> PatchOperation {
        op(PatchOpKind::Replace, Some(path), Some(value))
    }

    fn remove(path: &str) -> PatchOperation {
        op(PatchOpKind::Remove, Some(path), None)
    }

    /// Applies one operation to a copy and returns the result.
    fn patched(resource: &Value, operation: PatchOperation) -> Value {
        let mut copy = resource.clone();
        apply_operations(&mut copy, &[operation]).unwrap_or_else(|e| panic!("patch failed: {e}"));
        copy
    }

    fn patch_error(resource: &Value, operation: PatchOperation) -> PatchError {
        let mut copy = resource.clone();
        let error = apply_operations(&mut copy, &[operation]).expect_err("patch should fail");
        assert_eq!(&copy, resource, "a failed patch must not change the resource");
        error
    }

    fn member_ids(group: &Value) -> Vec<&str> {
        group["members"]
            .as_array()
            .map(|members| members.iter().filter_map(|m| m["value"].as_str()).collect())
            .unwrap_or_default()
    }

    // ---- paths ----

    #[test]
    fn parses_patch_paths() {
        assert_eq!(
            parse_patch_path(r#"members[value eq "2819c223"]"#),
            Ok(PatchPath::Filtered {
                attr: AttrPath::new("members"),
                filter: Filter::Compare {
                    path: AttrPath::new("value"),
                    op: CompareOp::Eq,
                    value: json!("2819c223"),
                },
                sub_attr: None,
            })
        );
        assert_eq!(
            parse_patch_path(r#"emails[type eq "work"].value"#),
            Ok(PatchPath::Filtered {
                attr: AttrPath::new("emails"),
                filter: Filter::Compare {
                    path: AttrPath::new("type"),
                    op: CompareOp::Eq,
                    value: json!("work"),
                },
                sub_attr: Some("value".into()),
            })
        );
        assert_eq!(
            parse_patch_path(&format!("{ENTERPRISE}:manager")),
            Ok(PatchPath::Attr(AttrPath {
                uri: Some(ENTERPRISE.into()),
                attr: "manager".into(),
                sub_attr: None,
            }))
        );
        assert_eq!(
            parse_patch_path(&format!("{ENTERPRISE}:manager.value")),
            Ok(PatchPath::Attr(AttrPath {
                uri: Some(ENTERPRISE.into()),
                attr: "manager".into(),
                sub_attr: Some("value".into()),
            }))
        );
        assert_eq!(
            parse_patch_path("name.familyName"),
            Ok(PatchPath::Attr(AttrPath {
                uri: None,
                attr: "name".into(),
                sub_attr: Some("familyName".into()),
            }))
        );
        for bad in ["", "na me", "emails[type eq", "emails[type eq \"w\"].value.x", "a.b.c"] {
            assert!(parse_patch_path(bad).is_err(), "{bad:?}");
        }
    }

    // ---- request bodies ----

    #[test]
    fn parses_a_patch_op_message() {
        let body = json!({
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": MEMBER_1}]},
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "REMOVE", "path": "members[value eq \"x\"]"},
                {"op": "replace", "value": {"active": false}}
            ]
        });
        assert_eq!(
            parse_operations(&body),
            Ok(vec![
                add("members", json!([{"value": MEMBER_1}])),
                replace("active", json!("False")),
                remove(r#"members[value eq "x"]"#),
                op(PatchOpKind::Replace, None, Some(json!({"active": false}))),
            ])
        );
    }

    #[test]
    fn message_keys_are_case_insensitive() {
        let body = json!({
            "schemas": [PATCH_OP_SCHEMA.to_uppercase()],
            "operations": [{"OP": "aDd", "Path": "title", "Value": "Boss"}]
        });
        assert_eq!(parse_operations(&body), Ok(vec![add("title", json!("Boss"))]));
        // schemas may be omitted; a null path means no path.
        let body = json!({"Operations": [{"op": "replace", "path": null, "value": {"a": 1}}]});
        assert_eq!(
            parse_operations(&body),
            Ok(vec![op(PatchOpKind::Replace, None, Some(json!({"a": 1})))])
        );
    }

    #[test]
    fn op_kinds_parse_in_any_case() {
        for (text, kind) in [
            ("add", PatchOpKind::Add),
            ("Add", PatchOpKind::Add),
            ("ADD", PatchOpKind::Add),
            ("replace", PatchOpKind::Replace),
            ("Replace", PatchOpKind::Replace),
            ("remove", PatchOpKind::Remove),
            ("ReMoVe", PatchOpKind::Remove),
        ] {
            assert_eq!(text.parse::<PatchOpKind>(), Ok(kind));
        }
        assert!("move".parse::<PatchOpKind>().is_err());
    }

    #[test]
    fn rejects_malformed_messages() {
        let cases = [
            (json!([]), "invalidSyntax"),
            (
                json!({"schemas": ["urn:wrong"], "Operations": [{"op": "add", "value": {}}]}),
                "invalidSyntax",
            ),
            (json!({"schemas": [PATCH_OP_SCHEMA]}), "invalidSyntax"),
            (json!({"Operations": {}}), "invalidSyntax"),
            (json!({"Operations": []}), "invalidSyntax"),
            (json!({"Operations": ["add"]}), "invalidSyntax"),
            (json!({"Operations": [{"path": "a"}]}), "invalidSyntax"),
            (json!({"Operations": [{"op": "copy", "path": "a"}]}), "invalidSyntax"),
            (
                json!({"Operations": [{"op": "add", "path": 5, "value": 1}]}),
                "invalidPath",
            ),
            (
                json!({"Operations": [{"op": "add", "path": "a b", "value": 1}]}),
                "invalidPath",
            ),
            (
                json!({"Operations": [{"op": "remove", "path": "emails[type eq]"}]}),
                "invalidFilter",
            ),
            (
                json!({"Operations": [{"op": "remove", "path": "emails[type zz \"x\"]"}]}),
                "invalidFilter",
            ),
        ];
        for (body, scim_type) in cases {
            let error = parse_operations(&body).expect_err("body should be rejected");
            assert_eq!(error.scim_type, scim_type, "{body}: {error}");
        }
    }

    #[test]
    fn error_messages_name_the_operation() {
        let body = json!({"Operations": [
            {"op": "add", "path": "a", "value": 1},
            {"op": "nope"}
        ]});
        let error = parse_operations(&body).expect_err("invalid op");
        assert!(error.message.starts_with("operation 1:"), "{}", error.message);
        assert!(error.to_string().starts_with("invalidSyntax: "));
    }

    // ---- add (RFC 7644 §3.5.2.1) ----

    #[test]
    fn rfc_add_members_to_a_group() {
        let group = json!({"id": "g", "displayName": "Tour Guides"});
        let value = json!([{
            "display": "Babs Jensen",
            "$ref": "https://example.com/v2/Users/2819c223...413861904646",
            "value": MEMBER_1
        }]);
        let result = patched(&group, add("members", value.clone()));
        assert_eq!(result["members"], value);
    }

    #[test]
    fn rfc_add_without_path_merges_attributes() {
        let value = json!({
            "emails": [{"value": "babs@jensen.org", "type": "home"}, {"value": "new@jensen.org", "type": "other"}],
            "nickname": "Babs"
        });
        let result = patched(&user(), op(PatchOpKind::Add, None, Some(value)));
        assert_eq!(result["nickname"], json!("Babs"));
        let emails: Vec<&str> = result["emails"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["value"].as_str().unwrap())
            .collect();
        // babs@jensen.org was already present and is not added twice.
        assert_eq!(emails, ["bjensen@example.com", "babs@jensen.org", "new@jensen.org"]);
    }

    #[test]
    fn add_appends_only_missing_members() {
        let result = patched(
            &group(),
            add(
                "members",
                json!([{"value": MEMBER_1, "display": "dup"}, {"value": "third"}]),
            ),
        );
        assert_eq!(member_ids(&result), [MEMBER_1, MEMBER_2, "third"]);
        assert_eq!(result["members"][0]["display"], json!("Babs Jensen"));
        // A single object is appended like a one-element array.
        let result = patched(&group(), add("members", json!({"value": "fourth"})));
        assert_eq!(member_ids(&result), [MEMBER_1, MEMBER_2, "fourth"]);
    }

    #[test]
    fn add_appends_primitive_values_once() {
        let resource = json!({"tags": ["a", "b"]});
        let result = patched(&resource, add("tags", json!(["b", "c"])));
        assert_eq!(result["tags"], json!(["a", "b", "c"]));
    }

    #[test]
    fn add_to_single_valued_attribute_replaces() {
        let result = patched(&user(), add("userName", json!("babs")));
        assert_eq!(result["userName"], json!("babs"));
    }

    #[test]
    fn add_to_complex_attribute_merges_sub_attributes() {
        let result = patched(&user(), add("name", json!({"givenName": "Babs", "middleName": "J"})));
        assert_eq!(
            result["name"],
            json!({"familyName": "Jensen", "givenName": "Babs", "middleName": "J"})
        );
    }

    #[test]
    fn add_creates_missing_attributes_and_extensions() {
        let result = patched(&user(), add("title", json!("Tour Guide")));
        assert_eq!(result["title"], json!("Tour Guide"));
        let result = patched(&user(), add("x509Certificates", json!([{"value": "MIIDQzCC"}])));
        assert_eq!(result["x509Certificates"], json!([{"value": "MIIDQzCC"}]));
        let result = patched(&user(), add("name.honorificPrefix", json!("Ms.")));
        assert_eq!(result["name"]["honorificPrefix"], json!("Ms."));
        assert_eq!(result["name"]["familyName"], json!("Jensen"));
        let result = patched(&json!({}), add("name.givenName", json!("A")));
        assert_eq!(result, json!({"name": {"givenName": "A"}}));

        let result = patched(&user(), add(&format!("{ENTERPRISE}:department"), json!("Sales")));
        assert_eq!(result[ENTERPRISE], json!({"department": "Sales"}));
        assert_eq!(
            result["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE])
        );
    }

    #[test]
    fn add_without_path_accepts_entra_style_keys() {
        let value = json!({
            format!("{ENTERPRISE}:department"): "X",
            "name.givenName": "A",
            "urn:ietf:params:scim:schemas:core:2.0:User:title": "Boss",
            "displayName": "Babs"
        });
        let result = patched(&user(), op(PatchOpKind::Add, None, Some(value)));
        assert_eq!(result[ENTERPRISE]["department"], json!("X"));
        assert_eq!(result["name"], json!({"familyName": "Jensen", "givenName": "A"}));
        assert_eq!(result["title"], json!("Boss"));
        assert_eq!(result["displayName"], json!("Babs"));
    }

    #[test]
    fn add_without_path_merges_extension_objects() {
        let mut resource = user();
        resource[ENTERPRISE] = json!({"employeeNumber": "701984"});
        let value = json!({ENTERPRISE: {"department": "Tour Operations"}});
        let result = patched(&resource, op(PatchOpKind::Add, None, Some(value)));
        assert_eq!(
            result[ENTERPRISE],
            json!({"employeeNumber": "701984", "department": "Tour Operations"})
        );
        // The same through a path naming the whole extension.
        let result = patched(&resource, add(ENTERPRISE, json!({"costCenter": "4130"})));
        assert_eq!(result[ENTERPRISE]["costCenter"], json!("4130"));
        assert_eq!(result[ENTERPRISE]["employeeNumber"], json!("701984"));
    }

    #[test]
    fn core_schema_uri_keys_address_the_top_level() {
        let value = json!({"urn:ietf:params:scim:schemas:core:2.0:User": {"title": "Boss", "name.givenName": "B"}});
        let result = patched(&user(), op(PatchOpKind::Replace, None, Some(value)));
        assert_eq!(result["title"], json!("Boss"));
        assert_eq!(result["name"]["givenName"], json!("B"));
        assert!(result.get("urn:ietf:params:scim:schemas:core:2.0:User").is_none());
        let result = patched(
            &user(),
            add("urn:ietf:params:scim:schemas:core:2.0:User:title", json!("T")),
        );
        assert_eq!(result["title"], json!("T"));
        let error = patch_error(&user(), remove("urn:ietf:params:scim:schemas:core:2.0:User"));
        assert_eq!(error.scim_type, "invalidPath");
    }

    #[test]
    fn add_of_a_primary_value_clears_other_primaries() {
        let result = patched(
            &user(),
            add(
                "emails",
                json!([{"value": "new@x.org", "type": "other", "primary": true}]),
            ),
        );
        assert_eq!(result["emails"][0]["primary"], json!(false));
        assert_eq!(result["emails"][2]["primary"], json!(true));
    }

    #[test]
    fn add_requires_a_value() {
        let error = patch_error(&user(), op(PatchOpKind::Add, Some("title"), None));
        assert_eq!(error.scim_type, "invalidValue");
        let error = patch_error(&user(), op(PatchOpKind::Add, None, Some(json!("x"))));
        assert_eq!(error.scim_type, "invalidValue");
        let error = patch_error(&user(), op(PatchOpKind::Replace, None, None));
        assert_eq!(error.scim_type, "invalidValue");
    }

    #[test]
    fn add_with_filter_sets_sub_attribute_of_matches() {
        let result = patched(&user(), add(r#"emails[type eq "work"].display"#, json!("Work")));
        assert_eq!(result["emails"][0]["display"], json!("Work"));
        assert!(result["emails"][1].get("display").is_none());
    }

    #[test]
    fn entra_add_with_unmatched_filter_creates_the_element() {
        let result = patched(
            &user(),
            add(r#"phoneNumbers[type eq "work"].value"#, json!("555-555-5555")),
        );
        assert_eq!(
            result["phoneNumbers"],
            json!([{"type": "work", "value": "555-555-5555"}])
        );
        let result = patched(&user(), add(r#"emails[type eq "other"].value"#, json!("o@x.org")));
        assert_eq!(result["emails"][2], json!({"type": "other", "value": "o@x.org"}));
        // A filter that does not pin down the element cannot create one.
        let error = patch_error(&user(), add(r#"emails[type co "oth"].value"#, json!("o@x.org")));
        assert_eq!(error.scim_type, "noTarget");
    }

    // ---- remove (RFC 7644 §3.5.2.2) ----

    #[test]
    fn rfc_remove_a_single_member() {
        let result = patched(&group(), remove(&format!("members[value eq \"{MEMBER_1}\"]")));
        assert_eq!(member_ids(&result), [MEMBER_2]);
    }

    #[test]
    fn rfc_remove_all_members() {
        let result = patched(&group(), remove("members"));
        assert!(result.get("members").is_none());
    }

    #[test]
    fn rfc_remove_multi_valued_by_complex_filter() {
        let result = patched(&user(), remove(r#"emails[type eq "work" and value ew "example.com"]"#));
        assert_eq!(result["emails"], json!([{"value": "babs@jensen.org", "type": "home"}]));
    }

    #[test]
    fn rfc_replace_all_members_by_remove_then_add() {
        let mut group = group();
        let ops = [
            remove("members"),
            add("members", json!([{"display": "James Smith", "value": "08e1d05d"}])),
        ];
        apply_operations(&mut group, &ops).unwrap();
        assert_eq!(member_ids(&group), ["08e1d05d"]);
    }

    #[test]
    fn removing_the_last_element_removes_the_attribute() {
        let group = json!({"id": "g", "members": [{"value": "only"}]});
        let result = patched(&group, remove(r#"members[value eq "only"]"#));
        assert_eq!(result, json!({"id": "g"}));
    }

    #[test]
    fn remove_sub_attribute_of_matching_elements() {
        let result = patched(&user(), remove(r#"emails[type eq "work"].primary"#));
        assert_eq!(
            result["emails"][0],
            json!({"value": "bjensen@example.com", "type": "work"})
        );
        let result = patched(&user(), remove("name.givenName"));
        assert_eq!(result["name"], json!({"familyName": "Jensen"}));
        let result = patched(&result, remove("name.familyName"));
        assert!(result.get("name").is_none(), "an emptied complex attribute is removed");
    }

    #[test]
    fn remove_requires_a_path() {
        let error = patch_error(&group(), op(PatchOpKind::Remove, None, None));
        assert_eq!(error.scim_type, "noTarget");
    }

    #[test]
    fn removing_absent_targets_is_a_no_op() {
        let user = user();
        assert_eq!(patched(&user, remove("nickName")), user);
        assert_eq!(patched(&user, remove("name.middleName")), user);
        assert_eq!(patched(&user, remove(&format!("{ENTERPRISE}:department"))), user);
        assert_eq!(patched(&user, remove(r#"emails[type eq "other"]"#)), user);
        assert_eq!(patched(&user, remove(r#"ims[type eq "xmpp"]"#)), user);
    }

    #[test]
    fn entra_remove_members_listed_in_value() {
        let operation = op(
            PatchOpKind::Remove,
            Some("members"),
            Some(json!([{"value": MEMBER_2}, {"value": "not-a-member"}])),
        );
        let result = patched(&group(), operation);
        assert_eq!(member_ids(&result), [MEMBER_1]);
        let operation = op(
            PatchOpKind::Remove,
            Some("members"),
            Some(json!([{"value": MEMBER_1}, {"value": MEMBER_2}])),
        );
        assert!(patched(&group(), operation).get("members").is_none());
    }

    #[test]
    fn removing_the_last_extension_attribute_removes_the_extension() {
        let mut resource = user();
        resource[ENTERPRISE] = json!({"department": "Sales"});
        resource["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE]);
        let result = patched(&resource, remove(&format!("{ENTERPRISE}:department")));
        assert!(result.get(ENTERPRISE).is_none());
        assert_eq!(result["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:User"]));
        let result = patched(&resource, remove(ENTERPRISE));
        assert!(result.get(ENTERPRISE).is_none());
    }

    // ---- replace (RFC 7644 §3.5.2.3) ----

    #[test]
    fn rfc_replace_all_members() {
        let result = patched(
            &group(),
            replace("members", json!([{"display": "James Smith", "value": "08e1d05d"}])),
        );
        assert_eq!(member_ids(&result), ["08e1d05d"]);
    }

    #[test]
    fn rfc_replace_an_element_selected_by_filter() {
        let value = json!({
            "type": "work",
            "streetAddress": "911 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "US",
            "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
            "primary": true
        });
        let mut resource = user();
        resource["addresses"][1]["primary"] = json!(true);
        let result = patched(&resource, replace(r#"addresses[type eq "work"]"#, value.clone()));
        assert_eq!(result["addresses"][0], value);
        assert_eq!(result["addresses"][1]["primary"], json!(false));
    }

    #[test]
    fn rfc_replace_a_sub_attribute_selected_by_filter() {
        let result = patched(
            &user(),
            replace(r#"addresses[type eq "work"].streetAddress"#, json!("1010 Broadway Ave")),
        );
        assert_eq!(result["addresses"][0]["streetAddress"], json!("1010 Broadway Ave"));
        assert_eq!(result["addresses"][0]["locality"], json!("Hollywood"));
        assert_eq!(result["addresses"][1]["streetAddress"], json!("456 Hollywood Blvd"));
    }

    #[test]
    fn rfc_replace_without_path() {
        let value = json!({
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "nickname": "Babs"
        });
        let result = patched(&user(), op(PatchOpKind::Replace, None, Some(value)));
        assert_eq!(
            result["emails"],
            json!([{"value": "bjensen@example.com", "type": "work", "primary": true}])
        );
        assert_eq!(result["nickname"], json!("Babs"));
        assert_eq!(result["userName"], json!("bjensen"));
    }

    #[test]
    fn replace_of_complex_attribute_keeps_unnamed_sub_attributes() {
        let result = patched(&user(), replace("name", json!({"givenName": "Babs"})));
        assert_eq!(result["name"], json!({"familyName": "Jensen", "givenName": "Babs"}));
    }

    #[test]
    fn replace_with_unmatched_filter_is_no_target() {
        let error = patch_error(&user(), replace(r#"emails[type eq "other"].value"#, json!("x")));
        assert_eq!(error.scim_type, "noTarget");
        let error = patch_error(&user(), replace(r#"ims[type eq "xmpp"]"#, json!({"value": "x"})));
        assert_eq!(error.scim_type, "noTarget");
    }

    #[test]
    fn replace_creates_missing_attributes() {
        let result = patched(&user(), replace("title", json!("Boss")));
        assert_eq!(result["title"], json!("Boss"));
    }

    #[test]
    fn replace_with_null_unassigns() {
        let result = patched(&user(), replace("name", Value::Null));
        assert!(result.get("name").is_none());
        let result = patched(&group(), replace("members", json!([])));
        assert!(result.get("members").is_none());
    }

    #[test]
    fn okta_deactivates_without_path() {
        let body = json!({
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [{"op": "replace", "value": {"active": false}}]
        });
        let ops = parse_operations(&body).unwrap();
        let mut resource = user();
        apply_operations(&mut resource, &ops).unwrap();
        assert_eq!(resource["active"], json!(false));
    }

    #[test]
    fn entra_string_booleans_become_booleans_for_active() {
        let body = json!({
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
        });
        let mut resource = user();
        apply_operations(&mut resource, &parse_operations(&body).unwrap()).unwrap();
        assert_eq!(resource["active"], json!(false));
        let result = patched(&resource, replace("active", json!("True")));
        assert_eq!(result["active"], json!(true));
        let result = patched(
            &resource,
            op(PatchOpKind::Replace, None, Some(json!({"active": "true"}))),
        );
        assert_eq!(result["active"], json!(true));
        // Only `active` is coerced.
        let result = patched(&resource, replace("title", json!("False")));
        assert_eq!(result["title"], json!("False"));
    }

    #[test]
    fn entra_add_and_remove_group_members() {
        let body = json!({
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [
                {"op": "Add", "path": "members", "value": [{"value": "new-id"}]},
                {"op": "Remove", "path": "members", "value": [{"value": MEMBER_1}]}
            ]
        });
        let mut resource = group();
        apply_operations(&mut resource, &parse_operations(&body).unwrap()).unwrap();
        assert_eq!(member_ids(&resource), [MEMBER_2, "new-id"]);
    }

    #[test]
    fn entra_manager_string_becomes_a_reference() {
        let result = patched(&user(), add(&format!("{ENTERPRISE}:manager"), json!("mgr-1")));
        assert_eq!(result[ENTERPRISE]["manager"], json!({"value": "mgr-1"}));
        let result = patched(&result, replace(&format!("{ENTERPRISE}:manager.value"), json!("mgr-2")));
        assert_eq!(result[ENTERPRISE]["manager"], json!({"value": "mgr-2"}));
    }

    #[test]
    fn replace_without_path_updates_extension_attributes_only() {
        let mut resource = user();
        resource[ENTERPRISE] = json!({"employeeNumber": "701984", "department": "Sales"});
        let value = json!({ENTERPRISE: {"department": "Support"}});
        let result = patched(&resource, op(PatchOpKind::Replace, None, Some(value)));
        assert_eq!(
            result[ENTERPRISE],
            json!({"employeeNumber": "701984", "department": "Support"})
        );
    }

    // ---- names, read-only attributes, atomicity ----

    #[test]
    fn attribute_names_match_existing_keys_ignoring_case() {
        let result = patched(&user(), replace("USERNAME", json!("babs")));
        assert_eq!(result["userName"], json!("babs"));
        assert!(result.get("USERNAME").is_none());
        let result = patched(&user(), replace("Name.GivenName", json!("B")));
        assert_eq!(result["name"]["givenName"], json!("B"));
        let result = patched(
            &user(),
            op(
                PatchOpKind::Replace,
                None,
                Some(json!({"DisplayName": "x", "ACTIVE": false})),
            ),
        );
        assert_eq!(result["active"], json!(false));
        assert_eq!(result["DisplayName"], json!("x"));
        let result = patched(
            &group(),
            remove(r#"MEMBERS[VALUE eq "902c246b-6245-4190-8e05-00816be7344a"]"#),
        );
        assert_eq!(member_ids(&result), [MEMBER_1]);
    }

    #[test]
    fn read_only_attributes_may_not_change() {
        let user = user();
        for operation in [
            replace("id", json!("other")),
            remove("id"),
            remove("meta"),
            replace("meta.resourceType", json!("Group")),
            add("meta.created", json!("2011-08-01T18:29:49.793Z")),
            op(PatchOpKind::Replace, None, Some(json!({"id": "other"}))),
            op(PatchOpKind::Add, None, Some(json!({"ID": "other"}))),
        ] {
            let error = patch_error(&user, operation.clone());
            assert_eq!(error.scim_type, "mutability", "{operation:?}");
        }
        // Restating the current values is allowed (Okta sends the id back).
        let same = json!({"id": user["id"].clone(), "meta": {"resourceType": "User"}, "active": false});
        let result = patched(&user, op(PatchOpKind::Replace, None, Some(same)));
        assert_eq!(result["active"], json!(false));
        assert_eq!(result["meta"], user["meta"]);
    }

    #[test]
    fn schemas_is_ignored() {
        let user = user();
        assert_eq!(patched(&user, replace("schemas", json!(["x"]))), user);
        assert_eq!(patched(&user, remove("schemas")), user);
        let result = patched(
            &user,
            op(PatchOpKind::Add, None, Some(json!({"schemas": ["x"], "title": "t"}))),
        );
        assert_eq!(result["schemas"], user["schemas"]);
        assert_eq!(result["title"], json!("t"));
    }

    #[test]
    fn failed_patch_leaves_resource_unchanged() {
        let mut resource = user();
        let ops = [
            replace("userName", json!("changed")),
            replace(r#"emails[type eq "nope"].value"#, json!("x")),
        ];
        let error = apply_operations(&mut resource, &ops).expect_err("second op fails");
        assert_eq!(error.scim_type, "noTarget");
        assert!(error.message.starts_with("operation 1:"));
        assert_eq!(resource, user());
    }

    #[test]
    fn invalid_paths_are_reported() {
        let error = patch_error(&user(), replace("a b", json!(1)));
        assert_eq!(error.scim_type, "invalidPath");
        let error = patch_error(&user(), replace(r#"emails[type eq "work""#, json!(1)));
        assert_eq!(error.scim_type, "invalidFilter");
        let error = patch_error(&user(), replace("userName.first", json!(1)));
        assert_eq!(error.scim_type, "invalidPath");
        let error = patch_error(&user(), replace(r#"userName[value eq "x"]"#, json!(1)));
        assert_eq!(error.scim_type, "invalidPath");
        let error = patch_error(&user(), op(PatchOpKind::Add, None, Some(json!({"a b": 1}))));
        assert_eq!(error.scim_type, "invalidPath");
        let mut not_object = json!([1]);
        let error = apply_operations(&mut not_object, &[remove("a")]).expect_err("not an object");
        assert_eq!(error.scim_type, "invalidValue");
    }

    // ---- properties ----

    fn arb_member_ids() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec("[a-c]{1,2}", 0..6)
    }

    fn group_with(ids: &[String]) -> Value {
        let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
        json!({"id": "g", "members": members})
    }

    proptest! {
        #[test]
        fn adding_members_is_idempotent_and_keeps_them_unique(
            existing in arb_member_ids(),
            added in arb_member_ids(),
        ) {
            let mut unique_existing: Vec<String> = Vec::new();
            for id in existing {
                if !unique_existing.contains(&id) {
                    unique_existing.push(id);
                }
            }
            let value = Value::Array(added.iter().map(|id| json!({"value": id})).collect());
            let mut once = group_with(&unique_existing);
            apply_operations(&mut once, &[add("members", value.clone())]).unwrap();
            let mut twice = once.clone();
            apply_operations(&mut twice, &[add("members", value)]).unwrap();
            prop_assert_eq!(&once, &twice);
            let ids = member_ids(&once);
            // Existing members keep their order and come first.
            prop_assert_eq!(&ids[..unique_existing.len()], unique_existing.as_slice());
            for id in &added {
                prop_assert!(ids.contains(&id.as_str()));
            }
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), ids.len());
        }

        #[test]
        fn removing_a_member_by_filter_removes_exactly_it(
            ids in arb_member_ids(),
            target in "[a-c]{1,2}",
        ) {
            let mut group = group_with(&ids);
            let path = format!("members[value eq \"{target}\"]");
            apply_operations(&mut group, &[remove(&path)]).unwrap();
            let expected: Vec<&str> = ids.iter().map(String::as_str).filter(|id| *id != target).collect();
            prop_assert_eq!(member_ids(&group), expected.clone());
            prop_assert_eq!(group.get("members").is_some(), !expected.is_empty());
        }

        #[test]
        fn patching_never_panics(path in "[a-zA-Z\\[\\]\". :]{0,30}", value in any::<i64>()) {
            let mut resource = user();
            for kind in [PatchOpKind::Add, PatchOpKind::Replace, PatchOpKind::Remove] {
                let _ = apply_operations(&mut resource, &[op(kind, Some(&path), Some(json!(value)))]);
            }
        }
    }
}
