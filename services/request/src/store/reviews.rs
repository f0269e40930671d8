//! Post-use reviews of break-glass access: one per request granted under a flow that asks for
//! it, pending until a reviewer signs off or flags it.

use chrono::{DateTime, Utc};
use latch_runtime::database::{format_time, optional_time, parse_time, statement};
use sea_orm::{ConnectionTrait, DbErr, QueryResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub request_id: String,
    /// `pending`, `approved` or `flagged`.
    pub state: String,
    pub reviewer_id: String,
    pub note: String,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub reminders: i32,
}

const COLUMNS: &str = "request_id, state, reviewer_id, note, created_at, decided_at, reminders";

fn review(row: &QueryResult) -> Result<Review, DbErr> {
    Ok(Review {
        request_id: row.try_get("", "request_id")?,
        state: row.try_get("", "state")?,
        reviewer_id: row.try_get("", "reviewer_id")?,
        note: row.try_get("", "note")?,
        created_at: parse_time(&row.try_get::<String>("", "created_at")?)?,
        decided_at: optional_time(row, "decided_at")?,
        reminders: row.try_get("", "reminders")?,
    })
}

pub async fn open(connection: &impl ConnectionTrait, request_id: &str, at: DateTime<Utc>) -> Result<(), DbErr> {
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "INSERT INTO reviews (request_id, state, reviewer_id, note, created_at, decided_at, reminders)
             VALUES (?, 'pending', '', '', ?, NULL, 0) ON CONFLICT (request_id) DO NOTHING",
            vec![request_id.into(), format_time(at).into()],
        ))
        .await?;
    Ok(())
}

pub async fn get(connection: &impl ConnectionTrait, request_id: &str) -> Result<Option<Review>, DbErr> {
    let sql = format!("SELECT {COLUMNS} FROM reviews WHERE request_id = ?");
    connection
        .query_one_raw(statement(
            connection.get_database_backend(),
            &sql,
            vec![request_id.into()],
        ))
        .await?
        .as_ref()
        .map(review)
        .transpose()
}

/// Reviews in a state (all when empty), oldest first.
pub async fn list(connection: &impl ConnectionTrait, state: &str, limit: u32) -> Result<Vec<Review>, DbErr> {
    let (filter, mut values) = if state.is_empty() {
        ("", vec![])
    } else {
        (" WHERE state = ?", vec![state.into()])
    };
    let sql = format!("SELECT {COLUMNS} FROM reviews{filter} ORDER BY created_at, request_id LIMIT ?");
    values.push(i64::from(limit.max(1)).into());
    let rows = connection
        .query_all_raw(statement(connection.get_database_backend(), &sql, values))
        .await?;
    rows.iter().map(review).collect()
}

/// Records the verdict of a pending review; false when it was no longer pending.
pub async fn decide(
    connection: &impl ConnectionTrait,
    request_id: &str,
    state: &str,
    reviewer_id: &str,
    note: &str,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let done = connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "UPDATE reviews SET state = ?, reviewer_id = ?, note = ?, decided_at = ? WHERE request_id = ? AND state = 'pending'",
            vec![
                state.into(),
                reviewer_id.into(),
                note.into(),
                format_time(at).into(),
                request_id.into(),
            ],
        ))
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn reminded(connection: &impl ConnectionTrait, request_id: &str) -> Result<(), DbErr> {
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "UPDATE reviews SET reminders = reminders + 1 WHERE request_id = ?",
            vec![request_id.into()],
        ))
        .await?;
    Ok(())
}
