//! The approver index (see `domain::approver_keys`): which pending request waits under which
//! key. Written with the request's move into pending approval, deleted with its move out.

use latch_runtime::database::{format_time, statement};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Value};

use super::requests::{REQUEST_COLUMNS, RequestRow, request};

/// Most keys written in one statement.
const KEYS_PER_STATEMENT: usize = 300;

/// Stores `request_id` under `keys` (idempotent); keys starting with `on_call_prefix` also
/// record their schedule.
pub async fn put(
    connection: &impl ConnectionTrait,
    request_id: &str,
    keys: &[String],
    on_call_prefix: &str,
) -> Result<(), DbErr> {
    for chunk in keys.chunks(KEYS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO approval_keys (approver_key, request_id, schedule) VALUES {} ON CONFLICT DO NOTHING",
            vec!["(?, ?, ?)"; chunk.len()].join(", ")
        );
        let values = chunk
            .iter()
            .flat_map(|key| {
                let schedule = key.strip_prefix(on_call_prefix).unwrap_or_default();
                [
                    Value::from(key.clone()),
                    Value::from(request_id.to_string()),
                    Value::from(schedule.to_string()),
                ]
            })
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
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    // The keys travel as one JSON array: one statement text (prepared once) however many keys
    // a person holds (a manager of hundreds holds hundreds).
    let keys_from_json = match connection.get_database_backend() {
        DbBackend::Postgres => "SELECT json_array_elements_text(CAST(? AS json))",
        _ => "SELECT value FROM json_each(?)",
    };
    let mut sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM requests WHERE state = 'pending_approval' AND id IN (
             SELECT request_id FROM approval_keys WHERE approver_key IN ({keys_from_json}))"
    );
    let keys = serde_json::to_string(keys).map_err(|e| DbErr::Custom(e.to_string()))?;
    let mut values: Vec<Value> = vec![keys.into()];
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

/// The schedules whose on-call person may approve a pending request.
pub async fn schedules(connection: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    let rows = connection
        .query_all_raw(statement(
            connection.get_database_backend(),
            "SELECT DISTINCT schedule FROM approval_keys WHERE schedule <> '' ORDER BY schedule",
            vec![],
        ))
        .await?;
    rows.iter().map(|row| row.try_get::<String>("", "schedule")).collect()
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
