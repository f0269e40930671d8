//! ListResources: each managed database, its non-system schemas, and their tables.
//!
//! A database the admin role cannot connect to fails the whole listing rather than dropping out
//! of it: a partial list would read to Latch as resources that vanished. Limit the integration
//! with the `databases` field instead.

use std::collections::BTreeMap;

use latch_connector_sdk::{ConnectorError, Resource};

use crate::catalog::{self, TableRow};
use crate::config::PostgresConfig;
use crate::connection::{close, connect};
use crate::resource_id::ResourceId;

pub async fn list_resources(config: &PostgresConfig) -> Result<Vec<Resource>, ConnectorError> {
    let mut maintenance = connect(config, &config.maintenance_database).await?;
    let databases = catalog::databases(&mut maintenance).await;
    close(maintenance).await;

    let mut resources = Vec::new();
    for database in databases?.into_iter().filter(|d| config.manages(&d.name)) {
        let id = ResourceId::Database {
            database: database.name.clone(),
        };
        resources.push(resource(&id, database.owner, BTreeMap::new()));

        let mut connection = connect(config, &database.name).await?;
        let listed = async {
            let schemas = catalog::schemas(&mut connection).await?;
            let tables = catalog::tables(&mut connection).await?;
            Ok::<_, ConnectorError>((schemas, tables))
        }
        .await;
        close(connection).await;
        let (schemas, tables) = listed?;

        for schema in schemas {
            let id = ResourceId::Schema {
                database: database.name.clone(),
                schema: schema.name,
            };
            resources.push(resource(&id, schema.owner, BTreeMap::new()));
        }
        for TableRow {
            schema,
            name,
            owner,
            kind,
        } in tables
        {
            let id = ResourceId::Table {
                database: database.name.clone(),
                schema,
                table: name,
            };
            resources.push(resource(&id, owner, BTreeMap::from([("kind".to_string(), kind)])));
        }
    }
    Ok(resources)
}

/// A resource with the tags every one carries: the database, and the schema below it.
fn resource(id: &ResourceId, owner: String, mut tags: BTreeMap<String, String>) -> Resource {
    tags.insert("database".into(), id.database().to_string());
    if let ResourceId::Schema { schema, .. } | ResourceId::Table { schema, .. } = id {
        tags.insert("schema".into(), schema.clone());
    }
    Resource {
        id: id.id(),
        name: id.name().to_string(),
        path: id.path(),
        parent_id: id.parent().map(|parent| parent.id()).unwrap_or_default(),
        resource_type: id.resource_type().to_string(),
        tags,
        owner_hint: owner,
    }
}
