//! Flow storage: one JSON document per flow; a version row moves with every write so replicas
//! know to recompile.

use chrono::{DateTime, Utc};
use latch_runtime::audit::AuditRecord;
use latch_runtime::audit::outbox::{self, OutboxEntry};
use latch_runtime::database::{Migration, statement};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};
use serde::{Deserialize, Serialize};

use crate::domain::model::FlowSpec;

const SCHEMA_V1: &str = r#"
    CREATE TABLE flows (
        id TEXT PRIMARY KEY,
        name_key TEXT NOT NULL UNIQUE,
        doc TEXT NOT NULL
    );
    CREATE TABLE flow_version (
        id INTEGER PRIMARY KEY,
        value BIGINT NOT NULL
    );
    INSERT INTO flow_version (id, value) VALUES (1, 0)
"#;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "flow initial schema",
        sqlite: SCHEMA_V1,
        postgres: SCHEMA_V1,
    },
    Migration {
        version: 2,
        name: "flow audit outbox",
        sqlite: outbox::OUTBOX_SCHEMA,
        postgres: outbox::OUTBOX_SCHEMA,
    },
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFlow {
    pub id: String,
    pub spec: FlowSpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// Names are unique within a space.
pub fn name_key(spec: &FlowSpec) -> String {
    format!(
        "{}|{}",
        spec.space.clone().unwrap_or_default(),
        spec.name.trim().to_lowercase()
    )
}

#[derive(Debug, Clone)]
pub struct FlowStore {
    db: DatabaseConnection,
    write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// One flow write: its rows and the audit records of its changes commit together.
pub struct FlowTx<'a> {
    txn: DatabaseTransaction,
    _in_process: tokio::sync::MutexGuard<'a, ()>,
    at: DateTime<Utc>,
    audit: Vec<AuditRecord>,
}

impl FlowStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            write_lock: std::sync::Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    pub async fn version(&self) -> Result<i64, DbErr> {
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one_raw(statement(
                backend,
                "SELECT value FROM flow_version WHERE id = 1",
                vec![],
            ))
            .await?;
        row.map(|r| r.try_get::<i64>("", "value"))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    pub async fn all(&self) -> Result<Vec<StoredFlow>, DbErr> {
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all_raw(statement(backend, "SELECT doc FROM flows ORDER BY id", vec![]))
            .await?;
        rows.iter()
            .map(|row| {
                let doc: String = row.try_get("", "doc")?;
                serde_json::from_str(&doc).map_err(|e| DbErr::Json(e.to_string()))
            })
            .collect()
    }

    /// Deletes the audit outbox up to `upto` (the audit log holds it) and returns what follows.
    pub async fn audit_outbox(&self, upto: i64, limit: u32) -> Result<Vec<OutboxEntry>, DbErr> {
        outbox::take_after(&self.db, upto, limit).await
    }

    /// Starts a write made at `at`.
    pub async fn begin(&self, at: DateTime<Utc>) -> Result<FlowTx<'_>, DbErr> {
        let guard = self.write_lock.lock().await;
        let txn = self.db.begin().await?;
        let backend = txn.get_database_backend();
        txn.execute_raw(statement(
            backend,
            "UPDATE flow_version SET value = value + 1 WHERE id = 1",
            vec![],
        ))
        .await?;
        Ok(FlowTx {
            txn,
            _in_process: guard,
            at,
            audit: Vec::new(),
        })
    }
}

impl FlowTx<'_> {
    pub async fn put(&self, flow: &StoredFlow) -> Result<(), DbErr> {
        let backend = self.txn.get_database_backend();
        let doc = serde_json::to_string(flow).map_err(|e| DbErr::Json(e.to_string()))?;
        self.txn
            .execute_raw(statement(
                backend,
                "INSERT INTO flows (id, name_key, doc) VALUES (?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET name_key = excluded.name_key, doc = excluded.doc",
                vec![flow.id.clone().into(), name_key(&flow.spec).into(), doc.into()],
            ))
            .await?;
        Ok(())
    }

    pub async fn delete(&self, id: &str) -> Result<(), DbErr> {
        let backend = self.txn.get_database_backend();
        self.txn
            .execute_raw(statement(backend, "DELETE FROM flows WHERE id = ?", vec![id.into()]))
            .await?;
        Ok(())
    }

    /// Records a change of this write for the audit log; written to the outbox at commit.
    pub fn audit(&mut self, record: AuditRecord) {
        self.audit.push(record);
    }

    /// Writes the audit records to the outbox and commits.
    pub async fn commit(self) -> Result<(), DbErr> {
        outbox::append(&self.txn, self.at, &self.audit).await?;
        self.txn.commit().await
    }
}
