//! The SCIM schemas Latch serves (RFC 7643 §4): one description that `/Schemas` publishes and
//! that every POST, PUT and PATCH is checked against (see `schema_check`), so what Latch
//! advertises and what it accepts cannot drift apart.
//!
//! Latch's User is the RFC 7643 core User without `roles`, `entitlements` and
//! `x509Certificates`: Latch's roles come from its own role assignments, never from an identity
//! provider's claim, and it has no use for the other two. Groups are the core Group.

use serde_json::{Value, json};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Latch's extension for custom identity attributes: `{"attributes": [{"name": .., "value": ..}]}`.
pub const LATCH_SCHEMA: &str = "urn:latch:params:scim:schemas:extension:2.0:User";

/// The data type of an attribute (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeType {
    String,
    Boolean,
    DateTime,
    Reference,
    Complex,
}

impl AttributeType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeType::String => "string",
            AttributeType::Boolean => "boolean",
            AttributeType::DateTime => "dateTime",
            AttributeType::Reference => "reference",
            AttributeType::Complex => "complex",
        }
    }
}

/// Whether a client may set an attribute (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadWrite,
    /// Set by Latch; ignored in a POST or PUT body, refused as a PATCH target.
    ReadOnly,
    /// Accepted and never returned (`password`, which Latch also never stores).
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadWrite => "readWrite",
            Mutability::ReadOnly => "readOnly",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// One attribute of a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: AttributeType,
    pub multi_valued: bool,
    pub required: bool,
    pub mutability: Mutability,
    /// Unique among the resources of its type (`userName`, a group's `displayName`).
    pub unique: bool,
    /// The sub-attributes of a complex attribute; empty otherwise.
    pub sub_attributes: &'static [Attribute],
}

impl Attribute {
    const fn new(name: &'static str, kind: AttributeType) -> Self {
        Attribute {
            name,
            kind,
            multi_valued: false,
            required: false,
            mutability: Mutability::ReadWrite,
            unique: false,
            sub_attributes: &[],
        }
    }

    const fn string(name: &'static str) -> Self {
        Self::new(name, AttributeType::String)
    }

    const fn boolean(name: &'static str) -> Self {
        Self::new(name, AttributeType::Boolean)
    }

    const fn reference(name: &'static str) -> Self {
        Self::new(name, AttributeType::Reference)
    }

    const fn complex(name: &'static str, sub_attributes: &'static [Attribute]) -> Self {
        let mut attribute = Self::new(name, AttributeType::Complex);
        attribute.sub_attributes = sub_attributes;
        attribute
    }

    const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    const fn required_unique(mut self) -> Self {
        self.required = true;
        self.unique = true;
        self
    }

    const fn read_only(mut self) -> Self {
        self.mutability = Mutability::ReadOnly;
        self
    }

    const fn write_only(mut self) -> Self {
        self.mutability = Mutability::WriteOnly;
        self
    }

    /// The sub-attribute called `name` (case-insensitive, RFC 7643 §2.1).
    pub fn sub_attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    fn to_json(self) -> Value {
        let mut attribute = json!({
            "name": self.name,
            "type": self.kind.as_str(),
            "multiValued": self.multi_valued,
            "required": self.required,
            "caseExact": false,
            "mutability": self.mutability.as_str(),
            "returned": if self.mutability == Mutability::WriteOnly { "never" } else { "default" },
            "uniqueness": if self.unique { "server" } else { "none" },
        });
        if self.kind == AttributeType::Complex {
            attribute["subAttributes"] = self
                .sub_attributes
                .iter()
                .map(|a| a.to_json())
                .collect::<Vec<_>>()
                .into();
        }
        attribute
    }
}

/// A schema: its URI and attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub attributes: &'static [Attribute],
}

impl Schema {
    /// The attribute called `name` (case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    fn to_json(self, base: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "attributes": self.attributes.iter().map(|a| a.to_json()).collect::<Vec<_>>(),
            "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{}", self.id) }
        })
    }
}

/// The sub-attributes of emails, phone numbers, instant messaging addresses and photos.
const MULTI_VALUE: &[Attribute] = &[
    Attribute::string("value"),
    Attribute::string("display"),
    Attribute::string("type"),
    Attribute::boolean("primary"),
];

const USER_ATTRIBUTES: &[Attribute] = &[
    Attribute::string("userName").required_unique(),
    Attribute::complex(
        "name",
        &[
            Attribute::string("formatted"),
            Attribute::string("familyName"),
            Attribute::string("givenName"),
            Attribute::string("middleName"),
            Attribute::string("honorificPrefix"),
            Attribute::string("honorificSuffix"),
        ],
    ),
    Attribute::string("displayName"),
    Attribute::string("nickName"),
    Attribute::reference("profileUrl"),
    Attribute::string("title"),
    Attribute::string("userType"),
    Attribute::string("preferredLanguage"),
    Attribute::string("locale"),
    Attribute::string("timezone"),
    Attribute::boolean("active"),
    Attribute::string("password").write_only(),
    Attribute::complex("emails", MULTI_VALUE).multi(),
    Attribute::complex("phoneNumbers", MULTI_VALUE).multi(),
    Attribute::complex("ims", MULTI_VALUE).multi(),
    Attribute::complex("photos", MULTI_VALUE).multi(),
    Attribute::complex(
        "addresses",
        &[
            Attribute::string("formatted"),
            Attribute::string("streetAddress"),
            Attribute::string("locality"),
            Attribute::string("region"),
            Attribute::string("postalCode"),
            Attribute::string("country"),
            Attribute::string("type"),
            Attribute::boolean("primary"),
        ],
    )
    .multi(),
    Attribute::complex(
        "groups",
        &[
            Attribute::string("value"),
            Attribute::reference("$ref"),
            Attribute::string("display"),
            Attribute::string("type"),
        ],
    )
    .multi()
    .read_only(),
];

const ENTERPRISE_ATTRIBUTES: &[Attribute] = &[
    Attribute::string("employeeNumber"),
    Attribute::string("costCenter"),
    Attribute::string("organization"),
    Attribute::string("division"),
    Attribute::string("department"),
    Attribute::complex(
        "manager",
        &[
            Attribute::string("value"),
            Attribute::reference("$ref"),
            Attribute::string("displayName"),
        ],
    ),
];

const LATCH_ATTRIBUTES: &[Attribute] =
    &[Attribute::complex("attributes", &[Attribute::string("name"), Attribute::string("value")]).multi()];

const GROUP_ATTRIBUTES: &[Attribute] = &[
    Attribute::string("displayName").required_unique(),
    Attribute::complex(
        "members",
        &[
            Attribute::string("value"),
            Attribute::reference("$ref"),
            Attribute::string("display"),
            Attribute::string("type"),
        ],
    )
    .multi(),
];

/// Attributes every resource has (RFC 7643 §3.1); not part of any schema's own list.
const COMMON_ATTRIBUTES: &[Attribute] = &[
    Attribute::string("id").read_only(),
    Attribute::string("externalId"),
    Attribute::complex(
        "meta",
        &[
            Attribute::string("resourceType"),
            Attribute::new("created", AttributeType::DateTime),
            Attribute::new("lastModified", AttributeType::DateTime),
            Attribute::reference("location"),
            Attribute::string("version"),
        ],
    )
    .read_only(),
];

pub const USER: Schema = Schema {
    id: USER_SCHEMA,
    name: "User",
    attributes: USER_ATTRIBUTES,
};
pub const ENTERPRISE_USER: Schema = Schema {
    id: ENTERPRISE_SCHEMA,
    name: "EnterpriseUser",
    attributes: ENTERPRISE_ATTRIBUTES,
};
pub const LATCH_USER: Schema = Schema {
    id: LATCH_SCHEMA,
    name: "LatchUser",
    attributes: LATCH_ATTRIBUTES,
};
pub const GROUP: Schema = Schema {
    id: GROUP_SCHEMA,
    name: "Group",
    attributes: GROUP_ATTRIBUTES,
};

/// The resource types Latch serves over SCIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// The core schema: its attributes sit at the top level of a resource.
    pub fn core(self) -> &'static Schema {
        match self {
            ResourceKind::User => &USER,
            ResourceKind::Group => &GROUP,
        }
    }

    /// The extension schemas: each one's attributes sit in an object under its URI.
    pub fn extensions(self) -> &'static [Schema] {
        match self {
            ResourceKind::User => &[ENTERPRISE_USER, LATCH_USER],
            ResourceKind::Group => &[],
        }
    }

    /// The extension with this URI (case-insensitive).
    pub fn extension(self, uri: &str) -> Option<&'static Schema> {
        self.extensions().iter().find(|s| s.id.eq_ignore_ascii_case(uri))
    }

    /// A top-level attribute: one of the core schema's or a common one (`id`, `externalId`,
    /// `meta`).
    pub fn top_level_attribute(self, name: &str) -> Option<&'static Attribute> {
        self.core()
            .attribute(name)
            .or_else(|| COMMON_ATTRIBUTES.iter().find(|a| a.name.eq_ignore_ascii_case(name)))
    }

    /// The names of the read-only top-level attributes, which a PATCH must leave as they are.
    pub fn read_only_attributes(self) -> impl Iterator<Item = &'static str> {
        self.core()
            .attributes
            .iter()
            .chain(COMMON_ATTRIBUTES)
            .filter(|a| a.mutability == Mutability::ReadOnly)
            .map(|a| a.name)
    }
}

/// The `/Schemas` documents.
pub fn schemas_json(base: &str) -> Vec<Value> {
    [USER, ENTERPRISE_USER, LATCH_USER, GROUP]
        .into_iter()
        .map(|schema| schema.to_json(base))
        .collect()
}
