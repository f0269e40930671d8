//! SCIM User and Group representations and their mapping to and from the directory.

use serde_json::{Map, Value, json};

use super::discovery::{ENTERPRISE_SCHEMA, GROUP_SCHEMA, LATCH_SCHEMA, USER_SCHEMA};
use super::error::ScimError;
use super::filter::get_ignore_case;
use super::schema::ResourceKind;
use super::schema_check::{check_resource, retain_known};
use crate::domain::directory::Directory;
use crate::domain::group::{Group, Member, MemberKind};
use crate::domain::user::{self as user_attr, Attributes, User, UserDraft};
use crate::service::GroupDraft;

/// Enterprise extension fields and the Latch attribute each maps to.
const ENTERPRISE_FIELDS: &[(&str, &str)] = &[
    ("employeeNumber", user_attr::EMPLOYEE_NUMBER),
    ("costCenter", user_attr::COST_CENTER),
    ("organization", user_attr::ORGANIZATION),
    ("division", user_attr::DIVISION),
    ("department", user_attr::DEPARTMENT),
];

/// Core attributes Latch models itself (the schema's other core attributes are kept verbatim
/// in `scim_extra`; attributes outside the schema are refused by `check_resource`).
/// `password` is deliberately absent from both: Latch never stores one.
const MODELLED_USER_KEYS: &[&str] = &[
    "schemas",
    "id",
    "meta",
    "userName",
    "displayName",
    "active",
    "title",
    "userType",
    "externalId",
    "groups",
    "password",
];

fn time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn single(attributes: &Attributes, key: &str) -> Option<Value> {
    attributes
        .get(key)
        .and_then(|values| values.first())
        .map(|v| Value::String(v.clone()))
}

pub fn user_json(user: &User, directory: &Directory, base: &str) -> Value {
    let mut object: Map<String, Value> = user.scim_extra.clone();
    // Only what the schema defines is shown, whatever an older version stored.
    retain_known(ResourceKind::User, &mut object);
    let mut schemas = vec![Value::from(USER_SCHEMA)];
    object.insert("id".into(), user.id.clone().into());
    if let Some(external_id) = &user.external_id {
        object.insert("externalId".into(), external_id.clone().into());
    }
    object.insert("userName".into(), user.user_name.clone().into());
    object.insert("displayName".into(), user.display_name.clone().into());
    object.insert("active".into(), user.active.into());
    if let Some(title) = single(&user.attributes, user_attr::TITLE) {
        object.insert("title".into(), title);
    }
    if let Some(kind) = single(&user.attributes, user_attr::EMPLOYMENT_TYPE) {
        object.insert("userType".into(), kind);
    }
    // The primary email is Latch's `email` (which the API may change); the other entries are
    // kept as the identity provider sent them.
    match object.get_mut("emails").and_then(Value::as_array_mut) {
        Some(emails) if !emails.is_empty() => {
            let primary = emails
                .iter()
                .position(|e| get_ignore_case(e, "primary").and_then(Value::as_bool) == Some(true))
                .unwrap_or(0);
            if user.email.is_empty() {
                emails.remove(primary);
            } else if let Some(entry) = emails[primary].as_object_mut() {
                entry.insert("value".into(), user.email.clone().into());
            }
            if emails.is_empty() {
                object.remove("emails");
            }
        }
        _ if !user.email.is_empty() => {
            object.insert(
                "emails".into(),
                json!([{ "value": user.email, "type": "work", "primary": true }]),
            );
        }
        _ => {
            object.remove("emails");
        }
    }
    let groups: Vec<Value> = directory
        .direct_groups_of_user(&user.id)
        .iter()
        .map(|g| json!({ "value": g.id, "display": g.display_name, "$ref": format!("{base}/Groups/{}", g.id), "type": "direct" }))
        .collect();
    if !groups.is_empty() {
        object.insert("groups".into(), groups.into());
    }
    let mut enterprise = Map::new();
    for (scim, latch) in ENTERPRISE_FIELDS {
        if let Some(value) = single(&user.attributes, latch) {
            enterprise.insert((*scim).into(), value);
        }
    }
    if let Some(manager_id) = &user.manager_id {
        let display = directory
            .user(manager_id)
            .map(|m| m.display_name.clone())
            .unwrap_or_default();
        enterprise.insert(
            "manager".into(),
            json!({ "value": manager_id, "displayName": display, "$ref": format!("{base}/Users/{manager_id}") }),
        );
    }
    if !enterprise.is_empty() {
        schemas.push(ENTERPRISE_SCHEMA.into());
        object.insert(ENTERPRISE_SCHEMA.into(), enterprise.into());
    }
    let custom: Vec<Value> = user
        .attributes
        .iter()
        .filter(|(key, _)| !is_mapped_attribute(key))
        .flat_map(|(key, values)| values.iter().map(move |value| json!({ "name": key, "value": value })))
        .collect();
    if !custom.is_empty() {
        schemas.push(LATCH_SCHEMA.into());
        object.insert(LATCH_SCHEMA.into(), json!({ "attributes": custom }));
    }
    object.insert("schemas".into(), schemas.into());
    object.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": time(user.created_at),
            "lastModified": time(user.updated_at),
            "location": format!("{base}/Users/{}", user.id),
            "version": user.etag(),
        }),
    );
    Value::Object(object)
}

/// Attributes that have a SCIM home of their own (so they are not repeated in the Latch extension).
fn is_mapped_attribute(key: &str) -> bool {
    key == user_attr::TITLE
        || key == user_attr::EMPLOYMENT_TYPE
        || key == user_attr::LOCATION
        || ENTERPRISE_FIELDS.iter().any(|(_, latch)| *latch == key)
}

fn string_at<'v>(object: &'v Value, key: &str) -> Option<&'v str> {
    get_ignore_case(object, key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn as_bool(field: &str, value: &Value) -> Result<bool, ScimError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::bad_request(
            "invalidValue",
            format!("{field} must be a boolean"),
        )),
    }
}

/// The primary (else the first) element of a multi-valued attribute.
fn primary<'v>(object: &'v Value, key: &str) -> Option<&'v Value> {
    let items = get_ignore_case(object, key)?.as_array()?;
    items
        .iter()
        .find(|item| get_ignore_case(item, "primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| items.first())
}

/// Reads a SCIM User as sent by a client (POST, PUT, or the result of a PATCH).
pub fn user_draft(body: &Value, directory: &Directory) -> Result<UserDraft, ScimError> {
    check_resource(ResourceKind::User, body)?;
    let user_name = string_at(body, "userName")
        .ok_or_else(|| ScimError::bad_request("invalidValue", "userName is required"))?
        .to_string();
    let mut attributes = Attributes::new();
    let mut set = |key: &str, value: Option<&str>| {
        if let Some(value) = value {
            attributes.insert(key.to_string(), vec![value.to_string()]);
        }
    };
    set(user_attr::TITLE, string_at(body, "title"));
    set(user_attr::EMPLOYMENT_TYPE, string_at(body, "userType"));
    set(
        user_attr::LOCATION,
        primary(body, "addresses").and_then(|a| string_at(a, "locality")),
    );
    let mut manager_id = None;
    if let Some(enterprise) = get_ignore_case(body, ENTERPRISE_SCHEMA) {
        for (scim, latch) in ENTERPRISE_FIELDS {
            set(latch, string_at(enterprise, scim));
        }
        let manager = get_ignore_case(enterprise, "manager");
        let reference = match manager {
            Some(Value::String(s)) => Some(s.trim()),
            Some(object @ Value::Object(_)) => string_at(object, "value"),
            _ => None,
        }
        .filter(|s| !s.is_empty());
        if let Some(reference) = reference {
            let manager = directory
                .user(reference)
                .or_else(|| directory.find_user(reference))
                .ok_or_else(|| {
                    ScimError::bad_request(
                        "invalidValue",
                        format!("{ENTERPRISE_SCHEMA}:manager.value: no user with id {reference:?}"),
                    )
                })?;
            manager_id = Some(manager.id.clone());
        }
    }
    if let Some(custom) = get_ignore_case(body, LATCH_SCHEMA)
        .and_then(|ext| get_ignore_case(ext, "attributes"))
        .filter(|v| !v.is_null())
    {
        let entries = custom.as_array().ok_or_else(|| {
            ScimError::bad_request(
                "invalidValue",
                format!("{LATCH_SCHEMA}:attributes must be a list of {{name, value}}"),
            )
        })?;
        for (index, entry) in entries.iter().enumerate() {
            let (Some(name), Some(value)) = (string_at(entry, "name"), string_at(entry, "value")) else {
                return Err(ScimError::bad_request(
                    "invalidValue",
                    format!("{LATCH_SCHEMA}:attributes[{index}] needs a name and a value"),
                ));
            };
            attributes.entry(name.to_string()).or_default().push(value.to_string());
        }
    }
    let display_name = string_at(body, "displayName")
        .map(str::to_string)
        .or_else(|| {
            let name = get_ignore_case(body, "name")?;
            string_at(name, "formatted").map(str::to_string).or_else(|| {
                let parts: Vec<&str> = [string_at(name, "givenName"), string_at(name, "familyName")]
                    .into_iter()
                    .flatten()
                    .collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            })
        })
        .unwrap_or_default();
    let active = match get_ignore_case(body, "active") {
        None | Some(Value::Null) => true,
        Some(value) => as_bool("active", value)?,
    };
    let email = primary(body, "emails")
        .and_then(|e| string_at(e, "value"))
        .unwrap_or_default()
        .to_string();
    let scim_extra = body
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| {
            !MODELLED_USER_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
                && !key.eq_ignore_ascii_case(ENTERPRISE_SCHEMA)
                && !key.eq_ignore_ascii_case(LATCH_SCHEMA)
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    Ok(UserDraft {
        user_name,
        email,
        display_name,
        active,
        attributes,
        manager_id,
        external_id: string_at(body, "externalId").map(str::to_string),
        scim_extra,
    })
}

pub fn group_json(group: &Group, directory: &Directory, base: &str, with_members: bool) -> Value {
    let mut object = json!({
        "schemas": [GROUP_SCHEMA],
        "id": group.id,
        "displayName": group.display_name,
        "meta": {
            "resourceType": "Group",
            "created": time(group.created_at),
            "lastModified": time(group.updated_at),
            "location": format!("{base}/Groups/{}", group.id),
            "version": group.etag(),
        }
    });
    if let Some(external_id) = &group.external_id {
        object["externalId"] = external_id.clone().into();
    }
    if with_members {
        let (users, groups) = directory.members(&group.id);
        let members: Vec<Value> = users
            .iter()
            .map(|id| {
                let display = directory.user(id).map(|u| u.display_name.clone()).unwrap_or_default();
                json!({ "value": id, "display": display, "type": "User", "$ref": format!("{base}/Users/{id}") })
            })
            .chain(groups.iter().map(|id| {
                let display = directory.group(id).map(|g| g.display_name.clone()).unwrap_or_default();
                json!({ "value": id, "display": display, "type": "Group", "$ref": format!("{base}/Groups/{id}") })
            }))
            .collect();
        object["members"] = members.into();
    }
    object
}

/// Reads a SCIM Group. Members without a `type` are looked up as users, then as groups.
pub fn group_draft(body: &Value, directory: &Directory) -> Result<GroupDraft, ScimError> {
    check_resource(ResourceKind::Group, body)?;
    let display_name = string_at(body, "displayName")
        .ok_or_else(|| ScimError::bad_request("invalidValue", "displayName is required"))?
        .to_string();
    let mut members = Vec::new();
    if let Some(list) = get_ignore_case(body, "members").filter(|v| !v.is_null()) {
        let list = list
            .as_array()
            .ok_or_else(|| ScimError::bad_request("invalidValue", "members must be a list"))?;
        for (index, item) in list.iter().enumerate() {
            members.push(member(item, directory).ok_or_else(|| {
                ScimError::bad_request(
                    "invalidValue",
                    format!("members[{index}].value: no user or group with that id"),
                )
            })?);
        }
    }
    Ok(GroupDraft {
        display_name,
        external_id: string_at(body, "externalId").map(str::to_string),
        members: Some(members),
    })
}

pub fn member(item: &Value, directory: &Directory) -> Option<Member> {
    let id = string_at(item, "value")?;
    let kind = string_at(item, "type").map(str::to_ascii_lowercase);
    let as_user = || {
        directory.user(id).map(|u| Member {
            kind: MemberKind::User,
            id: u.id.clone(),
        })
    };
    let as_group = || {
        directory.group(id).map(|g| Member {
            kind: MemberKind::Group,
            id: g.id.clone(),
        })
    };
    match kind.as_deref() {
        Some("user") => as_user(),
        Some("group") => as_group(),
        _ => as_user().or_else(as_group),
    }
}
