//! Re-sealing a context's secrets under its newest key, after a key was added to its ring:
//! every value sealed with an older key (or with the deployment's key, from before the context
//! had keys of its own) is opened and sealed again. A value written meanwhile by the running
//! service is left as that service wrote it (the update only replaces the value it read).

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use crate::crypto::SecretBox;
use crate::database::statement;

/// Where a context keeps a sealed column, bound to the row's id as associated data.
#[derive(Debug, Clone, Copy)]
pub struct SealedColumn {
    pub table: &'static str,
    pub id: &'static str,
    pub column: &'static str,
}

/// What a re-seal did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResealReport {
    /// Values now sealed with the newest key.
    pub resealed: u64,
    /// Values already sealed with it.
    pub current: u64,
    /// Values changed by the running service while this ran (already under the newest key).
    pub raced: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("{table}.{column} of {id}: cannot be opened with any key of the ring or the deployment's key")]
    CannotOpen {
        table: &'static str,
        column: &'static str,
        id: String,
    },
}

const PAGE: u64 = 500;

/// Re-seals every value of `column` under `secrets`' sealing key.
pub async fn reseal(
    db: &DatabaseConnection,
    column: SealedColumn,
    secrets: &SecretBox,
) -> Result<ResealReport, ResealError> {
    let SealedColumn {
        table,
        id,
        column: sealed,
    } = column;
    let backend = db.get_database_backend();
    let mut report = ResealReport::default();
    let mut after = String::new();
    loop {
        let rows = db
            .query_all_raw(statement(
                backend,
                &format!(
                    "SELECT {id} AS id, {sealed} AS sealed FROM {table} WHERE {id} > ? ORDER BY {id} LIMIT {PAGE}"
                ),
                vec![after.clone().into()],
            ))
            .await?;
        let Some(last) = rows.last() else {
            return Ok(report);
        };
        after = last.try_get("", "id")?;
        for row in &rows {
            let key: String = row.try_get("", "id")?;
            let value: String = row.try_get("", "sealed")?;
            if value.is_empty() || secrets.is_current(&value) {
                report.current += u64::from(!value.is_empty());
                continue;
            }
            let plain = secrets
                .open_bound(&value, key.as_bytes())
                .map_err(|_| ResealError::CannotOpen {
                    table,
                    column: sealed,
                    id: key.clone(),
                })?;
            let again = secrets.seal_bound(&plain, key.as_bytes());
            let updated = db
                .execute_raw(statement(
                    backend,
                    &format!("UPDATE {table} SET {sealed} = ? WHERE {id} = ? AND {sealed} = ?"),
                    vec![again.into(), key.into(), value.into()],
                ))
                .await?;
            if updated.rows_affected() == 1 {
                report.resealed += 1;
            } else {
                report.raced += 1;
            }
        }
        if (rows.len() as u64) < PAGE {
            return Ok(report);
        }
    }
}
