//! The webhook delivery log: every attempt, its answer and how long it took.

use chrono::{DateTime, Utc};
use latch_runtime::database::{format_time, parse_time, statement};
use sea_orm::{ConnectionTrait, DbErr, QueryResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub job_id: String,
    pub sink: String,
    pub event: String,
    pub request_id: String,
    pub attempt: i32,
    /// The HTTP status (0 when no answer came).
    pub status: i32,
    /// Empty when delivered.
    pub error: String,
    pub at: DateTime<Utc>,
    pub millis: i64,
}

const COLUMNS: &str = "id, job_id, sink, event, request_id, attempt, status, error, at, millis";

fn delivery(row: &QueryResult) -> Result<Delivery, DbErr> {
    Ok(Delivery {
        id: row.try_get("", "id")?,
        job_id: row.try_get("", "job_id")?,
        sink: row.try_get("", "sink")?,
        event: row.try_get("", "event")?,
        request_id: row.try_get("", "request_id")?,
        attempt: row.try_get("", "attempt")?,
        status: row.try_get("", "status")?,
        error: row.try_get("", "error")?,
        at: parse_time(&row.try_get::<String>("", "at")?)?,
        millis: row.try_get("", "millis")?,
    })
}

pub async fn insert(connection: &impl ConnectionTrait, d: &Delivery) -> Result<(), DbErr> {
    let sql = format!("INSERT INTO webhook_deliveries ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            &sql,
            vec![
                d.id.clone().into(),
                d.job_id.clone().into(),
                d.sink.clone().into(),
                d.event.clone().into(),
                d.request_id.clone().into(),
                d.attempt.into(),
                d.status.into(),
                d.error.clone().into(),
                format_time(d.at).into(),
                d.millis.into(),
            ],
        ))
        .await?;
    Ok(())
}

/// The newest attempts first.
pub async fn recent(connection: &impl ConnectionTrait, limit: u32) -> Result<Vec<Delivery>, DbErr> {
    let sql = format!("SELECT {COLUMNS} FROM webhook_deliveries ORDER BY at DESC, id DESC LIMIT ?");
    let rows = connection
        .query_all_raw(statement(
            connection.get_database_backend(),
            &sql,
            vec![i64::from(limit.max(1)).into()],
        ))
        .await?;
    rows.iter().map(delivery).collect()
}
