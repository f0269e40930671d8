//! Signed checkpoints of the audit chain's head. Appended by the sealer and by exports, never
//! changed or deleted (the migration's triggers refuse it).

use latch_runtime::database::{format_time, parse_time, statement};
use sea_orm::{ConnectionTrait, DbErr, QueryResult};

use crate::domain::checkpoint::Checkpoint;

fn checkpoint(row: &QueryResult) -> Result<Checkpoint, DbErr> {
    Ok(Checkpoint {
        sequence: row.try_get("", "sequence")?,
        head_hash: row.try_get("", "head_hash")?,
        at: parse_time(&row.try_get::<String>("", "at")?)?,
        key_id: row.try_get("", "key_id")?,
        signature: row.try_get("", "signature")?,
    })
}

/// Stores `checkpoint`; one at a sequence per key is enough, so a second is dropped.
pub async fn insert(connection: &impl ConnectionTrait, checkpoint: &Checkpoint) -> Result<(), DbErr> {
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "INSERT INTO audit_checkpoints (sequence, head_hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (sequence, key_id) DO NOTHING",
            vec![
                checkpoint.sequence.into(),
                checkpoint.head_hash.clone().into(),
                format_time(checkpoint.at).into(),
                checkpoint.key_id.clone().into(),
                checkpoint.signature.clone().into(),
            ],
        ))
        .await?;
    Ok(())
}

/// The checkpoint at the highest sequence signed by `key_id`.
pub async fn latest(connection: &impl ConnectionTrait, key_id: &str) -> Result<Option<Checkpoint>, DbErr> {
    let row = connection
        .query_one_raw(statement(
            connection.get_database_backend(),
            "SELECT sequence, head_hash, at, key_id, signature FROM audit_checkpoints
             WHERE key_id = ? ORDER BY sequence DESC LIMIT 1",
            vec![key_id.into()],
        ))
        .await?;
    row.as_ref().map(checkpoint).transpose()
}

/// Every stored checkpoint, by sequence (about one per thousand events or ten minutes).
pub async fn all(connection: &impl ConnectionTrait) -> Result<Vec<Checkpoint>, DbErr> {
    let rows = connection
        .query_all_raw(statement(
            connection.get_database_backend(),
            "SELECT sequence, head_hash, at, key_id, signature FROM audit_checkpoints ORDER BY sequence, key_id",
            vec![],
        ))
        .await?;
    rows.iter().map(checkpoint).collect()
}
