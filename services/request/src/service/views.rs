//! Reading requests: who may see what, why a request waits and on whom, and credentials for
//! the grantee only.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use latch_proto::common::v1::Role;
use latch_runtime::{Caller, ServiceError, ServiceResult};

use super::{Policy, RequestService};
use crate::domain::approval::{Progress, eligible_groups};
use crate::domain::lifecycle::State;
use crate::domain::list_filter::ListFilter;
use crate::store::holds::{self, HoldState};
use crate::store::requests::{self, ApprovalRow, EventRow, ItemRow, RequestFilter, RequestRow, state_name};

/// Names listed per approver group when saying on whom a request waits.
const NAMES_SHOWN: usize = 10;

#[derive(Debug, Clone)]
pub struct ItemView {
    pub item: ItemRow,
    /// The shared grant's state and its last connector error, if it has one.
    pub grant_state: String,
    pub error: String,
    pub account: String,
}

#[derive(Debug, Clone)]
pub struct RequestView {
    pub request: RequestRow,
    pub items: Vec<ItemView>,
    pub approvals: Vec<ApprovalRow>,
    pub history: Vec<EventRow>,
    /// Why it waits and on whom, in words (empty when it does not wait).
    pub waiting: Vec<String>,
    /// Whether the caller may approve it now.
    pub can_approve: bool,
    /// User names (empty when the user is gone).
    pub requester_name: String,
    pub grantee_name: String,
}

/// A request as a listing shows it: with its people's names (empty when the user is gone).
#[derive(Debug, Clone)]
pub struct ListedRequest {
    pub request: RequestRow,
    pub requester_name: String,
    pub grantee_name: String,
}

#[derive(Debug, Clone)]
pub struct CredentialView {
    pub item: ItemRow,
    pub account: String,
    pub credentials: BTreeMap<String, String>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl RequestService {
    /// Whether the caller is an eligible approver of a pending request who has not decided yet.
    pub(super) async fn may_decide(
        &self,
        caller: &Caller,
        request: &RequestRow,
        items: &[ItemRow],
        decided: &[ApprovalRow],
    ) -> ServiceResult<bool> {
        if request.state != State::PendingApproval || decided.iter().any(|d| d.approver_id == caller.user_id) {
            return Ok(false);
        }
        let policy = Policy::parse(&request.policy)?;
        let Ok((context, _)) = self.approval_context(request, items, &policy).await else {
            return Ok(false);
        };
        let Some(me) = self.ports().people.facts(&caller.user_id).await? else {
            return Ok(false);
        };
        Ok(!eligible_groups(policy.groups(), &me, &context).is_empty())
    }

    /// One request in full: requester, grantee, admins and auditors, and its eligible approvers
    /// may read it.
    pub async fn get(&self, caller: &Caller, id: &str) -> ServiceResult<RequestView> {
        let request = self.load(self.db(), id).await?;
        let items = requests::items(self.db(), id).await?;
        let approvals = requests::approvals(self.db(), id).await?;
        let party = caller.user_id == request.requester_id || caller.user_id == request.grantee_id;
        let overseer = caller.has_role(Role::Admin) || caller.has_role(Role::Auditor);
        let can_approve = self.may_decide(caller, &request, &items, &approvals).await?;
        let was_approver = approvals.iter().any(|a| a.approver_id == caller.user_id);
        if !(party || overseer || can_approve || was_approver) {
            return Err(ServiceError::NotFound(format!("request {id:?}")));
        }
        self.view(request, items, approvals, can_approve).await
    }

    /// A request in full from what the caller's access check already read (the caller may
    /// read it).
    pub(super) async fn view(
        &self,
        request: RequestRow,
        items: Vec<ItemRow>,
        approvals: Vec<ApprovalRow>,
        can_approve: bool,
    ) -> ServiceResult<RequestView> {
        let history = requests::events(self.db(), &request.id).await?;
        let hold_ids: Vec<&str> = items.iter().filter_map(|i| i.hold_id.as_deref()).collect();
        let mut held = holds::get_many(self.db(), &hold_ids).await?;
        let mut views = Vec::with_capacity(items.len());
        for item in items {
            let hold = item.hold_id.as_ref().and_then(|id| held.remove(id));
            views.push(ItemView {
                grant_state: hold.as_ref().map_or("", |h| h.state.as_str()).to_string(),
                error: hold.as_ref().map(|h| h.error.clone()).unwrap_or_default(),
                account: hold.map(|h| h.account).unwrap_or_default(),
                item,
            });
        }
        let waiting = self.waiting(&request, &views, &approvals).await?;
        let people = &self.ports().people;
        let name = |facts: Option<latch_policy::conditions::Facts>| facts.map(|f| f.user_name).unwrap_or_default();
        let requester_name = name(people.facts(&request.requester_id).await?);
        let grantee_name = name(people.facts(&request.grantee_id).await?);
        Ok(RequestView {
            requester_name,
            grantee_name,
            request,
            items: views,
            approvals,
            history,
            waiting,
            can_approve,
        })
    }

    /// Why a request waits and on whom.
    async fn waiting(
        &self,
        request: &RequestRow,
        items: &[ItemView],
        approvals: &[ApprovalRow],
    ) -> ServiceResult<Vec<String>> {
        let mut out = Vec::new();
        match request.state {
            State::AwaitingMfa => {
                let grantee = self.ports().people.facts(&request.grantee_id).await?;
                out.push(format!(
                    "waiting for {} to verify MFA (`latch requests verify {}`)",
                    grantee.map_or(request.grantee_id.clone(), |g| g.user_name),
                    request.id
                ));
            }
            State::PendingApproval => {
                let policy = Policy::parse(&request.policy)?;
                let rows: Vec<ItemRow> = items.iter().map(|v| v.item.clone()).collect();
                let context = match self.approval_context(request, &rows, &policy).await {
                    Ok((context, _)) => context,
                    Err(error) => {
                        out.push(format!("cannot be approved: {error}"));
                        return Ok(out);
                    }
                };
                let decided = approvals.iter().map(|a| a.approver_id.as_str()).collect();
                let names = self
                    .eligible_approvers(&policy, &context, &decided, NAMES_SHOWN)
                    .await?;
                if let Progress::Waiting(missing) = policy.progress(approvals) {
                    let mode = match policy.across() {
                        latch_policy::approval::AcrossGroups::AnyOf => "any one of these groups",
                        latch_policy::approval::AcrossGroups::AllOf => "every one of these groups",
                    };
                    out.push(format!("waiting for approval from {mode}:"));
                    for (index, needed) in missing {
                        let who = names
                            .get(index)
                            .filter(|n| !n.is_empty())
                            .map_or_else(|| "nobody is eligible right now".to_string(), |n| n.join(", "));
                        out.push(format!("  group {}: {needed} more approval(s) from {who}", index + 1));
                    }
                }
                if let Some(deadline) = request.approval_deadline {
                    out.push(format!("times out at {}", deadline.to_rfc3339()));
                }
            }
            State::Approved => out.push(match request.starts_at {
                Some(start) if start > self.now() => format!("approved; access starts at {}", start.to_rfc3339()),
                _ => "approved; granting starts shortly".to_string(),
            }),
            State::Granting | State::Revoking => {
                let doing = if request.state == State::Granting {
                    "granting"
                } else {
                    "revoking"
                };
                for view in items {
                    let busy = matches!(view.grant_state.as_str(), "granting" | "revoking");
                    if busy {
                        let retrying = if view.error.is_empty() {
                            String::new()
                        } else {
                            format!(" (retrying after: {})", view.error)
                        };
                        out.push(format!(
                            "{doing} {} on {} in {}{retrying}",
                            view.item.permission, view.item.resource_name, view.item.integration_name
                        ));
                    }
                }
            }
            _ => {}
        }
        Ok(out)
    }

    /// Requests the caller asked for or receives, newest first; admins and auditors may list
    /// everyone's with `all`.
    pub async fn list(
        &self,
        caller: &Caller,
        all: bool,
        mut states: Vec<State>,
        only: ListFilter,
        page_size: u32,
        after: Option<(DateTime<Utc>, String)>,
    ) -> ServiceResult<Vec<ListedRequest>> {
        if all && !(caller.has_role(Role::Admin) || caller.has_role(Role::Auditor)) {
            return Err(ServiceError::PermissionDenied(
                "only admins and auditors list everyone's requests".into(),
            ));
        }
        if let Some(state) = only.state {
            if !states.is_empty() {
                return Err(ServiceError::invalid(
                    "filter",
                    "state is given in both states and filter; use one",
                ));
            }
            states.push(state);
        }
        // A user named by user name is looked up; an id (of a user who may be gone) is kept.
        let person = async |named: Option<String>| -> ServiceResult<Option<String>> {
            Ok(match named {
                None => None,
                Some(named) => Some(
                    self.ports()
                        .people
                        .facts(&named)
                        .await?
                        .map_or(named, |facts| facts.user_id),
                ),
            })
        };
        let requester_id = person(only.requester).await?;
        let grantee_id = person(only.grantee).await?;
        let filter = RequestFilter {
            involving: if all { String::new() } else { caller.user_id.clone() },
            states,
            before: after,
            limit: page_size.clamp(1, 500),
            flow: only.flow,
            requester_id,
            grantee_id,
            created_from: only.created_from,
            created_until: only.created_until,
        };
        let rows = requests::list_requests(self.db(), &filter).await?;
        // Each person named once per page, however many of its requests they are in.
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for id in rows.iter().flat_map(|r| [&r.requester_id, &r.grantee_id]) {
            if !names.contains_key(id) {
                let name = self
                    .ports()
                    .people
                    .facts(id)
                    .await?
                    .map(|f| f.user_name)
                    .unwrap_or_default();
                names.insert(id.clone(), name);
            }
        }
        Ok(rows
            .into_iter()
            .map(|request| ListedRequest {
                requester_name: names.get(&request.requester_id).cloned().unwrap_or_default(),
                grantee_name: names.get(&request.grantee_id).cloned().unwrap_or_default(),
                request,
            })
            .collect())
    }

    /// The account and credentials of active access: the grantee only, while it lasts.
    pub async fn credentials(&self, caller: &Caller, id: &str) -> ServiceResult<Vec<CredentialView>> {
        let request = self.load(self.db(), id).await?;
        if caller.user_id != request.grantee_id {
            return Err(ServiceError::PermissionDenied(
                "only the grantee sees the credentials".into(),
            ));
        }
        if request.state != State::Active {
            return Err(ServiceError::FailedPrecondition(format!(
                "the request is {}; credentials exist only while access is active",
                state_name(request.state)
            )));
        }
        let mut out = Vec::new();
        for item in requests::items(self.db(), id).await? {
            let Some(hold_id) = &item.hold_id else { continue };
            let Some(hold) = holds::get(self.db(), hold_id).await? else {
                continue;
            };
            if hold.state != HoldState::Granted {
                continue;
            }
            let credentials = if hold.credentials.is_empty() {
                BTreeMap::new()
            } else {
                let opened = self
                    .secrets()
                    .open_bound(&hold.credentials, hold.id.as_bytes())
                    .map_err(|_| {
                        ServiceError::Internal("credentials cannot be decrypted with the configured key".into())
                    })?;
                serde_json::from_slice(&opened)
                    .map_err(|e| ServiceError::Internal(format!("sealed credentials: {e}")))?
            };
            out.push(CredentialView {
                item,
                account: hold.account,
                credentials,
                expires_at: request.ends_at,
            });
        }
        Ok(out)
    }
}
