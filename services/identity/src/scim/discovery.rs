//! Discovery endpoints: ServiceProviderConfig, ResourceTypes and Schemas (RFC 7643 §5–7).

use serde_json::{Value, json};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Latch's extension for custom identity attributes: `{"attributes": {"key": ["v1", "v2"]}}`.
pub const LATCH_SCHEMA: &str = "urn:latch:params:scim:schemas:extension:2.0:User";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

pub const MAX_RESULTS: usize = 1000;

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/latch/latch#scim",
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A Latch API token with the SCIM scope (latch tokens create --scope scim)",
            "primary": true
        }],
        "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig") }
    })
}

pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User", "name": "User", "endpoint": "/Users", "description": "People",
            "schema": USER_SCHEMA,
            "schemaExtensions": [
                { "schema": ENTERPRISE_SCHEMA, "required": false },
                { "schema": LATCH_SCHEMA, "required": false }
            ],
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User") }
        }),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group", "name": "Group", "endpoint": "/Groups", "description": "Groups",
            "schema": GROUP_SCHEMA,
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group") }
        }),
    ]
}

fn attribute(name: &str, kind: &str, multi: bool, required: bool, uniqueness: &str, mutability: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": multi, "required": required,
        "caseExact": false, "mutability": mutability, "returned": "default", "uniqueness": uniqueness
    })
}

fn complex(name: &str, multi: bool, sub: Vec<Value>) -> Value {
    json!({
        "name": name, "type": "complex", "multiValued": multi, "required": false,
        "mutability": "readWrite", "returned": "default", "uniqueness": "none", "subAttributes": sub
    })
}

fn read_only(mut attribute: Value) -> Value {
    attribute["mutability"] = "readOnly".into();
    attribute
}

fn string(name: &str) -> Value {
    attribute(name, "string", false, false, "none", "readWrite")
}

pub fn schemas(base: &str) -> Vec<Value> {
    let schema = |id: &str, name: &str, attributes: Vec<Value>| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": id, "name": name, "attributes": attributes,
            "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{id}") }
        })
    };
    let multi_value = |name: &str| {
        complex(
            name,
            true,
            vec![
                string("value"),
                string("display"),
                string("type"),
                attribute("primary", "boolean", false, false, "none", "readWrite"),
            ],
        )
    };
    vec![
        schema(
            USER_SCHEMA,
            "User",
            vec![
                attribute("userName", "string", false, true, "server", "readWrite"),
                complex(
                    "name",
                    false,
                    vec![
                        string("formatted"),
                        string("familyName"),
                        string("givenName"),
                        string("middleName"),
                        string("honorificPrefix"),
                        string("honorificSuffix"),
                    ],
                ),
                string("displayName"),
                string("nickName"),
                string("profileUrl"),
                string("title"),
                string("userType"),
                string("preferredLanguage"),
                string("locale"),
                string("timezone"),
                attribute("active", "boolean", false, false, "none", "readWrite"),
                multi_value("emails"),
                multi_value("phoneNumbers"),
                multi_value("ims"),
                multi_value("photos"),
                complex(
                    "addresses",
                    true,
                    vec![
                        string("formatted"),
                        string("streetAddress"),
                        string("locality"),
                        string("region"),
                        string("postalCode"),
                        string("country"),
                        string("type"),
                    ],
                ),
                read_only(complex(
                    "groups",
                    true,
                    vec![string("value"), string("display"), string("type")],
                )),
            ],
        ),
        schema(
            ENTERPRISE_SCHEMA,
            "EnterpriseUser",
            vec![
                string("employeeNumber"),
                string("costCenter"),
                string("organization"),
                string("division"),
                string("department"),
                complex("manager", false, vec![string("value"), string("displayName")]),
            ],
        ),
        schema(
            LATCH_SCHEMA,
            "LatchUser",
            vec![complex("attributes", true, vec![string("name"), string("value")])],
        ),
        schema(
            GROUP_SCHEMA,
            "Group",
            vec![
                attribute("displayName", "string", false, true, "server", "readWrite"),
                complex(
                    "members",
                    true,
                    vec![string("value"), string("display"), string("type")],
                ),
            ],
        ),
    ]
}
