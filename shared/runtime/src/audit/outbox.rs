//! The audit outbox a context keeps in its own database: each change's audit record is written
//! in the transaction of the change, numbered without gaps, and deleted once the audit log has
//! copied it.
//!
//! Numbers come from one head row that every appending transaction updates (`UPDATE … RETURNING`),
//! which holds the row's write lock until commit: a transaction takes its numbers only after the
//! one before it committed or rolled back, so sequences become visible in the order of their
//! numbers and a reader never passes a gap that fills later (the catalog change feed's technique).
//! The head row is taken last in a write, after the context's own write lock, so the order of
//! locks is the same in every transaction.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use super::{AuditRecord, current_source};
use crate::database::{format_time, parse_time, statement};

/// The migration every context that keeps an outbox applies (portable DDL, both backends).
pub const OUTBOX_SCHEMA: &str = r#"
    CREATE TABLE audit_outbox_head (
        id INTEGER PRIMARY KEY,
        last_sequence BIGINT NOT NULL
    );
    INSERT INTO audit_outbox_head (id, last_sequence) VALUES (1, 0);
    CREATE TABLE audit_outbox (
        sequence BIGINT PRIMARY KEY,
        at TEXT NOT NULL,
        record TEXT NOT NULL
    )
"#;

/// Events per page when the caller does not say.
pub const DEFAULT_PAGE: u32 = 500;
/// The most events one page holds.
pub const MAX_PAGE: u32 = 1000;

/// One record as the outbox holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub sequence: i64,
    /// When the change was made.
    pub at: DateTime<Utc>,
    pub record: AuditRecord,
}

/// Appends `records`, made at `at`, inside `txn`: the transaction of the change they describe.
/// A record without a source gets the current call's.
pub async fn append(txn: &impl ConnectionTrait, at: DateTime<Utc>, records: &[AuditRecord]) -> Result<(), DbErr> {
    if records.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    let row = txn
        .query_one_raw(statement(
            backend,
            "UPDATE audit_outbox_head SET last_sequence = last_sequence + ? WHERE id = 1 RETURNING last_sequence",
            vec![(records.len() as i64).into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("audit_outbox_head row".into()))?;
    let last: i64 = row.try_get("", "last_sequence")?;
    let first = last - records.len() as i64 + 1;
    for (sequence, record) in (first..).zip(records) {
        let mut record = record.clone();
        if record.source.is_empty() {
            record.source = current_source();
        }
        let json = serde_json::to_string(&record).map_err(|e| DbErr::Json(e.to_string()))?;
        txn.execute_raw(statement(
            backend,
            "INSERT INTO audit_outbox (sequence, at, record) VALUES (?, ?, ?)",
            vec![sequence.into(), format_time(at).into(), json.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Deletes the entries up to and including `upto` (the audit log holds them), then returns up to
/// `limit` entries after it, in order.
pub async fn take_after(db: &impl ConnectionTrait, upto: i64, limit: u32) -> Result<Vec<OutboxEntry>, DbErr> {
    let backend = db.get_database_backend();
    if upto > 0 {
        db.execute_raw(statement(
            backend,
            "DELETE FROM audit_outbox WHERE sequence <= ?",
            vec![upto.into()],
        ))
        .await?;
    }
    let rows = db
        .query_all_raw(statement(
            backend,
            "SELECT sequence, at, record FROM audit_outbox WHERE sequence > ? ORDER BY sequence LIMIT ?",
            vec![upto.into(), i64::from(limit.clamp(1, MAX_PAGE)).into()],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let json: String = row.try_get("", "record")?;
            Ok(OutboxEntry {
                sequence: row.try_get("", "sequence")?,
                at: parse_time(&row.try_get::<String>("", "at")?)?,
                record: serde_json::from_str(&json).map_err(|e| DbErr::Json(e.to_string()))?,
            })
        })
        .collect()
}

/// How many entries the outbox holds (for tests and diagnostics).
pub async fn count(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(statement(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM audit_outbox",
            vec![],
        ))
        .await?;
    row.map(|r| r.try_get::<i64>("", "n"))
        .transpose()
        .map(Option::unwrap_or_default)
}
