//! The audit outboxes of identity, catalog and flow, copied into the log. Each context writes
//! its admin changes to its outbox in the transaction of the change; one follower per context
//! pulls the outbox by cursor (`audit:outbox:{context}`) and inserts what it gets with the
//! cursor advanced in the same transaction, so nothing is lost and nothing doubled, across
//! crashes on either side. Asking after the cursor lets the context delete what is copied.

use std::time::Duration;

use latch_runtime::ServiceResult;
use latch_runtime::audit::outbox::OutboxEntry;

use super::RequestService;
use super::audit_log::record_event;
use crate::ports::AuditSource;
use crate::store::automatic;

/// Events asked for per page.
const PAGE: u32 = 500;

/// The log's cursor in a context's outbox.
pub fn outbox_cursor(source: &str) -> String {
    format!("audit:outbox:{source}")
}

impl RequestService {
    /// One follower per outbox, polling every `every` (and at once while pages come full).
    pub fn spawn_outbox_followers(&self, every: Duration) -> Vec<tokio::task::JoinHandle<()>> {
        self.ports()
            .audit_sources
            .iter()
            .map(|source| {
                let source = source.clone();
                self.spawn_restarting("audit outbox follower", move |service| {
                    let source = source.clone();
                    async move { service.follow_outbox(&source, every).await }
                })
            })
            .collect()
    }

    async fn follow_outbox(&self, source: &AuditSource, every: Duration) -> ServiceResult<()> {
        let mut unavailable = false;
        loop {
            match self.pull_outbox(source).await {
                Ok(copied) => {
                    if unavailable {
                        tracing::info!(context = source.name, "audit outbox reachable again");
                        unavailable = false;
                    }
                    if copied >= PAGE as usize {
                        continue;
                    }
                }
                // Said once per outage; the events wait in the outbox meanwhile.
                Err(error) if !unavailable => {
                    tracing::warn!(%error, context = source.name, "audit outbox not reachable; retrying");
                    unavailable = true;
                }
                Err(error) => tracing::debug!(%error, context = source.name, "audit outbox still not reachable"),
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Copies every event waiting in every outbox into the log (tests, and before a verify that
    /// must see everything); returns how many it copied.
    pub async fn pull_audit_outboxes(&self) -> ServiceResult<usize> {
        let mut copied = 0;
        for source in &self.ports().audit_sources {
            loop {
                let page = self.pull_outbox(source).await?;
                copied += page;
                if page < PAGE as usize {
                    break;
                }
            }
        }
        Ok(copied)
    }

    /// Copies one page of `source`'s outbox; returns how many events came.
    async fn pull_outbox(&self, source: &AuditSource) -> ServiceResult<usize> {
        let cursor = outbox_cursor(source.name);
        let after = automatic::cursor(self.db(), &cursor).await?;
        let entries = source.outbox.audit_outbox(after, PAGE).await?;
        self.copy_outbox(&cursor, &entries).await?;
        Ok(entries.len())
    }

    /// Inserts outbox entries with the cursor advanced in one transaction.
    async fn copy_outbox(&self, cursor: &str, entries: &[OutboxEntry]) -> ServiceResult<()> {
        let Some(last) = entries.last() else {
            return Ok(());
        };
        self.copy_by_cursor(cursor, 2, last.sequence, |done| {
            entries
                .iter()
                .filter(|e| e.sequence > done)
                .map(|e| record_event(e.record.clone(), e.at))
                .collect()
        })
        .await
    }
}
