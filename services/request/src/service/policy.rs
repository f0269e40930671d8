//! The flow's rules a request carries with it: copied when the request is made, so approvals,
//! extensions and limits follow the flow the requester was shown, not a later edit.

use std::collections::{BTreeSet, HashMap};

use latch_policy::conditions::Facts;
use latch_runtime::{ServiceError, ServiceResult};

use super::RequestService;
use crate::domain::approval::{ApprovalContext, Cast, Progress, eligible_groups, named_candidates, progress};
pub use crate::domain::policy::Policy;
use crate::store::requests::{ApprovalRow, ItemRow, RequestRow};

impl Policy {
    /// Where approval stands after these decisions (rejections do not count towards it).
    pub fn progress(&self, decisions: &[ApprovalRow]) -> Progress {
        let casts: Vec<Cast> = decisions
            .iter()
            .filter(|d| d.decision == "approved")
            .map(|d| Cast {
                approver_id: d.approver_id.clone(),
                groups: d.groups.clone(),
            })
            .collect();
        progress(self.groups(), self.across(), &casts)
    }
}

/// The owners (user and group ids) of a request's resources, as the catalog named them when
/// the request was made.
pub(crate) fn owners_of(items: &[ItemRow]) -> BTreeSet<String> {
    items
        .iter()
        .flat_map(|i| i.owners.split(','))
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect()
}

impl RequestService {
    /// What approver eligibility depends on for this request, at this moment (on-call changes).
    pub(crate) async fn approval_context(
        &self,
        request: &RequestRow,
        items: &[ItemRow],
        policy: &Policy,
    ) -> ServiceResult<(ApprovalContext, Facts)> {
        let people = &self.ports().people;
        let grantee = people
            .facts(&request.grantee_id)
            .await?
            .ok_or_else(|| ServiceError::FailedPrecondition("the grantee is no longer an active user".into()))?;
        let mut on_call = HashMap::new();
        let now = self.now();
        for schedule in policy.schedules() {
            on_call.insert(schedule.to_string(), people.on_call(schedule, now).await?);
        }
        let resource_owners = owners_of(items);
        let context = ApprovalContext {
            requester_id: request.requester_id.clone(),
            grantee: grantee.clone(),
            resource_owners,
            on_call,
            no_self_approval: policy.settings.no_self_approval,
        };
        Ok((context, grantee))
    }

    /// Active users who may approve groups of this request now and have not decided yet, per
    /// group (at most `limit` names each), for "waiting on whom".
    pub(crate) async fn eligible_approvers(
        &self,
        policy: &Policy,
        context: &ApprovalContext,
        decided: &BTreeSet<&str>,
        limit: usize,
    ) -> ServiceResult<Vec<Vec<String>>> {
        let groups = policy.groups();
        let mut names: Vec<Vec<String>> = vec![Vec::new(); groups.len()];
        // Names `person` under each group they may approve for; false once every group is full.
        let mut note = |person: &Facts| {
            if !decided.contains(person.user_id.as_str()) {
                for index in eligible_groups(groups, person, context) {
                    if names[index].len() < limit {
                        names[index].push(person.user_name.clone());
                    }
                }
            }
            names.iter().any(|n| n.len() < limit)
        };
        // When every group names its people (the grantee's manager, whoever is on call), those
        // few are checked instead of the whole directory.
        let named: Option<BTreeSet<String>> = groups.iter().try_fold(BTreeSet::new(), |mut all, group| {
            all.extend(named_candidates(group, context)?);
            Some(all)
        });
        match named {
            Some(named) => {
                let mut people = Vec::new();
                for id in &named {
                    if let Some(person) = self.ports().people.facts(id).await? {
                        people.push(person);
                    }
                }
                people.sort_by(|a, b| {
                    (a.user_name.to_lowercase(), &a.user_id).cmp(&(b.user_name.to_lowercase(), &b.user_id))
                });
                for person in &people {
                    if !note(person) {
                        break;
                    }
                }
            }
            None => self.ports().people.scan(&mut note).await?,
        }
        Ok(names)
    }
}
