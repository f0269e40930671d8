//! Reads over the compiled flows: evaluate a request, what a user may request, who can get an
//! item, and the grantees of automatic flows.

use chrono::{DateTime, Utc};
use latch_runtime::{Caller, ServiceError, ServiceResult};

use super::FlowService;
use crate::domain::compiled::PreparedFacts;
use crate::domain::conditions::Facts;
use crate::domain::duration::Span;
use crate::domain::evaluate::{Allowance, Item, Request, choose, duration_for};
use crate::domain::model::{Approval, FlowKind, TargetSpec};
use crate::store::StoredFlow;

#[derive(Debug, Clone, Default)]
pub struct EvaluationAnswer {
    pub items: Vec<Item>,
    pub allowed: Vec<Allowance>,
    pub denied: Vec<(String, String, Vec<String>)>,
    pub chosen: Option<Allowance>,
    /// The chosen flow as it was evaluated (from the same compiled state), so what a request
    /// copies from it is what allowed it.
    pub chosen_flow: Option<StoredFlow>,
}

#[derive(Debug, Clone)]
pub struct RequestableFlow {
    pub flow_id: String,
    pub flow_name: String,
    /// A page of the flow's items, in item order.
    pub items: Vec<Item>,
    /// All of the flow's items.
    pub item_count: usize,
}

/// Which of the requestable items to show.
#[derive(Debug, Clone, Default)]
pub struct RequestablePage {
    /// Only this flow (id or name).
    pub flow: Option<String>,
    /// Items per flow.
    pub size: usize,
    /// Only items after this one.
    pub after: Option<Item>,
}

#[derive(Debug, Clone)]
pub struct ExplainedFlow {
    pub flow_id: String,
    pub flow_name: String,
    pub kind: FlowKind,
    pub who: String,
    pub when: String,
    pub approval: String,
    pub users: Vec<String>,
}

/// What a request asks for before resolution.
#[derive(Debug, Clone, Default)]
pub struct Asked {
    pub items: Vec<Item>,
    pub bundle: String,
    pub scope: String,
    pub scope_permissions: Vec<String>,
}

impl FlowService {
    async fn facts_of(&self, field: &str, user: &str) -> ServiceResult<Facts> {
        self.people()
            .facts(user)
            .await?
            .ok_or_else(|| ServiceError::invalid(field, format!("no active user {user:?}")))
    }

    /// The item with its integration named by id (callers may use the name).
    async fn with_integration_id(&self, field: &str, item: &Item) -> ServiceResult<Item> {
        let integration_id = self
            .catalog()
            .integration_id(&item.integration_id)
            .await?
            .ok_or_else(|| {
                ServiceError::invalid(
                    format!("{field}.integration"),
                    format!("no integration {:?}", item.integration_id),
                )
            })?;
        Ok(Item {
            integration_id,
            ..item.clone()
        })
    }

    /// Items asked for: concrete ones, plus what a bundle or scope resolves to.
    async fn asked_items(&self, asked: &Asked) -> ServiceResult<Vec<Item>> {
        let mut items = Vec::with_capacity(asked.items.len());
        for (i, item) in asked.items.iter().enumerate() {
            items.push(self.with_integration_id(&format!("items[{i}]"), item).await?);
        }
        let mut targets = Vec::new();
        if !asked.bundle.trim().is_empty() {
            targets.push(TargetSpec::Bundle(asked.bundle.trim().to_string()));
        }
        if !asked.scope.trim().is_empty() {
            targets.push(TargetSpec::Scope {
                scope: asked.scope.trim().to_string(),
                permissions: asked.scope_permissions.clone(),
            });
        }
        if !targets.is_empty() {
            // Bundles and scopes are looked up in any space: the flows decide what applies.
            let state = self.state();
            let space = state.flows.iter().find_map(|f| f.spec.space.clone());
            let resolved = match self.catalog().resolve(&targets, None).await {
                Ok(found) => found,
                Err(global_error) => match space {
                    Some(space) => self
                        .catalog()
                        .resolve(&targets, Some(&space))
                        .await
                        .map_err(|_| global_error)?,
                    None => return Err(global_error),
                },
            };
            items.extend(resolved);
        }
        items.sort();
        items.dedup();
        if items.is_empty() {
            return Err(ServiceError::invalid(
                "items",
                "name at least one item, a bundle or an access scope",
            ));
        }
        Ok(items)
    }

    /// Decisions of every flow that covers the items, for `caller` asking for `grantee`.
    pub async fn evaluate_request(
        &self,
        caller: &Caller,
        grantee: &str,
        asked: &Asked,
        duration: Option<Span>,
        at: Option<DateTime<Utc>>,
        only_flow: &str,
    ) -> ServiceResult<EvaluationAnswer> {
        let named = if only_flow.trim().is_empty() {
            None
        } else {
            Some(self.flow(only_flow)?)
        };
        // A named flow makes a duration it cannot grant invalid input, not a refusal.
        if let Some(flow) = &named
            && let Err(rule) = duration_for(&flow.spec, duration)
        {
            return Err(ServiceError::invalid("duration", rule));
        }
        let requester = self.facts_of("requester", &caller.user_id).await?;
        let grantee = if grantee.trim().is_empty() {
            requester.clone()
        } else {
            self.facts_of("grantee", grantee).await?
        };
        let items = self.asked_items(asked).await?;
        let at = at.unwrap_or_else(|| self.now());
        let state = self.state();
        let request = Request {
            requester: &requester,
            grantee: &grantee,
            items: &items,
            duration,
            at,
        };
        let mut evaluation = state.index.evaluate(&request);
        if let Some(flow) = named {
            evaluation.allowed.retain(|a| a.flow_id == flow.id);
            evaluation.denied.retain(|(id, ..)| *id == flow.id);
            if evaluation.allowed.is_empty() && evaluation.denied.is_empty() {
                evaluation.denied.push((
                    flow.id.clone(),
                    flow.spec.name.clone(),
                    vec!["does not cover what was asked".into()],
                ));
            }
        }
        let chosen = choose(evaluation.allowed.clone());
        let chosen_flow = chosen
            .as_ref()
            .and_then(|c| state.flows.iter().find(|f| f.id == c.flow_id).cloned());
        Ok(EvaluationAnswer {
            items,
            allowed: evaluation.allowed,
            denied: evaluation.denied,
            chosen,
            chosen_flow,
        })
    }

    /// Self-serve flows whose requestor conditions and window hold for `user` now.
    pub async fn requestable(
        &self,
        user_id: &str,
        at: Option<DateTime<Utc>>,
        page: &RequestablePage,
    ) -> ServiceResult<Vec<RequestableFlow>> {
        let facts = self.facts_of("user", user_id).await?;
        let prepared = PreparedFacts::new(&facts);
        let at = at.unwrap_or_else(|| self.now());
        let state = self.state();
        Ok(state
            .index
            .flows()
            .filter(|f| {
                page.flow
                    .as_ref()
                    .is_none_or(|w| *w == f.id || w.to_lowercase() == f.spec.name.to_lowercase())
            })
            .filter(|f| {
                f.spec.active && f.spec.kind == FlowKind::SelfServe && f.spec.for_whom.themselves && f.when.contains(at)
            })
            .filter(|f| crate::domain::compiled::CompiledConditions::new(&f.spec.requestors).holds(&prepared))
            .map(|f| {
                // Only the page is copied, however many items the flow covers.
                let items: Vec<Item> = match &page.after {
                    None => f.items.iter().take(page.size).cloned().collect(),
                    Some(last) => f
                        .items
                        .range((std::ops::Bound::Excluded(last), std::ops::Bound::Unbounded))
                        .take(page.size)
                        .cloned()
                        .collect(),
                };
                RequestableFlow {
                    flow_id: f.id.clone(),
                    flow_name: f.spec.name.clone(),
                    items,
                    item_count: f.items.len(),
                }
            })
            .collect())
    }

    /// Who can get `item` and through which flows (admins).
    pub async fn explain(&self, caller: &Caller, item: &Item) -> ServiceResult<Vec<ExplainedFlow>> {
        caller.require_admin()?;
        let item = &self.with_integration_id("item", item).await?;
        let everyone = self.people().everyone().await?;
        let prepared: Vec<(String, PreparedFacts)> = everyone
            .iter()
            .map(|f| (f.user_name.clone(), PreparedFacts::new(f)))
            .collect();
        let state = self.state();
        Ok(state
            .index
            .flows()
            .filter(|f| f.spec.active && f.items.contains(item))
            .map(|f| {
                let conditions = crate::domain::compiled::CompiledConditions::new(&f.spec.requestors);
                let users = prepared
                    .iter()
                    .filter(|(_, p)| conditions.holds(p))
                    .map(|(n, _)| n.clone())
                    .take(100)
                    .collect();
                ExplainedFlow {
                    flow_id: f.id.clone(),
                    flow_name: f.spec.name.clone(),
                    kind: f.spec.kind,
                    who: describe_conditions(&f.spec.requestors),
                    when: f.when.describe(),
                    approval: match &f.spec.approval {
                        Approval::Automatic => "automatic".into(),
                        Approval::ApprovalOf { groups, across } => {
                            format!("{:?} of {} approver group(s)", across, groups.len())
                        }
                    },
                    users,
                }
            })
            .collect())
    }

    /// Users an automatic flow grants to now (for the reconciler).
    pub async fn matching_grantees(&self, flow_id: &str) -> ServiceResult<Vec<String>> {
        let flow = self.flow(flow_id)?;
        let compiled_when = self
            .state()
            .index
            .flows()
            .find(|f| f.id == flow.id)
            .map(|f| f.when.contains(self.now()));
        if flow.spec.kind != FlowKind::Automatic || !flow.spec.active || compiled_when == Some(false) {
            return Ok(Vec::new());
        }
        let conditions = crate::domain::compiled::CompiledConditions::new(&flow.spec.requestors);
        Ok(self
            .people()
            .everyone()
            .await?
            .iter()
            .filter(|f| conditions.holds(&PreparedFacts::new(f)))
            .map(|f| f.user_id.clone())
            .collect())
    }

    /// Automatic flows in force now (active, inside their window), with what each grants.
    pub fn automatic_flows(&self) -> Vec<AutomaticFlow> {
        self.automatic_flows_of(&self.state())
    }

    /// [`Self::automatic_flows`] of one compiled state (to read more of it consistently).
    pub fn automatic_flows_of(&self, state: &super::FlowState) -> Vec<AutomaticFlow> {
        let at = self.now();
        state
            .index
            .flows()
            .filter(|f| f.spec.active && f.spec.kind == FlowKind::Automatic && f.when.contains(at))
            .map(|f| AutomaticFlow {
                id: f.id.clone(),
                name: f.spec.name.clone(),
                items: f.items.iter().cloned().collect(),
            })
            .collect()
    }

    /// Every automatic flow in force and the active users it grants to now (for the
    /// reconciler's full pass): the directory is read once and each flow's conditions compiled
    /// once.
    pub async fn automatic_grantees(&self) -> ServiceResult<Vec<(String, Vec<String>)>> {
        let at = self.now();
        let state = self.state();
        let flows: Vec<_> = state
            .index
            .flows()
            .filter(|f| f.spec.active && f.spec.kind == FlowKind::Automatic && f.when.contains(at))
            .map(|f| {
                (
                    f.id.clone(),
                    crate::domain::compiled::CompiledConditions::new(&f.spec.requestors),
                )
            })
            .collect();
        if flows.is_empty() {
            return Ok(Vec::new());
        }
        let people = self.people().everyone().await?;
        let prepared: Vec<_> = people.iter().map(PreparedFacts::new).collect();
        Ok(flows
            .into_iter()
            .map(|(id, conditions)| {
                let users = people
                    .iter()
                    .zip(&prepared)
                    .filter(|(_, p)| conditions.holds(p))
                    .map(|(f, _)| f.user_id.clone())
                    .collect();
                (id, users)
            })
            .collect())
    }

    /// Automatic flows granting to `user` now; none for an unknown or inactive user.
    pub async fn flows_granting(&self, user: &str) -> ServiceResult<Vec<String>> {
        let Some(facts) = self.people().facts(user).await? else {
            return Ok(Vec::new());
        };
        let prepared = PreparedFacts::new(&facts);
        let at = self.now();
        Ok(self
            .state()
            .index
            .flows()
            .filter(|f| f.spec.active && f.spec.kind == FlowKind::Automatic && f.when.contains(at))
            .filter(|f| crate::domain::compiled::CompiledConditions::new(&f.spec.requestors).holds(&prepared))
            .map(|f| f.id.clone())
            .collect())
    }
}

/// An automatic flow in force and the items it grants.
#[derive(Debug, Clone)]
pub struct AutomaticFlow {
    pub id: String,
    pub name: String,
    pub items: Vec<Item>,
}

fn describe_conditions(conditions: &crate::domain::conditions::Conditions) -> String {
    let joiner = match conditions.combine {
        crate::domain::conditions::Combine::And => " and ",
        crate::domain::conditions::Combine::Or => " or ",
    };
    conditions
        .rows
        .iter()
        .map(|r| r.describe())
        .collect::<Vec<_>>()
        .join(joiner)
}
