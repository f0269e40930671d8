//! The approver index (see `domain::approver_keys`): which pending request waits under which
//! key. Written with the request's move into pending approval, deleted with its move out.

use latch_runtime::database::{format_time, statement};
use sea_orm::{ConnectionTrait, DbErr, Value};

use super::requests::{REQUEST_COLUMNS, RequestRow, request};

/// Most keys sent in one query (a person's keys are few; this bounds a pathological directory).
const KEYS_PER_QUERY: usize = 500;

/// Stores `request_id` under `keys` (idempotent).
pub async fn put(connection: &impl ConnectionTrait, request_id: &str, keys: &[String]) -> Result<(), DbErr> {
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let sql = format!(
            "INSERT INTO approval_keys (approver_key, request_id) VALUES {} ON CONFLICT DO NOTHING",
            vec!["(?, ?)"; chunk.len()].join(", ")
        );
        let values = chunk
            .iter()
            .flat_map(|key| [Value::from(key.clone()), Value::from(request_id.to_string())])
            .collect();
        connection
            .execute_raw(statement(connection.get_database_backend(), &sql, values))
            .await?;
    }
    Ok(())
}

/// The request no longer waits for approval.
pub async fn clear(connection: &impl ConnectionTrait, request_id: &str) -> Result<(), DbErr> {
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "DELETE FROM approval_keys WHERE request_id = ?",
            vec![request_id.into()],
        ))
        .await?;
    Ok(())
}

/// Pending requests stored under any of `keys`, newest first, after the (created, id) position
/// `before`, at most `limit`.
pub async fn pending_under(
    connection: &impl ConnectionTrait,
    keys: &[String],
    before: Option<(chrono::DateTime<chrono::Utc>, String)>,
    limit: u32,
) -> Result<Vec<RequestRow>, DbErr> {
    let keys = &keys[..keys.len().min(KEYS_PER_QUERY)];
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM requests WHERE state = 'pending_approval' AND id IN (
             SELECT request_id FROM approval_keys WHERE approver_key IN ({}))",
        vec!["?"; keys.len()].join(", ")
    );
    let mut values: Vec<Value> = keys.iter().map(|k| Value::from(k.clone())).collect();
    if let Some((at, id)) = before {
        sql.push_str(" AND (created_at < ? OR (created_at = ? AND id < ?))");
        values.push(format_time(at).into());
        values.push(format_time(at).into());
        values.push(id.into());
    }
    sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
    values.push(i64::from(limit.max(1)).into());
    let rows = connection
        .query_all_raw(statement(connection.get_database_backend(), &sql, values))
        .await?;
    rows.iter().map(request).collect()
}

/// The distinct keys with `prefix` that pending requests wait under (e.g. every schedule whose
/// on-call person may approve something now).
pub async fn keys_with_prefix(connection: &impl ConnectionTrait, prefix: &str) -> Result<Vec<String>, DbErr> {
    let rows = connection
        .query_all_raw(statement(
            connection.get_database_backend(),
            "SELECT DISTINCT approver_key FROM approval_keys WHERE approver_key LIKE ? ESCAPE '\\'
             ORDER BY approver_key LIMIT 1000",
            vec![
                format!(
                    "{}%",
                    prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
                )
                .into(),
            ],
        ))
        .await?;
    rows.iter()
        .map(|row| row.try_get::<String>("", "approver_key"))
        .collect()
}

/// Pending requests not in the index (written before it existed), at most `limit`.
pub async fn unindexed_pending(connection: &impl ConnectionTrait, limit: u32) -> Result<Vec<RequestRow>, DbErr> {
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM requests WHERE state = 'pending_approval'
         AND NOT EXISTS (SELECT 1 FROM approval_keys WHERE approval_keys.request_id = requests.id)
         ORDER BY created_at, id LIMIT ?"
    );
    let rows = connection
        .query_all_raw(statement(
            connection.get_database_backend(),
            &sql,
            vec![i64::from(limit.max(1)).into()],
        ))
        .await?;
    rows.iter().map(request).collect()
}
