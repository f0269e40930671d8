//! Revoke: the role loses its sessions, its privileges, anything it owns, and then itself.
//!
//! Order matters: NOLOGIN first so no new session slips in, then the live sessions end, then
//! `REASSIGN OWNED` (objects an admin grant created pass to the connector's admin role rather
//! than vanish) and `DROP OWNED` (every privilege in that database and on shared objects) in each
//! database the role touched, then `DROP ROLE`. Everything after ending the sessions runs under
//! the target database's privilege lock (see `privilege_lock`).

use latch_connector_sdk::ConnectorError;
use sqlx::PgConnection;

use crate::catalog;
use crate::config::PostgresConfig;
use crate::connection::{close, connect};
use crate::naming::role_name;
use crate::privilege_lock::lock_privilege_changes;
use crate::roles::{RoleLookup, find_role};
use crate::sql::quote_ident;
use crate::sql_errors::{map_sqlx_error, sqlstate};

/// How long to wait for each terminated session to end, in milliseconds.
const TERMINATE_WAIT_MS: i64 = 5_000;

pub async fn revoke(config: &PostgresConfig, grant_id: &str) -> Result<(), ConnectorError> {
    let role = role_name(grant_id);
    let mut maintenance = connect(config, &config.maintenance_database).await?;
    let result = revoke_with(config, &mut maintenance, grant_id, &role).await;
    close(maintenance).await;
    result
}

async fn revoke_with(
    config: &PostgresConfig,
    maintenance: &mut PgConnection,
    grant_id: &str,
    role: &str,
) -> Result<(), ConnectorError> {
    let metadata = match find_role(maintenance, role).await? {
        RoleLookup::Missing => return Ok(()),
        RoleLookup::Foreign => {
            return Err(ConnectorError::FailedPrecondition(format!(
                "role {role} exists and was not made by latch; leaving it alone"
            )));
        }
        RoleLookup::Latch(metadata) => metadata,
    };
    let quoted = quote_ident(role)?;
    execute(maintenance, format!("ALTER ROLE {quoted} NOLOGIN"), "disabling login").await?;
    take_membership_if_needed(maintenance, &quoted).await;
    let terminated = terminate_sessions(maintenance, role).await?;

    // A database dropped since the grant took the role's privileges in it along.
    let mut target = if catalog::database_exists(maintenance, &metadata.database).await? {
        Some(connect(config, &metadata.database).await?)
    } else {
        None
    };
    let result = drop_privileges_and_role(config, maintenance, target.as_mut(), &metadata.database, role).await;
    if let Some(target) = target {
        close(target).await;
    }
    result?;
    tracing::info!(grant_id = %grant_id, role = %role, terminated_sessions = terminated, "revoked postgres access");
    Ok(())
}

/// Under the target database's privilege lock: what the role holds in the target database, in
/// the maintenance database and on shared objects (the target database's CONNECT among them),
/// then the role.
async fn drop_privileges_and_role(
    config: &PostgresConfig,
    maintenance: &mut PgConnection,
    target: Option<&mut PgConnection>,
    target_database: &str,
    role: &str,
) -> Result<(), ConnectorError> {
    let quoted = quote_ident(role)?;
    let mut cleaned = vec![config.maintenance_database.clone()];
    if let Some(target) = target {
        lock_privilege_changes(target).await?;
        if target_database != config.maintenance_database {
            drop_owned(target, target_database, &quoted).await?;
            cleaned.push(target_database.to_string());
        }
    }
    drop_owned(maintenance, &config.maintenance_database, &quoted).await?;
    match drop_role(maintenance, &quoted).await {
        Err(error) if is_dependency_error(&error) => {
            // The role owns or holds something in a database it was never granted on (an admin
            // grant can reach further): sweep them all, then try once more.
            let all = catalog::databases(maintenance).await?;
            for database in all.iter().filter(|d| !cleaned.contains(&d.name)) {
                let mut connection = connect(config, &database.name).await?;
                let result = drop_owned(&mut connection, &database.name, &quoted).await;
                close(connection).await;
                result?;
            }
            drop_role(maintenance, &quoted)
                .await
                .map_err(|e| map_sqlx_error(&format!("dropping role {role}"), e))
        }
        other => other.map_err(|e| map_sqlx_error(&format!("dropping role {role}"), e)),
    }
}

/// A non-superuser admin needs the role's privileges for REASSIGN OWNED and DROP OWNED;
/// CREATEROLE lets it grant itself membership. A superuser needs nothing, and a failure here
/// shows up, clearer, in the statements that needed it.
async fn take_membership_if_needed(maintenance: &mut PgConnection, quoted_role: &str) {
    let is_superuser: Result<bool, _> =
        sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut *maintenance)
            .await;
    if matches!(is_superuser, Ok(true)) {
        return;
    }
    let sql = format!("GRANT {quoted_role} TO CURRENT_USER");
    if let Err(error) = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *maintenance).await {
        tracing::debug!(error = %error, "could not take membership of a grant role before revoking");
    }
}

/// Ends every session of `role` and waits for them to go; returns how many there were.
async fn terminate_sessions(maintenance: &mut PgConnection, role: &str) -> Result<i64, ConnectorError> {
    sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid, $2)) FROM pg_stat_activity \
         WHERE usename = $1 AND pid <> pg_backend_pid()",
    )
    .bind(role)
    .bind(TERMINATE_WAIT_MS)
    .fetch_one(maintenance)
    .await
    .map_err(|e| map_sqlx_error(&format!("terminating sessions of {role}"), e))
}

/// REASSIGN OWNED and DROP OWNED for the role in `connection`'s database, `database`.
async fn drop_owned(connection: &mut PgConnection, database: &str, quoted_role: &str) -> Result<(), ConnectorError> {
    let sql = format!("REASSIGN OWNED BY {quoted_role} TO CURRENT_USER; DROP OWNED BY {quoted_role}");
    execute(connection, sql, &format!("dropping what the role owns in {database}")).await
}

async fn drop_role(maintenance: &mut PgConnection, quoted_role: &str) -> Result<(), sqlx::Error> {
    let sql = format!("DROP ROLE IF EXISTS {quoted_role}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(maintenance)
        .await
        .map(|_| ())
}

fn is_dependency_error(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.code().as_deref() == Some(sqlstate::DEPENDENT_OBJECTS_STILL_EXIST))
}

async fn execute(connection: &mut PgConnection, sql: String, context: &str) -> Result<(), ConnectorError> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(connection)
        .await
        .map(|_| ())
        .map_err(|e| map_sqlx_error(context, e))
}
