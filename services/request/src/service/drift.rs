//! Drift: what a target system holds against Latch's records, read through the connectors'
//! `ListGrants`. Reported on demand and periodically (into the log and the audit trail), and
//! repaired when asked: orphans are revoked, missing grants granted again with the same grant id.

use latch_connector_sdk::Config;
use std::time::Duration;

use latch_runtime::audit::AuditRecord;
use latch_runtime::{Caller, ServiceError, ServiceResult};

use super::RequestService;
use super::lost_grant::GivenAgain;
use crate::domain::drift::{Drift, Listed, Recorded, compare};
use crate::store::holds::{self, HoldRow, HoldState};

/// One integration's drift.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrationDrift {
    pub integration_id: String,
    pub integration_name: String,
    pub orphans: Vec<Listed>,
    /// Holds Latch has given that the system lacks.
    pub missing: Vec<HoldRow>,
    /// Orphans revoked and missing grants given again.
    pub repaired: usize,
    /// Why the integration could not be checked (its connector failed).
    pub error: String,
}

impl RequestService {
    /// Compares integrations (one, or every one Latch holds grants at) with their systems, and
    /// repairs what differs when `repair` is set. Admins only.
    pub async fn check_drift(
        &self,
        caller: &Caller,
        integration: &str,
        repair: bool,
    ) -> ServiceResult<Vec<IntegrationDrift>> {
        caller.require_admin()?;
        let found = self.drift(integration, repair).await?;
        if repair {
            for d in found.iter().filter(|d| d.repaired > 0) {
                let mut record =
                    AuditRecord::by(caller, "drift.repaired", format!("integrations/{}", d.integration_id));
                record.detail = format!(
                    "{} orphan grant(s) revoked and {} missing grant(s) given again at {}",
                    d.orphans.len(),
                    d.missing.len(),
                    d.integration_name
                );
                self.append_audit(record).await?;
            }
        }
        Ok(found)
    }

    pub(crate) async fn drift(&self, integration: &str, repair: bool) -> ServiceResult<Vec<IntegrationDrift>> {
        let targets = &self.ports().targets;
        let ids = if integration.trim().is_empty() {
            holds::integrations_in_use(self.db()).await?
        } else {
            vec![targets.integration(integration.trim()).await?.0]
        };
        let mut out = Vec::new();
        for id in ids {
            let name = targets
                .integration(&id)
                .await
                .map(|(_, name)| name)
                .unwrap_or_else(|_| id.clone());
            let mut report = IntegrationDrift {
                integration_id: id.clone(),
                integration_name: name,
                ..IntegrationDrift::default()
            };
            match self.drift_at(&id).await {
                Ok((drift, missing)) => {
                    report.orphans = drift.orphans;
                    report.missing = missing;
                }
                Err(error) => report.error = error.to_string(),
            }
            if repair && report.error.is_empty() {
                report.repaired = self.repair(&id, &report).await?;
            }
            out.push(report);
        }
        Ok(out)
    }

    /// Reads Latch's open holds first, then the system's listing: a grant finished between the
    /// two is open in the records and listed, so it never looks missing or orphaned.
    async fn drift_at(&self, integration_id: &str) -> ServiceResult<(Drift, Vec<HoldRow>)> {
        let open = holds::open_in_integration(self.db(), integration_id).await?;
        let connector = self.ports().targets.connector(integration_id).await?;
        let listed: Vec<Listed> = connector
            .list_grants(&Config::new())
            .await
            .map_err(|e| ServiceError::Unavailable(format!("listing grants failed: {e}")))?
            .into_iter()
            .map(|g| Listed {
                grant_id: g.grant_id,
                resource_id: g.resource_id,
                permission: g.permission,
                account: g.account,
            })
            .collect();
        let recorded: Vec<Recorded> = open
            .iter()
            .map(|h| Recorded {
                hold_id: h.id.clone(),
                given: h.state == HoldState::Granted,
            })
            .collect();
        let drift = compare(&listed, &recorded);
        let missing = open.into_iter().filter(|h| drift.missing.contains(&h.id)).collect();
        Ok((drift, missing))
    }

    /// Revokes orphans Latch still does not know, grants again what it still holds as given.
    async fn repair(&self, integration_id: &str, report: &IntegrationDrift) -> ServiceResult<usize> {
        let connector = self.ports().targets.connector(integration_id).await?;
        let mut repaired = 0;
        for orphan in &report.orphans {
            let known = holds::get(self.db(), &orphan.grant_id)
                .await?
                .is_some_and(|h| matches!(h.state, HoldState::Granting | HoldState::Granted | HoldState::Revoking));
            if known {
                continue;
            }
            match connector.revoke(&Config::new(), &orphan.grant_id).await {
                Ok(()) => repaired += 1,
                Err(error) => tracing::warn!(grant = %orphan.grant_id, %error, "could not revoke an orphan grant"),
            }
        }
        for hold in &report.missing {
            match self.give_again(&hold.id, "drift repair").await? {
                GivenAgain::Given => repaired += 1,
                GivenAgain::NoLongerGiven => {}
                GivenAgain::Refused(error) => {
                    tracing::warn!(hold = %hold.id, %error, "could not give a missing grant again");
                }
            }
        }
        Ok(repaired)
    }

    /// Checks every integration in use this often; findings go to the log and the audit trail,
    /// and are repaired when `repair` is set.
    pub fn spawn_drift_checks(&self, every: Duration, repair: bool) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                match service.drift("", repair).await {
                    Ok(found) => {
                        for d in found.iter().filter(|d| !d.orphans.is_empty() || !d.missing.is_empty()) {
                            tracing::warn!(
                                integration = %d.integration_name,
                                orphans = d.orphans.len(),
                                missing = d.missing.len(),
                                repaired = d.repaired,
                                "drift between Latch and the target system"
                            );
                            let record = AuditRecord {
                                actor: "latch".into(),
                                action: if repair { "drift.repaired" } else { "drift.detected" }.into(),
                                subject: format!("integrations/{}", d.integration_id),
                                detail: format!(
                                    "{} orphan grant(s) at {} unknown to Latch, {} grant(s) Latch gave missing there; {} repaired",
                                    d.orphans.len(),
                                    d.integration_name,
                                    d.missing.len(),
                                    d.repaired
                                ),
                                ..AuditRecord::default()
                            };
                            if let Err(error) = service.append_audit(record).await {
                                tracing::warn!(%error, "could not record drift");
                            }
                        }
                    }
                    Err(error) => tracing::warn!(%error, "drift check failed"),
                }
            }
        })
    }
}
