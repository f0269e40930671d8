//! Insights for admins: flows whose requests are consistently much shorter than their maximum
//! (with a suggested maximum), flows nobody uses, and approver groups that only one person can
//! satisfy (a single point of failure).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use latch_policy::approval::{Approval, ApproverRow};
use latch_policy::conditions::Facts;
use latch_runtime::database::{format_time, statement};
use latch_runtime::{Caller, ServiceError, ServiceResult};
use sea_orm::ConnectionTrait;

use super::{AUTOMATIC_REQUESTER, RequestService};
use crate::domain::approval::{ApprovalContext, eligible_groups};
use crate::domain::flows::FlowKind;
use crate::domain::insights::{DurationStats, stats, suggested_maximum};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationInsight {
    pub flow_id: String,
    pub flow_name: String,
    pub maximum_secs: i64,
    pub stats: DurationStats,
    /// Set when requests are consistently well below the maximum.
    pub suggested_maximum_secs: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusedFlow {
    pub flow_id: String,
    pub flow_name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoleApprover {
    pub flow_id: String,
    pub flow_name: String,
    /// 1-based, as people count them.
    pub group: usize,
    /// Distinct approvers the group needs.
    pub needed: usize,
    /// Everyone who can approve for the group (no more than it needs; empty: nobody can).
    pub approvers: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Insights {
    pub window_days: i64,
    pub durations: Vec<DurationInsight>,
    pub unused: Vec<UnusedFlow>,
    pub sole_approvers: Vec<SoleApprover>,
}

impl RequestService {
    pub async fn insights(&self, caller: &Caller, days: i64) -> ServiceResult<Insights> {
        caller.require_admin()?;
        if !(1..=3650).contains(&days) {
            return Err(ServiceError::invalid("days", "must be between 1 and 3650"));
        }
        let since = self.now() - TimeDelta::days(days);
        let (durations, used) = self.requested_durations(since).await?;
        let flows = self.ports().flows.all().await?;
        let people = self.ports().people.everyone().await?;
        let mut out = Insights {
            window_days: days,
            ..Insights::default()
        };
        for flow in flows.iter().filter(|f| f.kind == FlowKind::SelfServe) {
            if !used.contains(&flow.id) {
                out.unused.push(UnusedFlow {
                    flow_id: flow.id.clone(),
                    flow_name: flow.name.clone(),
                    created_at: flow.created_at,
                });
            }
            if let (Some(maximum), Some(stats)) = (flow.maximum, durations.get(&flow.id).and_then(|d| stats(d))) {
                let maximum_secs = maximum.as_seconds() as i64;
                out.durations.push(DurationInsight {
                    flow_id: flow.id.clone(),
                    flow_name: flow.name.clone(),
                    maximum_secs,
                    suggested_maximum_secs: suggested_maximum(maximum_secs, &stats),
                    stats,
                });
            }
            if flow.active {
                out.sole_approvers
                    .extend(sole_approvers(&flow.id, &flow.name, &flow.approval, &people));
            }
        }
        Ok(out)
    }

    /// Durations asked for per flow since `since` (people's requests, not automatic ones), and
    /// every flow ever requested under.
    async fn requested_durations(
        &self,
        since: DateTime<Utc>,
    ) -> ServiceResult<(BTreeMap<String, Vec<i64>>, BTreeSet<String>)> {
        let backend = self.db().get_database_backend();
        let rows = self
            .db()
            .query_all_raw(statement(
                backend,
                "SELECT flow_id, duration_secs FROM requests
                 WHERE created_at >= ? AND requester_id <> ? AND duration_secs IS NOT NULL",
                vec![format_time(since).into(), AUTOMATIC_REQUESTER.into()],
            ))
            .await?;
        let mut durations: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for row in rows {
            let flow: String = row.try_get("", "flow_id")?;
            let seconds: i64 = row.try_get("", "duration_secs")?;
            durations.entry(flow).or_default().push(seconds);
        }
        let used = self
            .db()
            .query_all_raw(statement(backend, "SELECT DISTINCT flow_id FROM requests", vec![]))
            .await?
            .iter()
            .map(|row| row.try_get::<String>("", "flow_id"))
            .collect::<Result<_, _>>()?;
        Ok((durations, used))
    }
}

/// Approver groups that name people only (no manager, owner or on-call rows, which depend on
/// the request) and that one person, or nobody, can satisfy.
fn sole_approvers(flow_id: &str, flow_name: &str, approval: &Approval, people: &[Facts]) -> Vec<SoleApprover> {
    let Approval::ApprovalOf { groups, .. } = approval else {
        return Vec::new();
    };
    let context = ApprovalContext::default();
    let mut out = Vec::new();
    for (index, group) in groups.iter().enumerate() {
        if !group.rows.iter().all(|r| matches!(r, ApproverRow::Condition { .. })) {
            continue;
        }
        // The group needs `min_approvers` distinct people: with no one to spare, each of them
        // is a single point of failure.
        let needed = group.min_approvers.max(1) as usize;
        let single = std::slice::from_ref(group);
        let eligible: Vec<&Facts> = people
            .iter()
            .filter(|p| !eligible_groups(single, p, &context).is_empty())
            .take(needed + 1)
            .collect();
        if eligible.len() <= needed {
            out.push(SoleApprover {
                flow_id: flow_id.to_string(),
                flow_name: flow_name.to_string(),
                group: index + 1,
                needed,
                approvers: eligible.iter().map(|p| p.user_name.clone()).collect(),
            });
        }
    }
    out
}
