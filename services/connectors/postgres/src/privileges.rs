//! Which GRANT statements a permission on a resource means.
//!
//! | resource | connect | read | write | admin |
//! |---|---|---|---|---|
//! | database | CONNECT | CONNECT; per schema USAGE, SELECT on all tables | read + INSERT, UPDATE, DELETE on all tables, USAGE on all sequences | ALL on the database, each schema, all tables and sequences |
//! | schema | – | CONNECT; USAGE, SELECT on all tables | read + INSERT, UPDATE, DELETE, USAGE on all sequences | CONNECT; ALL on the schema, all tables and sequences |
//! | table | – | CONNECT; USAGE on its schema; SELECT | read + INSERT, UPDATE, DELETE, USAGE on its owned sequences | CONNECT; USAGE on its schema; ALL on it and its sequences |
//!
//! "All tables" means the tables there at grant time: PostgreSQL has no grant on future tables
//! short of default privileges, which belong to whoever creates the tables.
//!
//! Revoke needs no mirror of this table: DROP OWNED BY removes every privilege a role holds in
//! a database and on the database itself.

use latch_connector_sdk::ConnectorError;

use crate::catalog::SequenceName;
use crate::describe::{ADMIN, CONNECT, READ, WRITE};
use crate::sql::quote_ident;

/// A resource with what granting on it depends on, read from the catalog beforehand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantTarget {
    /// A database and its non-system schemas.
    Database {
        database: String,
        schemas: Vec<String>,
    },
    Schema {
        database: String,
        schema: String,
    },
    /// A table and the sequences its columns own.
    Table {
        database: String,
        schema: String,
        table: String,
        sequences: Vec<SequenceName>,
    },
}

impl GrantTarget {
    pub fn database(&self) -> &str {
        match self {
            Self::Database { database, .. } | Self::Schema { database, .. } | Self::Table { database, .. } => database,
        }
    }
}

/// The statements that give `role` `permission` on `target`, in order. `permission` has passed
/// `check_permission` for the target's type.
pub fn grant_statements(target: &GrantTarget, permission: &str, role: &str) -> Result<Vec<String>, ConnectorError> {
    let role = quote_ident(role)?;
    let database = quote_ident(target.database())?;
    let mut statements = Vec::new();
    let database_privileges = if matches!(target, GrantTarget::Database { .. }) && permission == ADMIN {
        "ALL PRIVILEGES"
    } else {
        "CONNECT"
    };
    statements.push(format!("GRANT {database_privileges} ON DATABASE {database} TO {role}"));

    match target {
        GrantTarget::Database { schemas, .. } => {
            if permission == CONNECT {
                return Ok(statements);
            }
            for schema in schemas {
                statements.extend(schema_statements(schema, permission, &role)?);
            }
        }
        GrantTarget::Schema { schema, .. } => statements.extend(schema_statements(schema, permission, &role)?),
        GrantTarget::Table {
            schema,
            table,
            sequences,
            ..
        } => {
            let table = format!("{}.{}", quote_ident(schema)?, quote_ident(table)?);
            statements.push(format!("GRANT USAGE ON SCHEMA {} TO {role}", quote_ident(schema)?));
            let (table_privileges, sequence_privileges) = match permission {
                READ => ("SELECT", None),
                WRITE => ("SELECT, INSERT, UPDATE, DELETE", Some("USAGE")),
                ADMIN => ("ALL PRIVILEGES", Some("ALL PRIVILEGES")),
                other => return Err(unknown_permission(other)),
            };
            statements.push(format!("GRANT {table_privileges} ON TABLE {table} TO {role}"));
            if let Some(sequence_privileges) = sequence_privileges {
                for sequence in sequences {
                    let sequence = format!("{}.{}", quote_ident(&sequence.schema)?, quote_ident(&sequence.name)?);
                    statements.push(format!("GRANT {sequence_privileges} ON SEQUENCE {sequence} TO {role}"));
                }
            }
        }
    }
    Ok(statements)
}

fn schema_statements(schema: &str, permission: &str, role: &str) -> Result<Vec<String>, ConnectorError> {
    let schema = quote_ident(schema)?;
    let statements = match permission {
        READ => vec![
            format!("GRANT USAGE ON SCHEMA {schema} TO {role}"),
            format!("GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}"),
        ],
        WRITE => vec![
            format!("GRANT USAGE ON SCHEMA {schema} TO {role}"),
            format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}"),
            format!("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}"),
        ],
        ADMIN => vec![
            format!("GRANT ALL PRIVILEGES ON SCHEMA {schema} TO {role}"),
            format!("GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA {schema} TO {role}"),
            format!("GRANT ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA {schema} TO {role}"),
        ],
        other => return Err(unknown_permission(other)),
    };
    Ok(statements)
}

/// The table privilege that shows a grant of `permission` took effect: a GRANT by a role
/// without grant rights only warns, so the connector checks afterwards.
pub fn probe_privilege(permission: &str) -> Option<&'static str> {
    match permission {
        READ => Some("SELECT"),
        WRITE => Some("DELETE"),
        ADMIN => Some("TRIGGER"),
        _ => None,
    }
}

fn unknown_permission(permission: &str) -> ConnectorError {
    ConnectorError::invalid("permission", format!("{permission:?} is not a postgres permission"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(sequences: Vec<SequenceName>) -> GrantTarget {
        GrantTarget::Table {
            database: "app".into(),
            schema: "public".into(),
            table: "orders".into(),
            sequences,
        }
    }

    #[test]
    fn read_on_a_table() {
        assert_eq!(
            grant_statements(&table(vec![]), READ, "latch_x").unwrap(),
            vec![
                r#"GRANT CONNECT ON DATABASE "app" TO "latch_x""#,
                r#"GRANT USAGE ON SCHEMA "public" TO "latch_x""#,
                r#"GRANT SELECT ON TABLE "public"."orders" TO "latch_x""#,
            ]
        );
    }

    #[test]
    fn write_on_a_table_covers_its_sequences() {
        let sequence = SequenceName {
            schema: "public".into(),
            name: "orders_id_seq".into(),
        };
        let statements = grant_statements(&table(vec![sequence]), WRITE, "latch_x").unwrap();
        assert!(
            statements.contains(
                &r#"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "public"."orders" TO "latch_x""#.to_string()
            )
        );
        assert!(statements.contains(&r#"GRANT USAGE ON SEQUENCE "public"."orders_id_seq" TO "latch_x""#.to_string()));
    }

    #[test]
    fn connect_on_a_database_is_connect_only() {
        let target = GrantTarget::Database {
            database: "app".into(),
            schemas: vec!["public".into()],
        };
        assert_eq!(
            grant_statements(&target, CONNECT, "latch_x").unwrap(),
            vec![r#"GRANT CONNECT ON DATABASE "app" TO "latch_x""#]
        );
    }

    #[test]
    fn admin_on_a_database_covers_every_schema() {
        let target = GrantTarget::Database {
            database: "app".into(),
            schemas: vec!["public".into(), "sales".into()],
        };
        let statements = grant_statements(&target, ADMIN, "latch_x").unwrap();
        assert_eq!(statements[0], r#"GRANT ALL PRIVILEGES ON DATABASE "app" TO "latch_x""#);
        assert!(
            statements.contains(&r#"GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA "sales" TO "latch_x""#.to_string())
        );
        assert_eq!(statements.len(), 1 + 2 * 3);
    }

    #[test]
    fn hostile_names_stay_quoted() {
        let target = GrantTarget::Schema {
            database: "app".into(),
            schema: "x\"; DROP TABLE t; --".into(),
        };
        let statements = grant_statements(&target, READ, "latch_x").unwrap();
        assert!(statements.contains(&r#"GRANT USAGE ON SCHEMA "x""; DROP TABLE t; --" TO "latch_x""#.to_string()));
    }

    #[test]
    fn unknown_permissions_are_refused() {
        assert!(grant_statements(&table(vec![]), CONNECT, "latch_x").is_err());
    }
}
