//! One identity write: rows and their change-feed entries in a single transaction.
//!
//! Writers are serialised on the change-counter row (`FOR UPDATE` on PostgreSQL; SQLite has one
//! writer per file anyway, and an in-process mutex spares us busy waits). A sequence number is
//! therefore taken only by the transaction that will commit next, so changes become visible in
//! the order of their numbers and a feed reader never jumps past a gap that fills later.

use chrono::{DateTime, Utc};
use latch_runtime::audit::AuditRecord;
use latch_runtime::audit::outbox;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, TransactionTrait, Value};

use super::{IdentityStore, format_time, get, statement};
use crate::domain::change::{Change, ChangeKind, NewChange};
use crate::domain::group::{Group, Member, display_name_key};
use crate::domain::schedule::ScheduleRecord;
use crate::domain::user::{User, user_name_key};

pub struct WriteTx<'a> {
    txn: DatabaseTransaction,
    _in_process: tokio::sync::MutexGuard<'a, ()>,
    last_sequence: i64,
    now: DateTime<Utc>,
    actor: String,
    changes: Vec<Change>,
}

impl IdentityStore {
    /// Starts a write on behalf of `actor` at `now`, holding the writer lock until commit or drop.
    pub async fn begin_write(&self, actor: &str, now: DateTime<Utc>) -> Result<WriteTx<'_>, DbErr> {
        let guard = self.write_lock.lock().await;
        let txn = self.db.begin().await?;
        let backend = txn.get_database_backend();
        let lock_sql = match backend {
            DbBackend::Postgres => "SELECT value FROM change_counter WHERE id = 1 FOR UPDATE",
            // Taking SQLite's write lock first avoids a read-to-write upgrade failing later.
            _ => "UPDATE change_counter SET value = value WHERE id = 1 RETURNING value",
        };
        let row = txn
            .query_one_raw(statement(backend, lock_sql, vec![]))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("change_counter row".into()))?;
        let last_sequence = get::<i64>(&row, "value")?;
        Ok(WriteTx {
            txn,
            _in_process: guard,
            last_sequence,
            now,
            actor: actor.to_string(),
            changes: Vec::new(),
        })
    }
}

impl WriteTx<'_> {
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    async fn exec(&self, sql: &str, values: Vec<Value>) -> Result<u64, DbErr> {
        let backend = self.txn.get_database_backend();
        Ok(self
            .txn
            .execute_raw(statement(backend, sql, values))
            .await?
            .rows_affected())
    }

    fn record(&mut self, change: NewChange) {
        self.last_sequence += 1;
        self.changes.push(Change {
            sequence: self.last_sequence,
            at: self.now,
            kind: change.kind,
            resource: change.resource,
            actor: self.actor.clone(),
            payload: change.payload,
        });
    }

    pub async fn put_user(&mut self, user: &User, kind: ChangeKind) -> Result<(), DbErr> {
        let doc = serde_json::to_string(user).map_err(|e| DbErr::Json(e.to_string()))?;
        self.exec(
            "INSERT INTO users (id, user_name_key, external_id, manager_id, doc) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET user_name_key = excluded.user_name_key,
               external_id = excluded.external_id, manager_id = excluded.manager_id, doc = excluded.doc",
            vec![
                user.id.clone().into(),
                user_name_key(&user.user_name).into(),
                user.external_id.clone().into(),
                user.manager_id.clone().into(),
                doc.into(),
            ],
        )
        .await?;
        self.record(NewChange::user(kind, user));
        Ok(())
    }

    pub async fn delete_user(&mut self, user: &User) -> Result<(), DbErr> {
        self.exec(
            "DELETE FROM group_members WHERE member_kind = 'user' AND member_id = ?",
            vec![user.id.clone().into()],
        )
        .await?;
        self.exec("DELETE FROM users WHERE id = ?", vec![user.id.clone().into()])
            .await?;
        self.exec(
            "DELETE FROM mfa_enrollments WHERE user_id = ?",
            vec![user.id.clone().into()],
        )
        .await?;
        self.exec(
            "UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
            vec![format_time(self.now).into(), user.id.clone().into()],
        )
        .await?;
        self.record(NewChange::user_deleted(user));
        Ok(())
    }

    pub async fn put_group(&mut self, group: &Group) -> Result<(), DbErr> {
        let doc = serde_json::to_string(group).map_err(|e| DbErr::Json(e.to_string()))?;
        self.exec(
            "INSERT INTO groups (id, display_name_key, doc) VALUES (?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET display_name_key = excluded.display_name_key, doc = excluded.doc",
            vec![
                group.id.clone().into(),
                display_name_key(&group.display_name).into(),
                doc.into(),
            ],
        )
        .await?;
        self.record(NewChange::group(group));
        Ok(())
    }

    pub async fn delete_group(&mut self, group: &Group) -> Result<(), DbErr> {
        self.exec(
            "DELETE FROM group_members WHERE group_id = ? OR (member_kind = 'group' AND member_id = ?)",
            vec![group.id.clone().into(), group.id.clone().into()],
        )
        .await?;
        self.exec("DELETE FROM groups WHERE id = ?", vec![group.id.clone().into()])
            .await?;
        self.record(NewChange::group_deleted(group));
        Ok(())
    }

    /// Adds a member; `false` when it was a member already.
    pub async fn add_member(&mut self, group_id: &str, member: &Member) -> Result<bool, DbErr> {
        let inserted = self
            .exec(
                "INSERT INTO group_members (group_id, member_kind, member_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                vec![group_id.into(), member.kind.as_str().into(), member.id.clone().into()],
            )
            .await?;
        if inserted > 0 {
            self.record(NewChange::membership(ChangeKind::MemberAdded, group_id, member));
        }
        Ok(inserted > 0)
    }

    /// Removes a member; `false` when it was not a member.
    pub async fn remove_member(&mut self, group_id: &str, member: &Member) -> Result<bool, DbErr> {
        let deleted = self
            .exec(
                "DELETE FROM group_members WHERE group_id = ? AND member_kind = ? AND member_id = ?",
                vec![group_id.into(), member.kind.as_str().into(), member.id.clone().into()],
            )
            .await?;
        if deleted > 0 {
            self.record(NewChange::membership(ChangeKind::MemberRemoved, group_id, member));
        }
        Ok(deleted > 0)
    }

    pub async fn put_schedule(&mut self, schedule: &ScheduleRecord) -> Result<(), DbErr> {
        let doc = serde_json::to_string(schedule).map_err(|e| DbErr::Json(e.to_string()))?;
        self.exec(
            "INSERT INTO schedules (id, display_name_key, doc) VALUES (?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET display_name_key = excluded.display_name_key, doc = excluded.doc",
            vec![
                schedule.id.clone().into(),
                display_name_key(&schedule.display_name).into(),
                doc.into(),
            ],
        )
        .await?;
        self.record(NewChange::schedule(schedule));
        Ok(())
    }

    pub async fn delete_schedule(&mut self, schedule: &ScheduleRecord) -> Result<(), DbErr> {
        self.exec("DELETE FROM schedules WHERE id = ?", vec![schedule.id.clone().into()])
            .await?;
        self.record(NewChange::schedule_deleted(schedule));
        Ok(())
    }

    /// Revokes a token unless it is revoked already, with its audit record and a change that
    /// makes every replica forget the token. Returns whether this call revoked it.
    pub async fn revoke_token(&mut self, token_id: &str, user_id: &str, audit: &AuditRecord) -> Result<bool, DbErr> {
        let revoked = self
            .exec(
                "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                vec![format_time(self.now).into(), token_id.into()],
            )
            .await?
            > 0;
        if revoked {
            outbox::append(&self.txn, self.now, std::slice::from_ref(audit)).await?;
            self.record(NewChange::token_revoked(token_id, user_id));
        }
        Ok(revoked)
    }

    /// Remembers that `request_id` created `resource`, so a retry returns it.
    pub async fn remember_request(&mut self, request_id: &str, resource: &str) -> Result<(), DbErr> {
        if request_id.is_empty() {
            return Ok(());
        }
        self.exec(
            "INSERT INTO idempotency_keys (request_id, resource, created_at) VALUES (?, ?, ?)",
            vec![request_id.into(), resource.into(), format_time(self.now).into()],
        )
        .await?;
        Ok(())
    }

    /// Writes the change-feed entries and the counter, commits, and returns the changes.
    pub async fn commit(self) -> Result<Vec<Change>, DbErr> {
        for change in &self.changes {
            self.exec(
                "INSERT INTO changes (sequence, at, kind, resource, actor, payload) VALUES (?, ?, ?, ?, ?, ?)",
                vec![
                    change.sequence.into(),
                    format_time(change.at).into(),
                    change.kind.as_str().into(),
                    change.resource.clone().into(),
                    change.actor.clone().into(),
                    change.payload.to_string().into(),
                ],
            )
            .await?;
        }
        if !self.changes.is_empty() {
            self.exec(
                "UPDATE change_counter SET value = ? WHERE id = 1",
                vec![self.last_sequence.into()],
            )
            .await?;
        }
        self.txn.commit().await?;
        Ok(self.changes)
    }
}
