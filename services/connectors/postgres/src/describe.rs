//! What Describe says: the resource types, their permissions, and the config fields.

use latch_connector_sdk::{Description, Permission, ResourceType};

use crate::config::config_fields;
use crate::resource_id::{DATABASE, SCHEMA, TABLE};

pub const CONNECTOR_NAME: &str = "postgres";

pub const CONNECT: &str = "connect";
pub const READ: &str = "read";
pub const WRITE: &str = "write";
pub const ADMIN: &str = "admin";

pub fn description() -> Description {
    let permission = |name: &str, description: &str| Permission {
        name: name.into(),
        description: description.into(),
    };
    let read = |scope: &str| permission(READ, &format!("SELECT on {scope}"));
    let write = |scope: &str| {
        permission(
            WRITE,
            &format!("read, plus INSERT, UPDATE, DELETE on {scope} and USAGE on their sequences"),
        )
    };
    let admin = |scope: &str| permission(ADMIN, &format!("ALL PRIVILEGES on {scope}"));
    let kind = |name: &str, description: &str, permissions: Vec<Permission>| ResourceType {
        name: name.into(),
        description: description.into(),
        permissions,
    };
    Description {
        name: CONNECTOR_NAME.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        resource_types: vec![
            kind(
                DATABASE,
                "a database of the server",
                vec![
                    permission(CONNECT, "CONNECT on the database"),
                    read("every table in its non-system schemas, as they are at grant time"),
                    write("every table in its non-system schemas, as they are at grant time"),
                    admin("the database, its non-system schemas and their tables and sequences"),
                ],
            ),
            kind(
                SCHEMA,
                "a schema of a database",
                vec![
                    read("every table in the schema at grant time"),
                    write("every table in the schema at grant time"),
                    admin("the schema and its tables and sequences"),
                ],
            ),
            kind(
                TABLE,
                "a table, view, materialized view or foreign table",
                vec![read("the table"), write("the table"), admin("the table")],
            ),
        ],
        config_fields: config_fields(),
    }
}
