//! What automatic flows hold: one request per (flow, grantee) carrying the flow's items, and
//! the reconciler's durable place in the directory change feed.

use latch_runtime::database::{format_time, parse_time, statement};
use sea_orm::{ConnectionTrait, DbErr, QueryResult};

use crate::domain::lifecycle::State;
use crate::store::requests::parse_state;

/// The request through which an automatic flow gives a grantee its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub flow_id: String,
    pub grantee_id: String,
    pub request_id: String,
    /// Digest of the items the request was made with; a flow now granting other items replaces it.
    pub items_key: String,
    /// The request's state now, and when it last changed (read with the assignment).
    pub state: State,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

const SELECT: &str = "SELECT a.flow_id, a.grantee_id, a.request_id, a.items_key, r.state, r.updated_at
     FROM automatic_grants a JOIN requests r ON r.id = a.request_id";

fn assignment(row: &QueryResult) -> Result<Assignment, DbErr> {
    let state: String = row.try_get("", "state")?;
    Ok(Assignment {
        flow_id: row.try_get("", "flow_id")?,
        grantee_id: row.try_get("", "grantee_id")?,
        request_id: row.try_get("", "request_id")?,
        items_key: row.try_get("", "items_key")?,
        state: parse_state(&state).ok_or_else(|| DbErr::Type(format!("unknown request state {state:?}")))?,
        updated_at: parse_time(&row.try_get::<String>("", "updated_at")?)?,
    })
}

async fn select(
    connection: &impl ConnectionTrait,
    filter: &str,
    values: Vec<sea_orm::Value>,
) -> Result<Vec<Assignment>, DbErr> {
    let sql = format!("{SELECT}{filter}");
    let rows = connection
        .query_all_raw(statement(connection.get_database_backend(), &sql, values))
        .await?;
    rows.iter().map(assignment).collect()
}

pub async fn for_grantee(connection: &impl ConnectionTrait, grantee_id: &str) -> Result<Vec<Assignment>, DbErr> {
    select(
        connection,
        " WHERE a.grantee_id = ? ORDER BY a.flow_id",
        vec![grantee_id.into()],
    )
    .await
}

pub async fn for_flow(connection: &impl ConnectionTrait, flow_id: &str) -> Result<Vec<Assignment>, DbErr> {
    select(
        connection,
        " WHERE a.flow_id = ? ORDER BY a.grantee_id",
        vec![flow_id.into()],
    )
    .await
}

pub async fn all(connection: &impl ConnectionTrait) -> Result<Vec<Assignment>, DbErr> {
    select(connection, "", vec![]).await
}

pub async fn put(
    connection: &impl ConnectionTrait,
    flow_id: &str,
    grantee_id: &str,
    request_id: &str,
    items_key: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "INSERT INTO automatic_grants (flow_id, grantee_id, request_id, items_key, updated_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (flow_id, grantee_id) DO UPDATE SET request_id = excluded.request_id,
                 items_key = excluded.items_key, updated_at = excluded.updated_at",
            vec![
                flow_id.into(),
                grantee_id.into(),
                request_id.into(),
                items_key.into(),
                format_time(at).into(),
            ],
        ))
        .await?;
    Ok(())
}

pub async fn remove(connection: &impl ConnectionTrait, flow_id: &str, grantee_id: &str) -> Result<(), DbErr> {
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "DELETE FROM automatic_grants WHERE flow_id = ? AND grantee_id = ?",
            vec![flow_id.into(), grantee_id.into()],
        ))
        .await?;
    Ok(())
}

/// Where a feed reader stopped (0 before its first change).
pub async fn cursor(connection: &impl ConnectionTrait, name: &str) -> Result<i64, DbErr> {
    let row = connection
        .query_one_raw(statement(
            connection.get_database_backend(),
            "SELECT sequence FROM feed_cursors WHERE name = ?",
            vec![name.into()],
        ))
        .await?;
    row.map(|r| r.try_get::<i64>("", "sequence"))
        .transpose()
        .map(|s| s.unwrap_or(0))
}

/// Moves a feed reader's cursor forward (never back: replicas may race).
pub async fn advance(
    connection: &impl ConnectionTrait,
    name: &str,
    sequence: i64,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "INSERT INTO feed_cursors (name, sequence, updated_at) VALUES (?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET sequence = excluded.sequence, updated_at = excluded.updated_at
             WHERE feed_cursors.sequence < excluded.sequence",
            vec![name.into(), sequence.into(), format_time(at).into()],
        ))
        .await?;
    Ok(())
}
