//! Resource ids: `database:DB`, `schema:DB/SCHEMA`, `table:DB/SCHEMA/TABLE`.
//!
//! PostgreSQL names may hold `/`, so inside an id or path each name has `%` written as `%25` and
//! `/` as `%2F`; every other character stays as it is, which keeps ordinary ids readable.

use latch_connector_sdk::ConnectorError;

pub const DATABASE: &str = "database";
pub const SCHEMA: &str = "schema";
pub const TABLE: &str = "table";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResourceId {
    Database {
        database: String,
    },
    Schema {
        database: String,
        schema: String,
    },
    Table {
        database: String,
        schema: String,
        table: String,
    },
}

impl ResourceId {
    /// Reads `resource_id`, which must be of type `resource_type`.
    pub fn parse(resource_type: &str, resource_id: &str) -> Result<Self, ConnectorError> {
        let invalid = |rule: String| ConnectorError::invalid("resource_id", rule);
        let Some((kind, path)) = resource_id.split_once(':') else {
            return Err(invalid(format!("{resource_id:?} is not of the form TYPE:PATH")));
        };
        if kind != resource_type {
            return Err(invalid(format!(
                "{resource_id:?} is a {kind} id but the resource type is {resource_type}"
            )));
        }
        let parts: Vec<String> = path
            .split('/')
            .map(unescape)
            .collect::<Result<_, _>>()
            .map_err(invalid)?;
        if parts.iter().any(String::is_empty) {
            return Err(invalid(format!("{resource_id:?} has an empty name")));
        }
        let id = match (kind, parts.as_slice()) {
            (DATABASE, [database]) => Self::Database {
                database: database.clone(),
            },
            (SCHEMA, [database, schema]) => Self::Schema {
                database: database.clone(),
                schema: schema.clone(),
            },
            (TABLE, [database, schema, table]) => Self::Table {
                database: database.clone(),
                schema: schema.clone(),
                table: table.clone(),
            },
            (DATABASE | SCHEMA | TABLE, _) => {
                return Err(invalid(format!(
                    "{resource_id:?} does not have the parts a {kind} id has"
                )));
            }
            _ => return Err(invalid(format!("{kind:?} is not a resource type of postgres"))),
        };
        Ok(id)
    }

    pub fn resource_type(&self) -> &'static str {
        match self {
            Self::Database { .. } => DATABASE,
            Self::Schema { .. } => SCHEMA,
            Self::Table { .. } => TABLE,
        }
    }

    pub fn database(&self) -> &str {
        match self {
            Self::Database { database } | Self::Schema { database, .. } | Self::Table { database, .. } => database,
        }
    }

    /// The last name: the database, schema or table itself.
    pub fn name(&self) -> &str {
        match self {
            Self::Database { database } => database,
            Self::Schema { schema, .. } => schema,
            Self::Table { table, .. } => table,
        }
    }

    /// `DB/SCHEMA/TABLE`, names escaped.
    pub fn path(&self) -> String {
        let names: Vec<&str> = match self {
            Self::Database { database } => vec![database],
            Self::Schema { database, schema } => vec![database, schema],
            Self::Table {
                database,
                schema,
                table,
            } => vec![database, schema, table],
        };
        names.into_iter().map(escape).collect::<Vec<_>>().join("/")
    }

    pub fn id(&self) -> String {
        format!("{}:{}", self.resource_type(), self.path())
    }

    /// The containing resource, `None` for a database.
    pub fn parent(&self) -> Option<Self> {
        match self {
            Self::Database { .. } => None,
            Self::Schema { database, .. } => Some(Self::Database {
                database: database.clone(),
            }),
            Self::Table { database, schema, .. } => Some(Self::Schema {
                database: database.clone(),
                schema: schema.clone(),
            }),
        }
    }
}

fn escape(name: &str) -> String {
    name.replace('%', "%25").replace('/', "%2F")
}

fn unescape(part: &str) -> Result<String, String> {
    let mut name = String::with_capacity(part.len());
    let mut rest = part;
    while let Some(at) = rest.find('%') {
        name.push_str(&rest[..at]);
        match rest.get(at..at + 3) {
            Some("%25") => name.push('%'),
            Some("%2F" | "%2f") => name.push('/'),
            _ => return Err(format!("{part:?} has a % that is neither %25 nor %2F")),
        }
        rest = &rest[at + 3..];
    }
    name.push_str(rest);
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for (kind, id) in [
            ("database", "database:app"),
            ("schema", "schema:app/public"),
            ("table", "table:app/public/orders"),
            ("table", "table:app/we%2Fird/100%25 done"),
        ] {
            assert_eq!(ResourceId::parse(kind, id).unwrap().id(), id);
        }
    }

    #[test]
    fn names_with_slashes_are_escaped() {
        let id = ResourceId::Table {
            database: "app".into(),
            schema: "a/b".into(),
            table: "50%".into(),
        };
        assert_eq!(id.id(), "table:app/a%2Fb/50%25");
        assert_eq!(ResourceId::parse("table", &id.id()).unwrap(), id);
    }

    #[test]
    fn parents_follow_the_hierarchy() {
        let table = ResourceId::parse("table", "table:app/public/orders").unwrap();
        let schema = table.parent().unwrap();
        assert_eq!(schema.id(), "schema:app/public");
        assert_eq!(schema.parent().unwrap().id(), "database:app");
        assert_eq!(schema.parent().unwrap().parent(), None);
        assert_eq!(table.name(), "orders");
        assert_eq!(table.database(), "app");
    }

    #[test]
    fn malformed_ids_are_invalid_arguments() {
        for (kind, id) in [
            ("table", "app/public/orders"),
            ("table", "schema:app/public"),
            ("table", "table:app/public"),
            ("table", "table:app//orders"),
            ("database", "database:a%zz"),
            ("view", "view:app/v"),
        ] {
            match ResourceId::parse(kind, id) {
                Err(ConnectorError::InvalidArgument { field, .. }) => assert_eq!(field, "resource_id", "{id}"),
                other => panic!("{id}: expected InvalidArgument, got {other:?}"),
            }
        }
    }
}
