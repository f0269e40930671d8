//! Grant and Extend.
//!
//! Granting a grant_id again (Latch retrying after a lost answer) finds the role, re-applies its
//! GRANTs, and resets its password to a fresh one: PostgreSQL keeps only a verifier, and the
//! connector stores nothing, so the first password cannot be returned again. The account stays
//! the same; the earlier password stops working, which matters little because the earlier
//! answer is the one that was lost. The expiry is left as it is, so a retry never undoes an
//! Extend.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use latch_connector_sdk::{ConnectorError, GrantOutcome, GrantRequest, check_permission};
use sqlx::PgConnection;

use crate::catalog;
use crate::config::PostgresConfig;
use crate::connection::{close, connect};
use crate::describe::description;
use crate::metadata::RoleMetadata;
use crate::naming::role_name;
use crate::password::{generate_password, scram_verifier};
use crate::privilege_lock::lock_privilege_changes;
use crate::privileges::{GrantTarget, grant_statements, probe_privilege};
use crate::resource_id::ResourceId;
use crate::roles::{RoleLookup, create_role, find_role, set_expiry, set_password};
use crate::sql_errors::{map_sqlx_error, sqlstate};

pub async fn grant(config: &PostgresConfig, request: &GrantRequest) -> Result<GrantOutcome, ConnectorError> {
    check_permission(&description(), &request.resource_type, &request.permission)?;
    if request.grant_id.trim().is_empty() {
        return Err(ConnectorError::invalid("grant_id", "must not be empty"));
    }
    let resource = ResourceId::parse(&request.resource_type, &request.resource_id)?;
    let database = resource.database().to_string();
    if !config.manages(&database) {
        return Err(ConnectorError::FailedPrecondition(format!(
            "database {database} is not managed by this integration"
        )));
    }

    let mut maintenance = connect(config, &config.maintenance_database).await?;
    let result = grant_with(config, &mut maintenance, request, &resource).await;
    close(maintenance).await;
    result
}

async fn grant_with(
    config: &PostgresConfig,
    maintenance: &mut PgConnection,
    request: &GrantRequest,
    resource: &ResourceId,
) -> Result<GrantOutcome, ConnectorError> {
    let database = resource.database();
    if !catalog::database_exists(maintenance, database).await? {
        return Err(ConnectorError::FailedPrecondition(format!(
            "database {database} does not exist"
        )));
    }
    // The SCRAM verifier costs thousands of HMACs: computed before waiting for the lock.
    let password = generate_password();
    let verifier = scram_verifier(&password)?;
    let mut target_connection = connect(config, database).await?;
    let result = async {
        lock_privilege_changes(&mut target_connection).await?;
        let target = resolve_target(&mut target_connection, resource).await?;
        let role = role_name(&request.grant_id);
        let wanted = RoleMetadata::new(
            &request.grant_id,
            &request.resource_type,
            &request.resource_id,
            &request.permission,
            database,
            &request.grantee.user_name,
            request.expires_at,
        );
        ensure_role(maintenance, &role, &verifier, &wanted).await?;
        apply_privileges(&mut target_connection, &target, &request.permission, &role).await?;
        tracing::info!(
            grant_id = %request.grant_id,
            role = %role,
            resource_id = %request.resource_id,
            permission = %request.permission,
            "granted postgres access"
        );
        Ok(GrantOutcome {
            account: role.clone(),
            credentials: BTreeMap::from([
                ("host".to_string(), config.host.clone()),
                ("port".to_string(), config.port.to_string()),
                ("database".to_string(), database.to_string()),
                ("user".to_string(), role),
                ("password".to_string(), password),
            ]),
        })
    }
    .await;
    close(target_connection).await;
    result
}

/// Reads what granting on `resource` needs from its database; a missing object is final.
async fn resolve_target(connection: &mut PgConnection, resource: &ResourceId) -> Result<GrantTarget, ConnectorError> {
    let missing = |what: &str| ConnectorError::FailedPrecondition(format!("{what} {} does not exist", resource.path()));
    Ok(match resource {
        ResourceId::Database { database } => GrantTarget::Database {
            database: database.clone(),
            schemas: catalog::schemas(connection)
                .await?
                .into_iter()
                .map(|s| s.name)
                .collect(),
        },
        ResourceId::Schema { database, schema } => {
            if !catalog::schema_exists(connection, schema).await? {
                return Err(missing("schema"));
            }
            GrantTarget::Schema {
                database: database.clone(),
                schema: schema.clone(),
            }
        }
        ResourceId::Table {
            database,
            schema,
            table,
        } => {
            let Some(oid) = catalog::table_oid(connection, schema, table).await? else {
                return Err(missing("table"));
            };
            GrantTarget::Table {
                database: database.clone(),
                schema: schema.clone(),
                table: table.clone(),
                sequences: catalog::owned_sequences(connection, oid).await?,
            }
        }
    })
}

/// Creates the grant's role, or finds it from an earlier call and resets its password to the
/// one `verifier` is for.
async fn ensure_role(
    maintenance: &mut PgConnection,
    role: &str,
    verifier: &str,
    wanted: &RoleMetadata,
) -> Result<(), ConnectorError> {
    match find_role(maintenance, role).await? {
        RoleLookup::Missing => match create_role(maintenance, role, verifier, wanted).await {
            Ok(()) => {}
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some(sqlstate::DUPLICATE_OBJECT) => {
                return Err(ConnectorError::Aborted(format!(
                    "role {role} was created concurrently; granting again finds it"
                )));
            }
            Err(error) => return Err(map_sqlx_error(&format!("creating role {role}"), error)),
        },
        RoleLookup::Latch(existing) if existing.same_grant(wanted) => set_password(maintenance, role, verifier).await?,
        RoleLookup::Latch(existing) => {
            return Err(ConnectorError::FailedPrecondition(format!(
                "grant {} already holds {} on {}; a grant id names one resource and permission",
                existing.grant_id, existing.permission, existing.resource_id
            )));
        }
        RoleLookup::Foreign => {
            return Err(ConnectorError::FailedPrecondition(format!(
                "role {role} exists and was not made by latch; leaving it alone"
            )));
        }
    }
    Ok(())
}

/// Runs the GRANTs as one transaction, then checks they took: a GRANT by a role without grant
/// rights only warns and grants nothing.
async fn apply_privileges(
    connection: &mut PgConnection,
    target: &GrantTarget,
    permission: &str,
    role: &str,
) -> Result<(), ConnectorError> {
    let statements = grant_statements(target, permission, role)?;
    let context = format!("granting {permission} to {role}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(statements.join(";\n")))
        .execute(&mut *connection)
        .await
        .map_err(|e| map_sqlx_error(&context, e))?;

    let lacking = lacking_privileges(connection, target, permission, role).await?;
    if lacking > 0 {
        return Err(ConnectorError::FailedPrecondition(format!(
            "{context}: {lacking} object(s) did not receive the privilege; the admin role needs grant rights on them"
        )));
    }
    Ok(())
}

/// How many objects of `target` the role still lacks `permission`'s probe privilege on.
async fn lacking_privileges(
    connection: &mut PgConnection,
    target: &GrantTarget,
    permission: &str,
    role: &str,
) -> Result<i64, ConnectorError> {
    let check = |e| map_sqlx_error("checking granted privileges", e);
    let connect_lacking: bool =
        sqlx::query_scalar("SELECT NOT has_database_privilege($1, current_database(), 'CONNECT')")
            .bind(role)
            .fetch_one(&mut *connection)
            .await
            .map_err(check)?;
    let Some(probe) = probe_privilege(permission) else {
        return Ok(i64::from(connect_lacking));
    };
    let (schemas, table): (Vec<String>, Option<String>) = match target {
        GrantTarget::Database { schemas, .. } => (schemas.clone(), None),
        GrantTarget::Schema { schema, .. } => (vec![schema.clone()], None),
        GrantTarget::Table { schema, table, .. } => (vec![schema.clone()], Some(table.clone())),
    };
    let tables_lacking: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = ANY($1) AND ($2::text IS NULL OR c.relname = $2) \
           AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition \
           AND NOT has_table_privilege($3, c.oid, $4)",
    )
    .bind(schemas)
    .bind(table)
    .bind(role)
    .bind(probe)
    .fetch_one(&mut *connection)
    .await
    .map_err(check)?;
    Ok(tables_lacking + i64::from(connect_lacking))
}

pub async fn extend(
    config: &PostgresConfig,
    grant_id: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(), ConnectorError> {
    let role = role_name(grant_id);
    let mut maintenance = connect(config, &config.maintenance_database).await?;
    let result = async {
        let RoleLookup::Latch(mut metadata) = find_role(&mut maintenance, &role).await? else {
            return Err(ConnectorError::NotFound(format!(
                "grant {grant_id} is not held on this server"
            )));
        };
        metadata.expires_at = expires_at;
        set_expiry(&mut maintenance, &role, &metadata).await?;
        tracing::info!(grant_id = %grant_id, role = %role, "moved postgres grant expiry");
        Ok(())
    }
    .await;
    close(maintenance).await;
    result
}
