//! The audit log's rows: appended in the transaction of the change they record, sealed into
//! the hash chain shortly after by one sealer at a time. Never updated otherwise, never deleted.

use chrono::{DateTime, Utc};
use latch_runtime::database::{format_time, parse_time, statement};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Value};

use crate::domain::audit::AuditEvent;

const COLUMNS: &str = "id, at, actor, action, subject, source, grantee, flow, resources, before_state, after_state, \
    detail, sequence, previous_hash, hash";

fn event(row: &QueryResult) -> Result<AuditEvent, DbErr> {
    Ok(AuditEvent {
        id: row.try_get("", "id")?,
        at: parse_time(&row.try_get::<String>("", "at")?)?,
        actor: row.try_get("", "actor")?,
        action: row.try_get("", "action")?,
        subject: row.try_get("", "subject")?,
        source: row.try_get("", "source")?,
        grantee: row.try_get("", "grantee")?,
        flow: row.try_get("", "flow")?,
        resources: row.try_get("", "resources")?,
        before: row.try_get("", "before_state")?,
        after: row.try_get("", "after_state")?,
        detail: row.try_get("", "detail")?,
        sequence: row.try_get("", "sequence")?,
        previous_hash: row.try_get("", "previous_hash")?,
        hash: row.try_get("", "hash")?,
    })
}

/// Appends unsealed events in one statement.
pub async fn insert(connection: &impl ConnectionTrait, events: &[AuditEvent]) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    let mut sql = format!("INSERT INTO audit_events ({COLUMNS}) VALUES ");
    let mut values: Vec<Value> = Vec::with_capacity(events.len() * 15);
    for (n, e) in events.iter().enumerate() {
        if n > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, '', '')");
        values.extend([
            e.id.clone().into(),
            format_time(e.at).into(),
            e.actor.clone().into(),
            e.action.clone().into(),
            e.subject.clone().into(),
            e.source.clone().into(),
            e.grantee.clone().into(),
            e.flow.clone().into(),
            e.resources.clone().into(),
            e.before.clone().into(),
            e.after.clone().into(),
            e.detail.clone().into(),
        ]);
    }
    connection
        .execute_raw(statement(connection.get_database_backend(), &sql, values))
        .await?;
    Ok(())
}

/// Events not sealed yet, in the order they will be chained.
pub async fn unsealed(connection: &impl ConnectionTrait, limit: u32) -> Result<Vec<AuditEvent>, DbErr> {
    let sql = format!("SELECT {COLUMNS} FROM audit_events WHERE sequence IS NULL ORDER BY at, id LIMIT ?");
    let rows = connection
        .query_all_raw(statement(
            connection.get_database_backend(),
            &sql,
            vec![i64::from(limit).into()],
        ))
        .await?;
    rows.iter().map(event).collect()
}

/// The last sealed link: (sequence, hash).
pub async fn head(connection: &impl ConnectionTrait) -> Result<Option<(i64, String)>, DbErr> {
    let row = connection
        .query_one_raw(statement(
            connection.get_database_backend(),
            "SELECT sequence, hash FROM audit_events WHERE sequence IS NOT NULL ORDER BY sequence DESC LIMIT 1",
            vec![],
        ))
        .await?;
    row.map(|r| Ok((r.try_get("", "sequence")?, r.try_get("", "hash")?)))
        .transpose()
}

/// The hash of the sealed event at `sequence`, if there is one.
pub async fn hash_at(connection: &impl ConnectionTrait, sequence: i64) -> Result<Option<String>, DbErr> {
    let row = connection
        .query_one_raw(statement(
            connection.get_database_backend(),
            "SELECT hash FROM audit_events WHERE sequence = ?",
            vec![sequence.into()],
        ))
        .await?;
    row.map(|r| r.try_get("", "hash")).transpose()
}

pub async fn seal(connection: &impl ConnectionTrait, e: &AuditEvent) -> Result<(), DbErr> {
    connection
        .execute_raw(statement(
            connection.get_database_backend(),
            "UPDATE audit_events SET sequence = ?, previous_hash = ?, hash = ? WHERE id = ? AND sequence IS NULL",
            vec![
                e.sequence.into(),
                e.previous_hash.clone().into(),
                e.hash.clone().into(),
                e.id.clone().into(),
            ],
        ))
        .await?;
    Ok(())
}

/// Sealed events after `sequence`, in chain order.
pub async fn sealed_after(
    connection: &impl ConnectionTrait,
    sequence: i64,
    limit: u32,
) -> Result<Vec<AuditEvent>, DbErr> {
    let sql = format!("SELECT {COLUMNS} FROM audit_events WHERE sequence > ? ORDER BY sequence LIMIT ?");
    let rows = connection
        .query_all_raw(statement(
            connection.get_database_backend(),
            &sql,
            vec![sequence.into(), i64::from(limit).into()],
        ))
        .await?;
    rows.iter().map(event).collect()
}

pub async fn count_unsealed(connection: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let row = connection
        .query_one_raw(statement(
            connection.get_database_backend(),
            "SELECT COUNT(*) AS n FROM audit_events WHERE sequence IS NULL",
            vec![],
        ))
        .await?;
    row.map(|r| r.try_get::<i64>("", "n"))
        .transpose()
        .map(|n| n.unwrap_or(0))
}

/// Which events a query covers; every part optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// `users/{id}` or `latch`.
    pub actor: String,
    /// A user id.
    pub grantee: String,
    /// A resource id or name: events naming it, and every event of requests for it.
    pub resource: String,
    /// A flow name (or id, for flow changes).
    pub flow: String,
    /// An action, or a prefix ending in `.` (`request.`).
    pub action: String,
    /// Events after this (time, id) position, oldest first.
    pub after: Option<(DateTime<Utc>, String)>,
    /// Sealed events only, in chain order, after this sequence (exports page this way, so an
    /// event stamped earlier but sealed later is never skipped).
    pub after_sequence: Option<i64>,
    /// Sealed events up to this sequence only (an export ends at the checkpoint it carries).
    pub up_to_sequence: Option<i64>,
}

pub async fn list(
    connection: &impl ConnectionTrait,
    filter: &AuditFilter,
    limit: u32,
) -> Result<Vec<AuditEvent>, DbErr> {
    let mut sql = format!("SELECT {COLUMNS} FROM audit_events WHERE 1 = 1");
    let mut values: Vec<Value> = Vec::new();
    if let Some(from) = filter.from {
        sql.push_str(" AND at >= ?");
        values.push(format_time(from).into());
    }
    if let Some(to) = filter.to {
        sql.push_str(" AND at < ?");
        values.push(format_time(to).into());
    }
    if !filter.actor.is_empty() {
        sql.push_str(" AND actor = ?");
        values.push(filter.actor.clone().into());
    }
    if !filter.grantee.is_empty() {
        sql.push_str(" AND grantee = ?");
        values.push(filter.grantee.clone().into());
    }
    if !filter.flow.is_empty() {
        sql.push_str(" AND (flow = ? OR subject = ?)");
        values.push(filter.flow.clone().into());
        values.push(format!("flows/{}", filter.flow).into());
    }
    if !filter.action.is_empty() {
        if filter.action.ends_with('.') {
            sql.push_str(" AND action LIKE ?");
            values.push(format!("{}%", filter.action).into());
        } else {
            sql.push_str(" AND action = ?");
            values.push(filter.action.clone().into());
        }
    }
    if !filter.resource.is_empty() {
        sql.push_str(
            " AND (',' || resources || ',' LIKE ? OR subject = ? OR subject IN
               (SELECT 'requests/' || request_id FROM request_items WHERE resource_id = ? OR resource_name = ?))",
        );
        values.push(format!("%,{},%", filter.resource).into());
        values.push(filter.resource.clone().into());
        values.push(filter.resource.clone().into());
        values.push(filter.resource.clone().into());
    }
    if let Some((at, id)) = &filter.after {
        sql.push_str(" AND (at > ? OR (at = ? AND id > ?))");
        values.push(format_time(*at).into());
        values.push(format_time(*at).into());
        values.push(id.clone().into());
    }
    if let Some(sequence) = filter.up_to_sequence {
        sql.push_str(" AND sequence <= ?");
        values.push(sequence.into());
    }
    match filter.after_sequence {
        Some(sequence) => {
            sql.push_str(" AND sequence > ? ORDER BY sequence LIMIT ?");
            values.push(sequence.into());
        }
        None => sql.push_str(" ORDER BY at, id LIMIT ?"),
    }
    values.push(i64::from(limit.max(1)).into());
    let rows = connection
        .query_all_raw(statement(connection.get_database_backend(), &sql, values))
        .await?;
    rows.iter().map(event).collect()
}
