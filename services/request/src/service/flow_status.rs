//! A flow's status: who holds what through it, what the reconciler has still to do (automatic
//! flows), and drift between its grants and the target systems.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use latch_runtime::{Caller, ServiceResult};

use super::reconcile::{Pending, pending};
use super::{RequestService, items_key};
use crate::domain::flows::{AutomaticFlow, FlowKind};
use crate::domain::lifecycle::State;
use crate::store::automatic;
use crate::store::requests::{self, RequestRow};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub grantee_id: String,
    pub grantee_name: String,
    pub request_id: String,
    pub state: State,
    /// `integration/resource:permission`
    pub items: Vec<String>,
    pub since: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftEntry {
    /// `missing` (Latch gave it, the system lacks it) or `orphan` (the system has it, Latch
    /// does not).
    pub kind: String,
    pub integration: String,
    pub resource_id: String,
    pub permission: String,
    /// The grantee (missing) or the system's account (orphan).
    pub who: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowStatus {
    pub flow_id: String,
    pub flow_name: String,
    pub automatic: bool,
    pub in_force: bool,
    pub holders: Vec<Holder>,
    /// Automatic flows: users the flow grants to who do not hold it yet.
    pub to_grant: Vec<String>,
    /// Automatic flows: holders the flow no longer grants to.
    pub to_revoke: Vec<String>,
    /// Automatic flows: holders whose access predates a change of the flow's items.
    pub to_replace: Vec<String>,
    pub drift: Vec<DriftEntry>,
    /// Integrations that could not be checked for drift, with why.
    pub unchecked: Vec<String>,
}

impl RequestService {
    pub async fn flow_status(&self, caller: &Caller, flow: &str) -> ServiceResult<FlowStatus> {
        caller.require_admin()?;
        // Accepts the id, the resource name (`flows/{id}`) or the flow's name.
        let flow = flow.strip_prefix("flows/").unwrap_or(flow);
        let ports = self.ports();
        let spec_flow = ports
            .flows
            .all()
            .await?
            .into_iter()
            .find(|f| f.id == flow || f.name == flow)
            .ok_or_else(|| latch_runtime::ServiceError::NotFound(format!("flow {flow:?}")))?;
        let automatic_now = ports
            .flows
            .automatic()
            .await?
            .into_iter()
            .find(|f| f.id == spec_flow.id);
        let is_automatic = spec_flow.kind == FlowKind::Automatic;
        let mut status = FlowStatus {
            flow_id: spec_flow.id.clone(),
            flow_name: spec_flow.name.clone(),
            automatic: is_automatic,
            in_force: automatic_now.is_some() || (!is_automatic && spec_flow.active),
            ..FlowStatus::default()
        };
        let holding = requests::of_flow(self.db(), &spec_flow.id, &[State::Granting, State::Active]).await?;
        let name_of = |facts: Option<latch_policy::conditions::Facts>, id: &str| {
            facts.map(|f| f.user_name).unwrap_or_else(|| id.to_string())
        };
        let mut hold_ids = BTreeSet::new();
        let mut wanted_items = BTreeSet::new();
        for request in &holding {
            let items = requests::items(self.db(), &request.id).await?;
            hold_ids.extend(items.iter().filter_map(|i| i.hold_id.clone()));
            wanted_items.extend(
                items
                    .iter()
                    .map(|i| (i.integration_id.clone(), i.resource_id.clone(), i.permission.clone())),
            );
            status.holders.push(Holder {
                grantee_id: request.grantee_id.clone(),
                grantee_name: name_of(ports.people.facts(&request.grantee_id).await?, &request.grantee_id),
                request_id: request.id.clone(),
                state: request.state,
                items: items
                    .iter()
                    .map(|i| format!("{}/{}:{}", i.integration_name, i.resource_name, i.permission))
                    .collect(),
                since: request.granted_at,
                ends_at: request.ends_at,
            });
        }
        if let Some(flow) = &automatic_now {
            wanted_items.extend(
                flow.items
                    .iter()
                    .map(|i| (i.integration_id.clone(), i.resource_id.clone(), i.permission.clone())),
            );
        }
        if is_automatic {
            self.pending_changes(&mut status, automatic_now.as_ref()).await?;
        }
        self.flow_drift(&mut status, &holding, &hold_ids, &wanted_items).await?;
        Ok(status)
    }

    /// What the reconciler has still to do for an automatic flow.
    async fn pending_changes(&self, status: &mut FlowStatus, flow: Option<&AutomaticFlow>) -> ServiceResult<()> {
        let ports = self.ports();
        let wanted: BTreeSet<String> = match flow {
            // This flow's grantees only, not every automatic flow's.
            Some(flow) if !flow.items.is_empty() => ports.flows.grantees_of(&flow.id).await?.into_iter().collect(),
            _ => BTreeSet::new(),
        };
        let key = flow.map(|f| items_key(&f.items));
        let held: BTreeMap<String, automatic::Assignment> = automatic::for_flow(self.db(), &status.flow_id)
            .await?
            .into_iter()
            .map(|a| (a.grantee_id.clone(), a))
            .collect();
        let users: BTreeSet<&String> = wanted.iter().chain(held.keys()).collect();
        let now = self.now();
        for user in users {
            let wanted_key = key.as_deref().filter(|_| wanted.contains(user));
            let list = match pending(wanted_key, held.get(user), now) {
                Some(Pending::Grant) => &mut status.to_grant,
                Some(Pending::Replace) => &mut status.to_replace,
                Some(Pending::Revoke) => &mut status.to_revoke,
                None => continue,
            };
            let name = ports
                .people
                .facts(user)
                .await?
                .map_or_else(|| user.clone(), |f| f.user_name);
            list.push(name);
        }
        Ok(())
    }

    /// Drift of this flow's grants: its holders' grants missing at the systems, and grants of
    /// its items at the systems that Latch does not know.
    async fn flow_drift(
        &self,
        status: &mut FlowStatus,
        holding: &[RequestRow],
        hold_ids: &BTreeSet<String>,
        wanted_items: &BTreeSet<(String, String, String)>,
    ) -> ServiceResult<()> {
        let integrations: BTreeSet<&String> = wanted_items.iter().map(|(i, _, _)| i).collect();
        for integration in integrations {
            let report = self.drift(integration, false).await?;
            for d in report {
                if !d.error.is_empty() {
                    status.unchecked.push(format!("{}: {}", d.integration_name, d.error));
                    continue;
                }
                for hold in d.missing.iter().filter(|h| hold_ids.contains(&h.id)) {
                    let who = holding
                        .iter()
                        .find(|r| r.grantee_id == hold.grantee_id)
                        .and_then(|r| status.holders.iter().find(|h| h.request_id == r.id))
                        .map(|h| h.grantee_name.clone())
                        .unwrap_or_else(|| hold.grantee_id.clone());
                    status.drift.push(DriftEntry {
                        kind: "missing".into(),
                        integration: d.integration_name.clone(),
                        resource_id: hold.resource_id.clone(),
                        permission: hold.permission.clone(),
                        who,
                    });
                }
                for orphan in d.orphans.iter().filter(|o| {
                    wanted_items.contains(&(d.integration_id.clone(), o.resource_id.clone(), o.permission.clone()))
                }) {
                    status.drift.push(DriftEntry {
                        kind: "orphan".into(),
                        integration: d.integration_name.clone(),
                        resource_id: orphan.resource_id.clone(),
                        permission: orphan.permission.clone(),
                        who: orphan.account.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}
