//! Queries on PostgreSQL's catalogs: which databases, schemas, tables and sequences exist.

use latch_connector_sdk::ConnectorError;
use sqlx::{PgConnection, Row};

use crate::sql_errors::map_sqlx_error;

/// Schemas that are PostgreSQL's own: never listed, never granted on.
const USER_SCHEMA_FILTER: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// Relations a `table` resource may be: tables, partitioned tables, views, materialized views,
/// foreign tables. Partitions are left out: access goes through their parent.
const TABLE_KINDS: &str = "c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseRow {
    pub name: String,
    pub owner: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaRow {
    pub name: String,
    pub owner: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRow {
    pub schema: String,
    pub name: String,
    pub owner: String,
    /// `table`, `partitioned table`, `view`, `materialized view` or `foreign table`.
    pub kind: String,
}

/// A schema-qualified sequence name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceName {
    pub schema: String,
    pub name: String,
}

/// Databases one can connect to that are not templates, by name.
pub async fn databases(connection: &mut PgConnection) -> Result<Vec<DatabaseRow>, ConnectorError> {
    let rows = sqlx::query(
        "SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database \
         WHERE NOT datistemplate AND datallowconn ORDER BY datname",
    )
    .fetch_all(connection)
    .await
    .map_err(|e| map_sqlx_error("listing databases", e))?;
    rows.iter()
        .map(|row| {
            Ok(DatabaseRow {
                name: row.try_get("datname")?,
                owner: row.try_get("owner")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| map_sqlx_error("reading databases", e))
}

pub async fn database_exists(connection: &mut PgConnection, database: &str) -> Result<bool, ConnectorError> {
    sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND NOT datistemplate AND datallowconn)",
    )
    .bind(database)
    .fetch_one(connection)
    .await
    .map_err(|e| map_sqlx_error("looking up a database", e))
}

/// The non-system schemas of the connected database, by name.
pub async fn schemas(connection: &mut PgConnection) -> Result<Vec<SchemaRow>, ConnectorError> {
    let sql = format!(
        "SELECT n.nspname, pg_get_userbyid(n.nspowner) AS owner FROM pg_namespace n \
         WHERE {USER_SCHEMA_FILTER} ORDER BY n.nspname"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(connection)
        .await
        .map_err(|e| map_sqlx_error("listing schemas", e))?;
    rows.iter()
        .map(|row| {
            Ok(SchemaRow {
                name: row.try_get("nspname")?,
                owner: row.try_get("owner")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| map_sqlx_error("reading schemas", e))
}

/// The tables of the connected database's non-system schemas, by schema and name.
pub async fn tables(connection: &mut PgConnection) -> Result<Vec<TableRow>, ConnectorError> {
    let sql = format!(
        "SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner) AS owner, \
           CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view' \
             WHEN 'm' THEN 'materialized view' ELSE 'foreign table' END AS kind \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {TABLE_KINDS} AND {USER_SCHEMA_FILTER} ORDER BY n.nspname, c.relname"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(connection)
        .await
        .map_err(|e| map_sqlx_error("listing tables", e))?;
    rows.iter()
        .map(|row| {
            Ok(TableRow {
                schema: row.try_get("nspname")?,
                name: row.try_get("relname")?,
                owner: row.try_get("owner")?,
                kind: row.try_get("kind")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| map_sqlx_error("reading tables", e))
}

/// Whether `schema` exists in the connected database and is not a system schema.
pub async fn schema_exists(connection: &mut PgConnection, schema: &str) -> Result<bool, ConnectorError> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = $1 AND {USER_SCHEMA_FILTER})");
    sqlx::query_scalar::<_, bool>(sqlx::AssertSqlSafe(sql))
        .bind(schema)
        .fetch_one(connection)
        .await
        .map_err(|e| map_sqlx_error("looking up a schema", e))
}

/// The oid of table-like relation `schema.table`, when it exists outside the system schemas.
pub async fn table_oid(
    connection: &mut PgConnection,
    schema: &str,
    table: &str,
) -> Result<Option<i64>, ConnectorError> {
    let sql = format!(
        "SELECT c.oid::int8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relname = $2 AND {TABLE_KINDS} AND {USER_SCHEMA_FILTER}"
    );
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
        .bind(schema)
        .bind(table)
        .fetch_optional(connection)
        .await
        .map_err(|e| map_sqlx_error("looking up a table", e))
}

/// Sequences the table's columns own (serial and identity columns): what INSERT needs.
pub async fn owned_sequences(
    connection: &mut PgConnection,
    table_oid: i64,
) -> Result<Vec<SequenceName>, ConnectorError> {
    let rows = sqlx::query(
        "SELECT n.nspname, s.relname FROM pg_depend d \
         JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' \
         JOIN pg_namespace n ON n.oid = s.relnamespace \
         WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass \
           AND d.refobjid = $1::int8::oid AND d.deptype IN ('a', 'i') \
         ORDER BY n.nspname, s.relname",
    )
    .bind(table_oid)
    .fetch_all(connection)
    .await
    .map_err(|e| map_sqlx_error("looking up a table's sequences", e))?;
    rows.iter()
        .map(|row| {
            Ok(SequenceName {
                schema: row.try_get("nspname")?,
                name: row.try_get("relname")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| map_sqlx_error("reading a table's sequences", e))
}
