//! Storage of the catalog over sea-orm. Every write bumps one version row in its transaction;
//! replicas reload their in-memory index when the version moves.

mod changes;
mod migrations;

use latch_runtime::audit::AuditRecord;
use latch_runtime::audit::outbox::{self, OutboxEntry};
use latch_runtime::database::statement;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, QueryResult, TransactionTrait, Value,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::change::Change;
use crate::domain::records::ResourceRecord;
use chrono::{DateTime, Utc};

pub use migrations::MIGRATIONS;

/// The column this context seals (integration secrets, bound to the integration id), for a re-seal.
pub const SEALED: latch_runtime::reseal::SealedColumn = latch_runtime::reseal::SealedColumn {
    table: "integrations",
    id: "id",
    column: "secrets_sealed",
};

/// The tables holding one JSON document per record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocTable {
    Spaces,
    Integrations,
    Bundles,
    AccessScopes,
}

impl DocTable {
    fn name(self) -> &'static str {
        match self {
            DocTable::Spaces => "spaces",
            DocTable::Integrations => "integrations",
            DocTable::Bundles => "bundles",
            DocTable::AccessScopes => "access_scopes",
        }
    }
}

#[derive(Debug, Clone)]
pub struct CatalogStore {
    db: DatabaseConnection,
    write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
}

fn to_json(value: &impl Serialize) -> Result<String, DbErr> {
    serde_json::to_string(value).map_err(|e| DbErr::Json(e.to_string()))
}

fn from_row<T: DeserializeOwned>(row: &QueryResult) -> Result<T, DbErr> {
    let doc: String = row.try_get("", "doc")?;
    serde_json::from_str(&doc).map_err(|e| DbErr::Json(e.to_string()))
}

/// One catalog write: its rows, its change-feed entries and the version bump commit together.
pub struct CatalogTx<'a> {
    txn: DatabaseTransaction,
    _in_process: tokio::sync::MutexGuard<'a, ()>,
    /// The feed's last sequence when this write took the version row's lock.
    last_change: i64,
    at: DateTime<Utc>,
    actor: String,
    changes: Vec<Change>,
    audit: Vec<AuditRecord>,
}

impl CatalogStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            write_lock: std::sync::Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    pub async fn version(&self) -> Result<i64, DbErr> {
        let row = self
            .db
            .query_one_raw(statement(
                self.backend(),
                "SELECT value FROM catalog_version WHERE id = 1",
                vec![],
            ))
            .await?;
        row.map(|r| r.try_get::<i64>("", "value"))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    pub async fn all<T: DeserializeOwned>(&self, table: DocTable) -> Result<Vec<T>, DbErr> {
        let sql = format!("SELECT doc FROM {} ORDER BY id", table.name());
        let rows = self.db.query_all_raw(statement(self.backend(), &sql, vec![])).await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn all_resources(&self) -> Result<Vec<ResourceRecord>, DbErr> {
        let rows = self
            .db
            .query_all_raw(statement(self.backend(), "SELECT doc FROM resources", vec![]))
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// One resource as stored.
    pub async fn resource(&self, integration_id: &str, resource_id: &str) -> Result<Option<ResourceRecord>, DbErr> {
        let row = self
            .db
            .query_one_raw(statement(
                self.backend(),
                "SELECT doc FROM resources WHERE integration_id = ? AND resource_id = ?",
                vec![integration_id.into(), resource_id.into()],
            ))
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// An integration's resources as stored.
    pub async fn resources_of(&self, integration_id: &str) -> Result<Vec<ResourceRecord>, DbErr> {
        let rows = self
            .db
            .query_all_raw(statement(
                self.backend(),
                "SELECT doc FROM resources WHERE integration_id = ?",
                vec![integration_id.into()],
            ))
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// A record of a document table as stored.
    pub async fn doc<T: DeserializeOwned>(&self, table: DocTable, id: &str) -> Result<Option<T>, DbErr> {
        let sql = format!("SELECT doc FROM {} WHERE id = ?", table.name());
        let row = self
            .db
            .query_one_raw(statement(self.backend(), &sql, vec![id.into()]))
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn sealed_secrets(&self, integration_id: &str) -> Result<Option<String>, DbErr> {
        let row = self
            .db
            .query_one_raw(statement(
                self.backend(),
                "SELECT secrets_sealed FROM integrations WHERE id = ?",
                vec![integration_id.into()],
            ))
            .await?;
        row.map(|r| r.try_get::<String>("", "secrets_sealed")).transpose()
    }

    /// Deletes the audit outbox up to `upto` (the audit log holds it) and returns what follows.
    pub async fn audit_outbox(&self, upto: i64, limit: u32) -> Result<Vec<OutboxEntry>, DbErr> {
        outbox::take_after(&self.db, upto, limit).await
    }

    pub async fn idempotent_resource(&self, key: &str) -> Result<Option<String>, DbErr> {
        if key.is_empty() {
            return Ok(None);
        }
        let row = self
            .db
            .query_one_raw(statement(
                self.backend(),
                "SELECT resource FROM idempotency_keys WHERE request_id = ?",
                vec![key.into()],
            ))
            .await?;
        row.map(|r| r.try_get::<String>("", "resource")).transpose()
    }

    /// Starts a write by `actor` at `at`. The version row's write lock is taken first, so
    /// writers serialise (on SQLite and PostgreSQL alike) and a change sequence is numbered only
    /// by the transaction that commits next: feed readers never pass a gap that fills later.
    pub async fn begin(&self, actor: &str, at: DateTime<Utc>) -> Result<CatalogTx<'_>, DbErr> {
        let guard = self.write_lock.lock().await;
        let txn = self.db.begin().await?;
        let row = txn
            .query_one_raw(statement(
                txn.get_database_backend(),
                "UPDATE catalog_version SET value = value + 1 WHERE id = 1 RETURNING last_change",
                vec![],
            ))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("catalog_version row".into()))?;
        let last_change = row.try_get::<i64>("", "last_change")?;
        Ok(CatalogTx {
            txn,
            _in_process: guard,
            last_change,
            at,
            actor: actor.to_string(),
            changes: Vec::new(),
            audit: Vec::new(),
        })
    }
}

impl CatalogTx<'_> {
    async fn exec(&self, sql: &str, values: Vec<Value>) -> Result<u64, DbErr> {
        let backend = self.txn.get_database_backend();
        Ok(self
            .txn
            .execute_raw(statement(backend, sql, values))
            .await?
            .rows_affected())
    }

    pub async fn put(&self, table: DocTable, id: &str, name_key: &str, doc: &impl Serialize) -> Result<(), DbErr> {
        let sql = format!(
            "INSERT INTO {0} (id, name_key, doc) VALUES (?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET name_key = excluded.name_key, doc = excluded.doc",
            table.name()
        );
        self.exec(&sql, vec![id.into(), name_key.into(), to_json(doc)?.into()])
            .await?;
        Ok(())
    }

    pub async fn put_integration(
        &self,
        id: &str,
        name_key: &str,
        doc: &impl Serialize,
        sealed: &str,
    ) -> Result<(), DbErr> {
        self.exec(
            "INSERT INTO integrations (id, name_key, doc, secrets_sealed) VALUES (?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET name_key = excluded.name_key, doc = excluded.doc,
               secrets_sealed = excluded.secrets_sealed",
            vec![id.into(), name_key.into(), to_json(doc)?.into(), sealed.into()],
        )
        .await?;
        Ok(())
    }

    pub async fn delete(&self, table: DocTable, id: &str) -> Result<u64, DbErr> {
        self.exec(&format!("DELETE FROM {} WHERE id = ?", table.name()), vec![id.into()])
            .await
    }

    pub async fn delete_resources_of(&self, integration_id: &str) -> Result<u64, DbErr> {
        self.exec(
            "DELETE FROM resources WHERE integration_id = ?",
            vec![integration_id.into()],
        )
        .await
    }

    pub async fn put_resource(&self, record: &ResourceRecord) -> Result<(), DbErr> {
        self.exec(
            "INSERT INTO resources (integration_id, resource_id, doc) VALUES (?, ?, ?)
             ON CONFLICT (integration_id, resource_id) DO UPDATE SET doc = excluded.doc",
            vec![
                record.integration_id.clone().into(),
                record.id.clone().into(),
                to_json(record)?.into(),
            ],
        )
        .await?;
        Ok(())
    }

    pub async fn remember_request(&self, key: &str, resource: &str) -> Result<(), DbErr> {
        if key.is_empty() {
            return Ok(());
        }
        self.exec(
            "INSERT INTO idempotency_keys (request_id, resource) VALUES (?, ?)",
            vec![key.into(), resource.into()],
        )
        .await?;
        Ok(())
    }

    /// Records a change of this write for the audit log; written to the outbox at commit.
    pub fn audit(&mut self, record: AuditRecord) {
        self.audit.push(record);
    }

    /// Writes the change-feed entries and the audit records and commits; returns the changes.
    pub async fn commit(self) -> Result<Vec<Change>, DbErr> {
        self.write_changes().await?;
        outbox::append(&self.txn, self.at, &self.audit).await?;
        self.txn.commit().await?;
        Ok(self.changes)
    }
}
