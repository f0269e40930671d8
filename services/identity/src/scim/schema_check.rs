//! Checking what a client sends against the schemas of `schema`: nothing outside them is
//! stored, and nothing is shown that Latch does not hold.
//!
//! * POST and PUT bodies: an attribute, sub-attribute or extension the schemas do not define is
//!   refused (`invalidValue`, naming the attribute path), and so is a value of the wrong type.
//!   Read-only attributes (`id`, `meta`, a user's `groups`) are ignored, as RFC 7644 §3.5.1 asks.
//! * PATCH: every path, and every key of a path-less value (which is a path too), must name an
//!   attribute of the schemas (`invalidPath`; a value filter on an unknown sub-attribute is
//!   `invalidFilter`); an operation that changes a read-only attribute is `mutability`; the
//!   patched resource is then checked like a PUT body (`invalidValue`).

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{AttrPath, Filter, get_ignore_case, parse_attr_path};
use super::patch::{PatchError, PatchOperation, PatchPath, apply_operations, parse_patch_path};
use super::schema::{Attribute, AttributeType, Mutability, ResourceKind, Schema};

/// The longest attribute name quoted back in an error; longer ones are cut.
const MAX_QUOTED: usize = 120;

/// `name` as an error shows it: at most [`MAX_QUOTED`] characters, control characters escaped.
fn quoted(name: &str) -> String {
    let mut shown: String = name.chars().take(MAX_QUOTED).collect();
    if shown.len() < name.len() {
        shown.push('…');
    }
    format!("{shown:?}")
}

fn invalid_value(detail: String) -> ScimError {
    ScimError::bad_request("invalidValue", detail)
}

/// Checks a POST or PUT body (or a patched resource) of `kind` against its schemas.
pub fn check_resource(kind: ResourceKind, body: &Value) -> Result<(), ScimError> {
    let Some(object) = body.as_object() else {
        return Err(ScimError::bad_request(
            "invalidSyntax",
            "the body must be a JSON object",
        ));
    };
    for (key, value) in object {
        if key.eq_ignore_ascii_case("schemas") {
            check_schemas_list(kind, value)?;
        } else if let Some(attribute) = kind.top_level_attribute(key) {
            // RFC 7644 §3.5.1: values of read-only attributes are ignored.
            if attribute.mutability != Mutability::ReadOnly {
                check_value(attribute, value, key)?;
            }
        } else if let Some(extension) = kind.extension(key) {
            check_extension(extension, value)?;
        } else {
            return Err(invalid_value(format!(
                "{}: is not an attribute of the {} schema or its extensions (see /Schemas)",
                quoted(key),
                kind.name()
            )));
        }
    }
    Ok(())
}

/// `schemas` lists the core schema and extensions of this resource type, nothing else.
fn check_schemas_list(kind: ResourceKind, value: &Value) -> Result<(), ScimError> {
    let Some(uris) = value.as_array() else {
        return Err(invalid_value("schemas: must be a list of schema URIs".into()));
    };
    for uri in uris {
        let known = uri
            .as_str()
            .is_some_and(|uri| kind.core().id.eq_ignore_ascii_case(uri) || kind.extension(uri).is_some());
        if !known {
            let shown = uri.as_str().map_or_else(|| uri.to_string(), str::to_string);
            return Err(invalid_value(format!(
                "schemas: {} is not a schema of {} resources (see /ResourceTypes)",
                quoted(&shown),
                kind.name()
            )));
        }
    }
    Ok(())
}

fn check_extension(extension: &Schema, value: &Value) -> Result<(), ScimError> {
    let members = match value {
        Value::Null => return Ok(()),
        Value::Object(members) => members,
        _ => {
            return Err(invalid_value(format!(
                "{}: must be an object of the extension's attributes",
                extension.id
            )));
        }
    };
    for (key, value) in members {
        let path = format!("{}:{key}", extension.id);
        let Some(attribute) = extension.attribute(key) else {
            return Err(invalid_value(format!(
                "{}: is not an attribute of {}",
                quoted(&path),
                extension.name
            )));
        };
        check_value(attribute, value, &path)?;
    }
    Ok(())
}

/// Checks one attribute's value: a list for a multi-valued attribute, the right type for each
/// value, and only known sub-attributes in a complex one. `null` unassigns and is always fine.
pub fn check_value(attribute: &Attribute, value: &Value, path: &str) -> Result<(), ScimError> {
    match (value, attribute.multi_valued) {
        (Value::Null, _) => Ok(()),
        (Value::Array(items), true) => items
            .iter()
            .enumerate()
            .try_for_each(|(index, item)| check_single(attribute, item, &format!("{path}[{index}]"))),
        (_, true) => Err(invalid_value(format!("{}: must be a list", quoted(path)))),
        (Value::Array(_), false) => Err(invalid_value(format!("{}: takes a single value", quoted(path)))),
        (value, false) => check_single(attribute, value, path),
    }
}

fn check_single(attribute: &Attribute, value: &Value, path: &str) -> Result<(), ScimError> {
    let fits = match attribute.kind {
        AttributeType::String | AttributeType::Reference | AttributeType::DateTime => value.is_string(),
        // Entra ID sends booleans as "True" and "False".
        AttributeType::Boolean => {
            value.is_boolean()
                || value
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false"))
        }
        AttributeType::Complex => match value {
            Value::Object(members) => return check_complex(attribute, members, path),
            // `"manager": "id"`: a bare value stands for `{"value": "id"}` (Entra ID sends it).
            Value::String(_) => !attribute.multi_valued && attribute.sub_attribute("value").is_some(),
            _ => false,
        },
    };
    if fits {
        Ok(())
    } else {
        Err(invalid_value(format!(
            "{}: must be {}",
            quoted(path),
            match attribute.kind {
                AttributeType::Boolean => "true or false",
                AttributeType::Complex => "an object",
                _ => "a string",
            }
        )))
    }
}

fn check_complex(attribute: &Attribute, members: &Map<String, Value>, path: &str) -> Result<(), ScimError> {
    for (key, value) in members {
        let sub_path = format!("{path}.{key}");
        let Some(sub) = attribute.sub_attribute(key) else {
            return Err(invalid_value(format!(
                "{}: is not a sub-attribute of {}",
                quoted(&sub_path),
                attribute.name
            )));
        };
        check_value(sub, value, &sub_path)?;
    }
    Ok(())
}

/// What a PATCH path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `schemas`, which PATCH ignores as a target.
    SchemasList,
    /// A whole schema: the core one (`urn:...:core:2.0:User`) or an extension.
    Schema,
    /// An attribute, perhaps with a sub-attribute.
    Attribute {
        attribute: &'static Attribute,
        sub_attribute: Option<&'static Attribute>,
    },
}

/// Resolves an attribute path (`name.givenName`, `urn:...:enterprise:2.0:User:manager.value`,
/// a whole extension URI) against the schemas of `kind`; anything else is `invalidPath`.
pub fn resolve_path(kind: ResourceKind, path: &AttrPath) -> Result<Target, PatchError> {
    let unknown = || {
        PatchError::new(
            "invalidPath",
            format!(
                "{}: is not an attribute of the {} schema or its extensions (see /Schemas)",
                quoted(&path.to_string()),
                kind.name()
            ),
        )
    };
    let attribute = match path.uri.as_deref() {
        None if path.attr.eq_ignore_ascii_case("schemas") && path.sub_attr.is_none() => {
            return Ok(Target::SchemasList);
        }
        None => kind.top_level_attribute(&path.attr),
        Some(uri) if kind.core().id.eq_ignore_ascii_case(uri) => kind.top_level_attribute(&path.attr),
        Some(uri) => match kind.extension(uri) {
            Some(extension) => extension.attribute(&path.attr),
            None => {
                // `urn:...:enterprise:2.0:User` parses as the attribute `User` of `urn:...:2.0`.
                let whole = format!("{uri}:{}", path.attr);
                let names_schema = kind.core().id.eq_ignore_ascii_case(&whole) || kind.extension(&whole).is_some();
                return if names_schema && path.sub_attr.is_none() {
                    Ok(Target::Schema)
                } else {
                    Err(unknown())
                };
            }
        },
    }
    .ok_or_else(unknown)?;
    let sub_attribute = match &path.sub_attr {
        None => None,
        Some(sub) => Some(attribute.sub_attribute(sub).ok_or_else(|| {
            PatchError::new(
                "invalidPath",
                format!(
                    "{}: {} has no sub-attribute {}",
                    quoted(&path.to_string()),
                    attribute.name,
                    quoted(sub)
                ),
            )
        })?),
    };
    Ok(Target::Attribute {
        attribute,
        sub_attribute,
    })
}

/// Checks every operation's path (and the keys of a path-less value) against the schemas, and
/// the values given for a multi-valued attribute (a group's `members`, say), which a group's
/// member-only PATCH applies without building the whole resource.
pub fn check_operations(kind: ResourceKind, operations: &[PatchOperation]) -> Result<(), PatchError> {
    for (index, operation) in operations.iter().enumerate() {
        check_operation(kind, operation)
            .map_err(|e| PatchError::new(e.scim_type, format!("operation {index}: {}", e.message)))?;
    }
    Ok(())
}

fn check_operation(kind: ResourceKind, operation: &PatchOperation) -> Result<(), PatchError> {
    let Some(path) = &operation.path else {
        // Each key of a path-less value is an attribute path (Entra ID sends
        // `"urn:...:enterprise:2.0:User:department"` and `"name.givenName"`).
        if let Some(Value::Object(members)) = &operation.value {
            for (key, value) in members {
                check_keyed_path(kind, key, value)?;
            }
        }
        return Ok(());
    };
    let parsed = parse_patch_path(path)
        .map_err(|e| PatchError::new("invalidPath", format!("invalid path {}: {e}", quoted(path))))?;
    match parsed {
        PatchPath::Attr(attr) => {
            let target = resolve_path(kind, &attr)?;
            if target == Target::Schema
                && let Some(Value::Object(members)) = &operation.value
            {
                let uri = format!("{}:{}", attr.uri.as_deref().unwrap_or_default(), attr.attr);
                for key in members.keys() {
                    check_keyed_path(kind, &format!("{uri}:{key}"), &Value::Null)?;
                }
            }
            if let Target::Attribute {
                attribute,
                sub_attribute: None,
            } = target
                && attribute.multi_valued
                && let Some(value) = operation.value.as_ref().filter(|v| !v.is_null())
            {
                let elements = match value {
                    Value::Array(_) => value.clone(),
                    single => Value::Array(vec![single.clone()]),
                };
                check_value(attribute, &elements, attribute.name)
                    .map_err(|e| PatchError::new("invalidValue", e.detail))?;
            }
            Ok(())
        }
        PatchPath::Filtered { attr, filter, sub_attr } => {
            let Target::Attribute {
                attribute,
                sub_attribute: None,
            } = resolve_path(kind, &attr)?
            else {
                return Err(PatchError::new(
                    "invalidPath",
                    format!("{}: a value filter needs a multi-valued attribute", quoted(path)),
                ));
            };
            if !(attribute.multi_valued && attribute.kind == AttributeType::Complex) {
                return Err(PatchError::new(
                    "invalidPath",
                    format!(
                        "{}: {} is not a multi-valued complex attribute",
                        quoted(path),
                        attribute.name
                    ),
                ));
            }
            check_filter(attribute, &filter)?;
            if let Some(sub) = &sub_attr
                && attribute.sub_attribute(sub).is_none()
            {
                return Err(PatchError::new(
                    "invalidPath",
                    format!(
                        "{}: {} has no sub-attribute {}",
                        quoted(path),
                        attribute.name,
                        quoted(sub)
                    ),
                ));
            }
            Ok(())
        }
    }
}

/// One key of a path-less value: an attribute path, or a whole schema whose object value's keys
/// are attributes of that schema.
fn check_keyed_path(kind: ResourceKind, key: &str, value: &Value) -> Result<(), PatchError> {
    let path = parse_attr_path(key)
        .map_err(|e| PatchError::new("invalidPath", format!("{}: is not an attribute path: {e}", quoted(key))))?;
    if resolve_path(kind, &path)? == Target::Schema
        && let Value::Object(members) = value
    {
        for inner in members.keys() {
            check_keyed_path(kind, &format!("{key}:{inner}"), &Value::Null)?;
        }
    }
    Ok(())
}

/// The attributes a value filter compares must be sub-attributes of the filtered attribute.
fn check_filter(attribute: &Attribute, filter: &Filter) -> Result<(), PatchError> {
    let check_path = |path: &AttrPath| {
        let known = path.uri.is_none() && path.sub_attr.is_none() && attribute.sub_attribute(&path.attr).is_some();
        if known {
            Ok(())
        } else {
            Err(PatchError::new(
                "invalidFilter",
                format!(
                    "{}: is not a sub-attribute of {}",
                    quoted(&path.to_string()),
                    attribute.name
                ),
            ))
        }
    };
    match filter {
        Filter::Compare { path, .. } | Filter::Present(path) => check_path(path),
        Filter::And(left, right) | Filter::Or(left, right) => {
            check_filter(attribute, left)?;
            check_filter(attribute, right)
        }
        Filter::Not(inner) => check_filter(attribute, inner),
        Filter::ValuePath { path, .. } => check_path(path),
    }
}

/// Applies a PATCH to a resource of `kind` in its GET representation, checked against the
/// schemas (see the module docs). On any error the resource is left unchanged.
pub fn apply_patch(kind: ResourceKind, resource: &mut Value, operations: &[PatchOperation]) -> Result<(), PatchError> {
    check_operations(kind, operations)?;
    let mut patched = resource.clone();
    apply_operations(&mut patched, operations)?;
    for name in kind.read_only_attributes() {
        if get_ignore_case(resource, name) != get_ignore_case(&patched, name) {
            return Err(PatchError::new(
                "mutability",
                format!("attribute '{name}' is read-only"),
            ));
        }
    }
    check_resource(kind, &patched).map_err(|e| PatchError::new(e.scim_type.unwrap_or("invalidValue"), e.detail))?;
    *resource = patched;
    Ok(())
}

/// Keeps only the attributes of the core schema that a client may write and whose values fit
/// it: what Latch shows of the attributes it keeps verbatim. A value stored before the schema
/// was enforced (a `roles` claim, say) is never shown.
pub fn retain_known(kind: ResourceKind, object: &mut Map<String, Value>) {
    object.retain(|key, value| {
        kind.core()
            .attribute(key)
            .is_some_and(|a| a.mutability == Mutability::ReadWrite && check_value(a, value, key).is_ok())
    });
}

#[cfg(test)]
mod tests;
