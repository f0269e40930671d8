//! The change feed's rows: appended inside each write's transaction, read back by cursor.

use latch_runtime::database::{format_time, parse_time, statement};
use sea_orm::{ConnectionTrait, DbErr, QueryResult};

use super::{CatalogStore, CatalogTx};
use crate::domain::change::{Change, ChangeKind};

fn change(row: &QueryResult) -> Result<Change, DbErr> {
    let kind: String = row.try_get("", "kind")?;
    Ok(Change {
        sequence: row.try_get("", "sequence")?,
        at: parse_time(&row.try_get::<String>("", "at")?)?,
        kind: ChangeKind::parse(&kind).ok_or_else(|| DbErr::Type(format!("unknown catalog change kind {kind:?}")))?,
        resource: row.try_get("", "resource")?,
        actor: row.try_get("", "actor")?,
    })
}

impl CatalogStore {
    /// Up to `limit` changes after `after`, in sequence order.
    pub async fn changes_after(&self, after: i64, limit: u64) -> Result<Vec<Change>, DbErr> {
        let rows = self
            .db
            .query_all_raw(statement(
                self.backend(),
                "SELECT sequence, at, kind, resource, actor FROM catalog_changes WHERE sequence > ? ORDER BY sequence LIMIT ?",
                vec![after.into(), (limit as i64).into()],
            ))
            .await?;
        rows.iter().map(change).collect()
    }

    /// The sequence of the last committed change (0 before the first).
    pub async fn last_change(&self) -> Result<i64, DbErr> {
        let row = self
            .db
            .query_one_raw(statement(
                self.backend(),
                "SELECT last_change FROM catalog_version WHERE id = 1",
                vec![],
            ))
            .await?;
        row.map(|r| r.try_get::<i64>("", "last_change"))
            .transpose()
            .map(Option::unwrap_or_default)
    }
}

impl CatalogTx<'_> {
    /// Records that this write changed `resource`; numbered now, written at commit.
    pub fn record(&mut self, kind: ChangeKind, resource: String) {
        self.last_change += 1;
        self.changes.push(Change {
            sequence: self.last_change,
            at: self.at,
            kind,
            resource,
            actor: self.actor.clone(),
        });
    }

    pub(super) async fn write_changes(&self) -> Result<(), DbErr> {
        let backend = self.txn.get_database_backend();
        for change in &self.changes {
            self.txn
                .execute_raw(statement(
                    backend,
                    "INSERT INTO catalog_changes (sequence, at, kind, resource, actor) VALUES (?, ?, ?, ?, ?)",
                    vec![
                        change.sequence.into(),
                        format_time(change.at).into(),
                        change.kind.as_str().into(),
                        change.resource.clone().into(),
                        change.actor.clone().into(),
                    ],
                ))
                .await?;
        }
        if !self.changes.is_empty() {
            self.txn
                .execute_raw(statement(
                    backend,
                    "UPDATE catalog_version SET last_change = ? WHERE id = 1",
                    vec![self.last_change.into()],
                ))
                .await?;
        }
        Ok(())
    }
}
