//! ValidateConfig: the config parses, the server answers, and the admin role may do its job.

use latch_connector_sdk::{Config, ConnectorError};
use sqlx::{PgConnection, Row};

use crate::catalog;
use crate::config::PostgresConfig;
use crate::connection::{close, connect};
use crate::sql_errors::map_sqlx_error;

/// Problems, one line each; an error only when the server failed mid-check.
pub async fn validate_config(config: &Config) -> Result<Vec<String>, ConnectorError> {
    let config = match PostgresConfig::parse(config) {
        Ok(config) => config,
        Err(problems) => return Ok(problems),
    };
    let mut connection = match connect(&config, &config.maintenance_database).await {
        Ok(connection) => connection,
        // connect's message already says where and as whom.
        Err(error) => return Ok(vec![error_text(error)]),
    };
    let problems = privilege_problems(&config, &mut connection).await;
    close(connection).await;
    problems
}

async fn privilege_problems(
    config: &PostgresConfig,
    connection: &mut PgConnection,
) -> Result<Vec<String>, ConnectorError> {
    let mut problems = Vec::new();
    let row = sqlx::query(
        "SELECT rolsuper, rolcreaterole, pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS can_signal \
         FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut *connection)
    .await
    .map_err(|e| map_sqlx_error("reading the admin role", e))?;
    let read = |e| map_sqlx_error("reading the admin role", e);
    let is_superuser: bool = row.try_get("rolsuper").map_err(read)?;
    let can_create_roles: bool = row.try_get("rolcreaterole").map_err(read)?;
    let can_signal: bool = row.try_get("can_signal").map_err(read)?;
    if !is_superuser && !can_create_roles {
        problems.push(format!("role {} lacks CREATEROLE", config.user));
    }
    if !is_superuser && !can_signal {
        problems.push(format!(
            "role {} cannot end other sessions on revoke; grant it pg_signal_backend",
            config.user
        ));
    }

    if let Some(managed) = &config.managed_databases {
        let existing = catalog::databases(connection).await?;
        for name in managed {
            if !existing.iter().any(|d| &d.name == name) {
                problems.push(format!("database {name} does not exist or does not allow connections"));
            }
        }
    }
    Ok(problems)
}

fn error_text(error: ConnectorError) -> String {
    match error {
        ConnectorError::Unavailable(message)
        | ConnectorError::Aborted(message)
        | ConnectorError::FailedPrecondition(message)
        | ConnectorError::NotFound(message) => message,
        ConnectorError::InvalidArgument { field, rule } => format!("{field}: {rule}"),
    }
}
