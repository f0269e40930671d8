#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::*;
use crate::scim::patch::parse_operations;
use crate::scim::schema::{ENTERPRISE_SCHEMA, GROUP_SCHEMA, LATCH_SCHEMA, USER_SCHEMA};

fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "id": "u1",
        "userName": "ada@example.com",
        "displayName": "Ada Lovelace",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "active": true,
        "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
        "groups": [{"value": "g1", "display": "engineering", "$ref": "http://x/Groups/g1", "type": "direct"}],
        ENTERPRISE_SCHEMA: {"department": "Engineering", "manager": {"value": "u2", "displayName": "Boss", "$ref": "http://x/Users/u2"}},
        "meta": {"resourceType": "User", "version": "W/\"1\"", "location": "http://x/Users/u1"}
    })
}

fn group() -> Value {
    json!({
        "schemas": [GROUP_SCHEMA],
        "id": "g1",
        "displayName": "engineering",
        "members": [{"value": "u1", "display": "Ada", "type": "User", "$ref": "http://x/Users/u1"}],
        "meta": {"resourceType": "Group", "version": "W/\"1\""}
    })
}

fn patch(kind: ResourceKind, resource: &Value, operations: Value) -> Result<Value, PatchError> {
    let operations = parse_operations(&json!({"Operations": operations})).unwrap();
    let mut patched = resource.clone();
    let result = apply_patch(kind, &mut patched, &operations);
    if result.is_err() {
        assert_eq!(&patched, resource, "a refused patch changes nothing");
    }
    result.map(|()| patched)
}

fn refused(kind: ResourceKind, resource: &Value, operations: Value) -> PatchError {
    patch(kind, resource, operations.clone()).expect_err(&format!("{operations} must be refused"))
}

#[test]
fn patches_naming_attributes_outside_the_schema_are_invalid_paths() {
    let user = user();
    for operations in [
        json!([{"op": "add", "path": "nonexistent", "value": "x"}]),
        json!([{"op": "add", "path": "members", "value": [{"value": "u2"}]}]),
        json!([{"op": "add", "path": "roles", "value": [{"value": "admin"}]}]),
        json!([{"op": "replace", "path": "roles[primary eq true].value", "value": "admin"}]),
        json!([{"op": "add", "value": {"roles": [{"value": "admin"}]}}]),
        json!([{"op": "replace", "value": {"active": false, "nonexistent": 1}}]),
        json!([{"op": "add", "path": "name.nickname", "value": "x"}]),
        json!([{"op": "remove", "path": "entitlements"}]),
        json!([{"op": "add", "path": format!("{ENTERPRISE_SCHEMA}:clearance"), "value": "top"}]),
        json!([{"op": "add", "path": "urn:example:params:scim:schemas:extension:acme:2.0:User:level", "value": "9"}]),
        json!([{"op": "add", "path": "urn:example:params:scim:schemas:extension:acme:2.0:User", "value": {"level": "9"}}]),
        json!([{"op": "add", "value": {ENTERPRISE_SCHEMA: {"department": "x", "clearance": "top"}}}]),
        json!([{"op": "add", "path": ENTERPRISE_SCHEMA, "value": {"clearance": "top"}}]),
        json!([{"op": "add", "path": "emails[type eq \"work\"].label", "value": "x"}]),
    ] {
        let error = refused(ResourceKind::User, &user, operations.clone());
        assert_eq!(error.scim_type, "invalidPath", "{operations}: {error}");
    }
}

#[test]
fn values_outside_the_schema_are_invalid_values() {
    let user = user();
    for operations in [
        json!([{"op": "add", "path": "name", "value": {"givenName": "Ada", "nickname": "A"}}]),
        json!([{"op": "add", "path": "emails", "value": [{"value": "a@x", "label": "home"}]}]),
        json!([{"op": "replace", "path": "displayName", "value": 7}]),
        json!([{"op": "replace", "path": "active", "value": "maybe"}]),
        json!([{"op": "replace", "path": "emails", "value": "a@x"}]),
        json!([{"op": "add", "value": {ENTERPRISE_SCHEMA: {"manager": {"value": "u2", "level": 1}}}}]),
    ] {
        let error = refused(ResourceKind::User, &user, operations.clone());
        assert_eq!(error.scim_type, "invalidValue", "{operations}: {error}");
    }
}

#[test]
fn filters_on_unknown_sub_attributes_are_invalid_filters() {
    let error = refused(
        ResourceKind::User,
        &user(),
        json!([{"op": "replace", "path": "emails[label eq \"work\"].value", "value": "a@x"}]),
    );
    assert_eq!(error.scim_type, "invalidFilter", "{error}");
    let error = refused(
        ResourceKind::User,
        &user(),
        json!([{"op": "replace", "path": "displayName[value eq \"x\"]", "value": "a"}]),
    );
    assert_eq!(error.scim_type, "invalidPath", "{error}");
}

#[test]
fn read_only_attributes_cannot_be_patched() {
    let user = user();
    for operations in [
        json!([{"op": "add", "path": "groups", "value": [{"value": "latch-admins"}]}]),
        json!([{"op": "remove", "path": "groups"}]),
        json!([{"op": "replace", "value": {"groups": []}}]),
        json!([{"op": "replace", "path": "id", "value": "u9"}]),
    ] {
        let error = refused(ResourceKind::User, &user, operations.clone());
        assert_eq!(error.scim_type, "mutability", "{operations}: {error}");
    }
}

#[test]
fn what_okta_and_entra_send_is_accepted() {
    let patched = patch(
        ResourceKind::User,
        &user(),
        json!([
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "path": "name.givenName", "value": "Augusta"},
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "augusta@example.com"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"},
            {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "London"},
            {"op": "Add", "path": format!("{ENTERPRISE_SCHEMA}:manager"), "value": "u3"},
            {"op": "Replace", "value": {format!("{ENTERPRISE_SCHEMA}:department"): "Maths", "title": "Countess"}},
            {"op": "replace", "value": {ENTERPRISE_SCHEMA: {"costCenter": "42"}, "name.familyName": "King"}},
            {"op": "add", "path": LATCH_SCHEMA, "value": {"attributes": [{"name": "team", "value": "engines"}]}},
            {"op": "replace", "path": "schemas", "value": [USER_SCHEMA]},
            {"op": "remove", "path": "urn:ietf:params:scim:schemas:core:2.0:User:nickName"},
            {"op": "replace", "path": "password", "value": "never-stored"}
        ]),
    )
    .unwrap();
    assert_eq!(patched["active"], false);
    assert_eq!(patched["name"]["familyName"], "King");
    assert_eq!(patched[ENTERPRISE_SCHEMA]["manager"]["value"], "u3");
    assert_eq!(patched[ENTERPRISE_SCHEMA]["department"], "Maths");

    let patched = patch(
        ResourceKind::Group,
        &group(),
        json!([
            {"op": "add", "path": "members", "value": [{"value": "u2", "display": "Bob"}]},
            {"op": "remove", "path": "members[value eq \"u1\"]"},
            {"op": "replace", "path": "displayName", "value": "eng"}
        ]),
    )
    .unwrap();
    assert_eq!(patched["members"], json!([{"value": "u2", "display": "Bob"}]));
}

#[test]
fn group_patches_are_checked_against_the_group_schema() {
    let group = group();
    for (operations, scim_type) in [
        (
            json!([{"op": "add", "path": "emails", "value": [{"value": "a@x"}]}]),
            "invalidPath",
        ),
        (json!([{"op": "add", "value": {"owners": ["u1"]}}]), "invalidPath"),
        (
            json!([{"op": "add", "path": ENTERPRISE_SCHEMA, "value": {"department": "x"}}]),
            "invalidPath",
        ),
        (
            json!([{"op": "add", "path": "members", "value": [{"value": "u2", "role": "owner"}]}]),
            "invalidValue",
        ),
        (
            json!([{"op": "add", "path": "members", "value": ["u2"]}]),
            "invalidValue",
        ),
    ] {
        let error = refused(ResourceKind::Group, &group, operations.clone());
        assert_eq!(error.scim_type, scim_type, "{operations}: {error}");
    }
    // A member-only PATCH is applied as deltas without building the group: the operations
    // alone must be refused.
    let operations = parse_operations(&json!({"Operations": [
        {"op": "add", "path": "members", "value": [{"value": "u2", "role": "owner"}]}
    ]}))
    .unwrap();
    assert_eq!(
        check_operations(ResourceKind::Group, &operations)
            .unwrap_err()
            .scim_type,
        "invalidValue"
    );
}

#[test]
fn post_and_put_bodies_outside_the_schema_are_refused_naming_the_attribute() {
    let mut body = user();
    body["roles"] = json!([{"value": "admin"}]);
    let error = check_resource(ResourceKind::User, &body).unwrap_err();
    assert_eq!(error.scim_type, Some("invalidValue"));
    assert!(
        error.detail.starts_with("\"roles\": is not an attribute"),
        "{}",
        error.detail
    );

    for (key, value, named) in [
        ("members", json!([{"value": "g1"}]), "\"members\""),
        ("x509Certificates", json!([{"value": "MII"}]), "\"x509Certificates\""),
        ("name", json!({"givenName": "Ada", "nick": "A"}), "\"name.nick\""),
        ("emails", json!([{"value": "a@x", "label": "x"}]), "\"emails[0].label\""),
        ("displayName", json!(["Ada"]), "\"displayName\""),
        (
            "urn:example:acme:2.0:User",
            json!({"level": "9"}),
            "\"urn:example:acme:2.0:User\"",
        ),
        (ENTERPRISE_SCHEMA, json!({"clearance": "top"}), "clearance"),
        (ENTERPRISE_SCHEMA, json!({"employeeNumber": 42}), "employeeNumber"),
        ("schemas", json!([USER_SCHEMA, "urn:example:acme:2.0:User"]), "schemas"),
    ] {
        let mut body = user();
        body[key] = value;
        let error = check_resource(ResourceKind::User, &body).unwrap_err();
        assert_eq!(error.scim_type, Some("invalidValue"), "{key}");
        assert!(error.detail.contains(named), "{key}: {}", error.detail);
    }

    let mut body = group();
    body["nonexistent"] = json!(1);
    assert_eq!(
        check_resource(ResourceKind::Group, &body).unwrap_err().scim_type,
        Some("invalidValue")
    );
}

#[test]
fn read_only_attributes_in_a_body_are_ignored() {
    let mut body = user();
    body["groups"] = json!([{"value": "latch-admins", "anything": true}]);
    body["meta"] = json!({"whatever": 1});
    body["id"] = json!(7);
    assert_eq!(check_resource(ResourceKind::User, &body), Ok(()));
}

#[test]
fn errors_quote_at_most_a_short_prefix_of_a_name() {
    let long = "a".repeat(100_000);
    let mut body = user();
    body[&long] = json!(1);
    let error = check_resource(ResourceKind::User, &body).unwrap_err();
    assert!(error.detail.len() < 300, "{} bytes", error.detail.len());
    let error = refused(
        ResourceKind::User,
        &user(),
        json!([{"op": "add", "path": long, "value": 1}]),
    );
    assert!(error.message.len() < 300, "{} bytes", error.message.len());
}

#[test]
fn stored_attributes_outside_the_schema_are_never_shown() {
    let mut stored = serde_json::Map::new();
    stored.insert("roles".into(), json!([{"value": "admin"}]));
    stored.insert("nonexistent".into(), json!("x"));
    stored.insert("members".into(), json!([{"value": "g1"}]));
    stored.insert("name".into(), json!({"givenName": "Ada"}));
    stored.insert("nickName".into(), json!({"bad": "shape"}));
    retain_known(ResourceKind::User, &mut stored);
    assert_eq!(serde_json::Value::Object(stored), json!({"name": {"givenName": "Ada"}}));
}

#[test]
fn the_published_schemas_are_the_checked_ones() {
    let published = crate::scim::schema::schemas_json("http://x");
    let user = published.iter().find(|s| s["id"] == USER_SCHEMA).unwrap();
    let names: Vec<&str> = user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"roles"));
    for name in names {
        assert!(ResourceKind::User.top_level_attribute(name).is_some(), "{name}");
    }
    let password = user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "password")
        .unwrap();
    assert_eq!(password["returned"], "never");
}
