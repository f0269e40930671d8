//! The login roles grants get: create, find, change and list them.

use latch_connector_sdk::ConnectorError;
use sqlx::{PgConnection, Row};

use crate::metadata::RoleMetadata;
use crate::naming::{ROLE_PREFIX, is_latch_role_name, role_name};
use crate::sql::{quote_ident, quote_literal, valid_until_literal};
use crate::sql_errors::map_sqlx_error;

/// What the server holds under a grant's role name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleLookup {
    Missing,
    /// A role of that name without Latch's metadata: not ours to touch.
    Foreign,
    Latch(RoleMetadata),
}

pub async fn find_role(connection: &mut PgConnection, role: &str) -> Result<RoleLookup, ConnectorError> {
    let row = sqlx::query("SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1")
        .bind(role)
        .fetch_optional(connection)
        .await
        .map_err(|e| map_sqlx_error("looking up a grant's role", e))?;
    let Some(row) = row else {
        return Ok(RoleLookup::Missing);
    };
    let comment: Option<String> = row
        .try_get("comment")
        .map_err(|e| map_sqlx_error("reading a grant's role", e))?;
    Ok(match comment.as_deref().and_then(RoleMetadata::from_comment) {
        Some(metadata) if role_name(&metadata.grant_id) == role => RoleLookup::Latch(metadata),
        _ => RoleLookup::Foreign,
    })
}

/// Creates the login role with its password verifier, expiry and metadata in one transaction,
/// so no role of Latch's ever exists without its metadata.
pub async fn create_role(
    connection: &mut PgConnection,
    role: &str,
    password_verifier: &str,
    metadata: &RoleMetadata,
) -> Result<(), sqlx::Error> {
    let quoted = quote_ident(role).map_err(to_sqlx)?;
    let sql = format!(
        "CREATE ROLE {quoted} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD {} VALID UNTIL {}; \
         COMMENT ON ROLE {quoted} IS {}",
        quote_literal(password_verifier).map_err(to_sqlx)?,
        valid_until_literal(metadata.expires_at),
        quote_literal(&metadata.to_comment()).map_err(to_sqlx)?,
    );
    // raw_sql sends one simple query: PostgreSQL runs its statements as one transaction.
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(connection).await?;
    Ok(())
}

pub async fn set_password(
    connection: &mut PgConnection,
    role: &str,
    password_verifier: &str,
) -> Result<(), ConnectorError> {
    let sql = format!(
        "ALTER ROLE {} WITH PASSWORD {}",
        quote_ident(role)?,
        quote_literal(password_verifier)?
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(connection)
        .await
        .map_err(|e| map_sqlx_error("resetting a grant's password", e))?;
    Ok(())
}

/// Moves `VALID UNTIL` and rewrites the metadata to `metadata` (which holds the new expiry).
pub async fn set_expiry(
    connection: &mut PgConnection,
    role: &str,
    metadata: &RoleMetadata,
) -> Result<(), ConnectorError> {
    let quoted = quote_ident(role)?;
    let sql = format!(
        "ALTER ROLE {quoted} VALID UNTIL {}; COMMENT ON ROLE {quoted} IS {}",
        valid_until_literal(metadata.expires_at),
        quote_literal(&metadata.to_comment())?,
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(connection)
        .await
        .map_err(|e| map_sqlx_error("moving a grant's expiry", e))?;
    Ok(())
}

/// Every role of Latch's on the server, with its metadata, by name.
pub async fn latch_roles(connection: &mut PgConnection) -> Result<Vec<(String, RoleMetadata)>, ConnectorError> {
    let pattern = format!("{}%", ROLE_PREFIX.replace('_', "\\_"));
    let rows = sqlx::query(
        "SELECT rolname, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles \
         WHERE rolname LIKE $1 ORDER BY rolname",
    )
    .bind(pattern)
    .fetch_all(connection)
    .await
    .map_err(|e| map_sqlx_error("listing grant roles", e))?;
    let mut roles = Vec::new();
    for row in rows {
        let name: String = row
            .try_get("rolname")
            .map_err(|e| map_sqlx_error("reading grant roles", e))?;
        let comment: Option<String> = row
            .try_get("comment")
            .map_err(|e| map_sqlx_error("reading grant roles", e))?;
        if !is_latch_role_name(&name) {
            continue;
        }
        let Some(metadata) = comment.as_deref().and_then(RoleMetadata::from_comment) else {
            continue;
        };
        if role_name(&metadata.grant_id) == name {
            roles.push((name, metadata));
        }
    }
    Ok(roles)
}

/// Quoting only fails on NUL, which a role name, verifier or JSON comment never holds.
fn to_sqlx(error: ConnectorError) -> sqlx::Error {
    sqlx::Error::InvalidArgument(error.to_string())
}
