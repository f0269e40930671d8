//! Storage of the identity context over sea-orm: SQLite embedded, PostgreSQL at scale.

mod migrations;
mod rows;
mod secrets;
mod tokens_audited;
mod write;

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, QueryResult, Value};

use crate::domain::change::Change;
use crate::domain::directory::Directory;

pub use migrations::MIGRATIONS;

/// The column this context seals (TOTP secrets, bound to the user id), for a re-seal.
pub const SEALED: latch_runtime::reseal::SealedColumn = latch_runtime::reseal::SealedColumn {
    table: "mfa_enrollments",
    id: "user_id",
    column: "secret_sealed",
};
pub use secrets::{MfaRecord, TokenRecord};
pub use write::WriteTx;

/// The identity tables. Cheap to clone.
#[derive(Debug, Clone)]
pub struct IdentityStore {
    pub(crate) db: DatabaseConnection,
    /// One writer at a time in this process; across processes, the change-counter row lock.
    write_lock: Arc<tokio::sync::Mutex<()>>,
}

pub(crate) use latch_runtime::database::{format_time, optional_time, parse_time, statement};

pub(crate) fn get<T: sea_orm::TryGetable>(row: &QueryResult, column: &str) -> Result<T, sea_orm::DbErr> {
    row.try_get::<T>("", column)
}

impl IdentityStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    pub(crate) async fn query_all(&self, sql: &str, values: Vec<Value>) -> Result<Vec<QueryResult>, sea_orm::DbErr> {
        self.db.query_all_raw(statement(self.backend(), sql, values)).await
    }

    pub(crate) async fn execute(&self, sql: &str, values: Vec<Value>) -> Result<u64, sea_orm::DbErr> {
        Ok(self
            .db
            .execute_raw(statement(self.backend(), sql, values))
            .await?
            .rows_affected())
    }

    /// Builds the directory from the tables. The sequence is read first, then the changes after
    /// it are replayed: changes carry full state and apply idempotently, so rows that were
    /// already newer than the sequence converge to the same result.
    pub async fn load_directory(&self, admin_group: &str, auditor_group: &str) -> Result<Directory, sea_orm::DbErr> {
        let sequence = self.current_sequence().await?;
        let mut directory = Directory::new(admin_group, auditor_group);
        for row in self.query_all("SELECT doc FROM users", vec![]).await? {
            directory.upsert_user(rows::json_doc(&row)?);
        }
        for row in self.query_all("SELECT doc FROM groups", vec![]).await? {
            directory.upsert_group(rows::json_doc(&row)?);
        }
        for row in self
            .query_all("SELECT group_id, member_kind, member_id FROM group_members", vec![])
            .await?
        {
            let (group_id, member) = rows::membership(&row)?;
            directory.add_member(&group_id, member.kind, &member.id);
        }
        for row in self.query_all("SELECT doc FROM schedules", vec![]).await? {
            directory.upsert_schedule(rows::json_doc(&row)?);
        }
        directory.set_sequence(sequence);
        self.catch_up(&mut directory).await?;
        Ok(directory)
    }

    pub async fn current_sequence(&self) -> Result<i64, sea_orm::DbErr> {
        let rows = self
            .query_all("SELECT value FROM change_counter WHERE id = 1", vec![])
            .await?;
        rows.first()
            .map(|row| get::<i64>(row, "value"))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// Changes after `after`, oldest first, at most `limit`.
    pub async fn changes_after(&self, after: i64, limit: u64) -> Result<Vec<Change>, sea_orm::DbErr> {
        let rows = self
            .query_all(
                "SELECT sequence, at, kind, resource, actor, payload FROM changes WHERE sequence > ? ORDER BY sequence LIMIT ?",
                vec![after.into(), (limit as i64).into()],
            )
            .await?;
        rows.iter().map(rows::change).collect()
    }

    /// Applies every committed change the directory has not seen yet.
    pub async fn catch_up(&self, directory: &mut Directory) -> Result<usize, sea_orm::DbErr> {
        let mut applied = 0;
        loop {
            let changes = self.changes_after(directory.sequence(), 1000).await?;
            if changes.is_empty() {
                return Ok(applied);
            }
            applied += changes.len();
            for change in &changes {
                directory.apply(change);
            }
        }
    }

    /// The resource an idempotency key created, if it was used before.
    pub async fn idempotent_resource(&self, request_id: &str) -> Result<Option<String>, sea_orm::DbErr> {
        if request_id.is_empty() {
            return Ok(None);
        }
        let rows = self
            .query_all(
                "SELECT resource FROM idempotency_keys WHERE request_id = ?",
                vec![request_id.into()],
            )
            .await?;
        rows.first().map(|row| get::<String>(row, "resource")).transpose()
    }
}
