//! Connections as the admin role: one per database a call touches, opened for the call and
//! closed after it. The connector holds no pool because every call may name another server.

use latch_connector_sdk::ConnectorError;
use sqlx::{Connection, PgConnection};

use crate::config::{CONNECT_TIMEOUT, PostgresConfig};
use crate::sql_errors::map_sqlx_error;

/// A connection to `database` as the configured admin role.
pub async fn connect(config: &PostgresConfig, database: &str) -> Result<PgConnection, ConnectorError> {
    let context = format!("cannot connect to {}/{database} as {}", config.address(), config.user);
    let options = config.connect_options(database);
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(map_sqlx_error(&context, error)),
        Err(_) => Err(ConnectorError::Unavailable(format!(
            "{context}: no answer within {}s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Closes `connection` politely; a failure only means the server drops it a little later.
pub async fn close(connection: PgConnection) {
    if let Err(error) = connection.close().await {
        tracing::debug!(error = %error, "closing a postgres connection failed");
    }
}
