//! Token writes an admin or a user makes: each with its audit record in one transaction, so
//! the audit log gets exactly the changes that committed.

use latch_runtime::audit::AuditRecord;
use latch_runtime::audit::outbox::{self, OutboxEntry};
use sea_orm::{ConnectionTrait, DbErr, TransactionTrait};

use super::{IdentityStore, TokenRecord, format_time, statement};

impl IdentityStore {
    /// Stores a new token (by the hash of its secret) and, with it, `audit` when given.
    pub async fn insert_token(
        &self,
        record: &TokenRecord,
        secret_hash: &str,
        audit: Option<&AuditRecord>,
    ) -> Result<(), DbErr> {
        let _turn = self.write_lock.lock().await;
        let txn = self.db.begin().await?;
        txn.execute_raw(statement(
            txn.get_database_backend(),
            "INSERT INTO api_tokens (id, user_id, description, scope, secret_hash, prefix, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                record.id.clone().into(),
                record.user_id.clone().into(),
                record.description.clone().into(),
                record.scope.clone().into(),
                secret_hash.into(),
                record.prefix.clone().into(),
                format_time(record.created_at).into(),
                record.expires_at.map(format_time).into(),
            ],
        ))
        .await?;
        if let Some(audit) = audit {
            outbox::append(&txn, record.created_at, std::slice::from_ref(audit)).await?;
        }
        txn.commit().await
    }

    /// Deletes the audit outbox up to `upto` (the audit log holds it) and returns what follows.
    pub async fn audit_outbox(&self, upto: i64, limit: u32) -> Result<Vec<OutboxEntry>, DbErr> {
        outbox::take_after(&self.db, upto, limit).await
    }
}
