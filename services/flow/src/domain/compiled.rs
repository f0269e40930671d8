//! The compiled evaluator: flows indexed by (integration, permission), conditions with their
//! values lowercased once, and a subject's facts prepared once per request, so evaluating a
//! request is a few hash lookups and comparisons of ready strings — never an allocation per
//! condition, never a network call.

use std::collections::HashMap;

use super::conditions::{Attribute, Combine, Conditions, Facts, Operator};
use super::evaluate::{Allowance, CompiledFlow, Item, Request, evaluate};

/// A subject's values per attribute, lowercased once.
#[derive(Debug, Default)]
pub struct PreparedFacts {
    user: Vec<String>,
    groups: Vec<String>,
    attributes: HashMap<String, Vec<String>>,
}

impl PreparedFacts {
    pub fn new(facts: &Facts) -> Self {
        let lower = |s: &String| s.to_lowercase();
        Self {
            user: [&facts.user_id, &facts.user_name, &facts.email]
                .into_iter()
                .filter(|s| !s.is_empty())
                .map(lower)
                .collect(),
            groups: facts
                .groups
                .iter()
                .flat_map(|(id, name)| [lower(id), lower(name)])
                .collect(),
            attributes: facts
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.iter().map(lower).collect()))
                .collect(),
        }
    }

    fn values(&self, attribute: &Attribute) -> &[String] {
        match attribute {
            Attribute::User => &self.user,
            Attribute::Group => &self.groups,
            Attribute::Named(key) => self.attributes.get(key).map(Vec::as_slice).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone)]
struct Row {
    attribute: Attribute,
    operator: Operator,
    values: Vec<String>,
}

/// Conditions with lowercased values; the same rule as [`Conditions::holds`].
#[derive(Debug, Clone)]
pub struct CompiledConditions {
    combine: Combine,
    rows: Vec<Row>,
}

impl CompiledConditions {
    pub fn new(conditions: &Conditions) -> Self {
        Self {
            combine: conditions.combine,
            rows: conditions
                .rows
                .iter()
                .map(|r| Row {
                    attribute: r.attribute.clone(),
                    operator: r.operator,
                    values: r.values.iter().map(|v| v.to_lowercase()).collect(),
                })
                .collect(),
        }
    }

    pub fn holds(&self, facts: &PreparedFacts) -> bool {
        let row_holds = |row: &Row| {
            let subject = facts.values(&row.attribute);
            let (positive, negated) = match row.operator {
                Operator::IsNot => (Operator::Is, true),
                Operator::DoesNotContain => (Operator::Contains, true),
                other => (other, false),
            };
            let any = row.values.iter().any(|wanted| {
                subject.iter().any(|have| match positive {
                    Operator::Is => have == wanted,
                    Operator::Contains => have.contains(wanted.as_str()),
                    Operator::StartsWith => have.starts_with(wanted.as_str()),
                    Operator::IsNot | Operator::DoesNotContain => false,
                })
            });
            any != negated
        };
        match self.combine {
            Combine::And => self.rows.iter().all(row_holds),
            Combine::Or => self.rows.iter().any(row_holds),
        }
    }
}

struct Entry {
    flow: CompiledFlow,
    requestors: CompiledConditions,
    others: Option<CompiledConditions>,
}

/// Every flow, indexed for evaluation.
#[derive(Default)]
pub struct FlowIndex {
    entries: Vec<Entry>,
    /// integration → permission → resource → the flows covering that item. Nested by parts so a
    /// lookup borrows the request's strings instead of building a key.
    by_item: HashMap<String, HashMap<String, HashMap<String, Vec<u32>>>>,
}

impl std::fmt::Debug for FlowIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowIndex").field("flows", &self.entries.len()).finish()
    }
}

/// The answer for one request over every flow.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub allowed: Vec<Allowance>,
    /// Flows that cover what was asked but do not apply, with their reasons.
    pub denied: Vec<(String, String, Vec<String>)>,
}

impl FlowIndex {
    pub fn build(flows: Vec<CompiledFlow>) -> Self {
        let mut index = Self::default();
        for flow in flows {
            let position = index.entries.len() as u32;
            for item in &flow.items {
                index
                    .by_item
                    .entry(item.integration_id.clone())
                    .or_default()
                    .entry(item.permission.clone())
                    .or_default()
                    .entry(item.resource_id.clone())
                    .or_default()
                    .push(position);
            }
            index.entries.push(Entry {
                requestors: CompiledConditions::new(&flow.spec.requestors),
                others: flow.spec.for_whom.others.as_ref().map(CompiledConditions::new),
                flow,
            });
        }
        index
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn flows(&self) -> impl Iterator<Item = &CompiledFlow> {
        self.entries.iter().map(|e| &e.flow)
    }

    fn covering(&self, item: &Item) -> &[u32] {
        self.by_item
            .get(item.integration_id.as_str())
            .and_then(|by_permission| by_permission.get(item.permission.as_str()))
            .and_then(|by_resource| by_resource.get(item.resource_id.as_str()))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Flows covering every requested item.
    fn candidates(&self, items: &[Item]) -> Vec<u32> {
        let Some(first) = items.first() else { return Vec::new() };
        self.covering(first)
            .iter()
            .copied()
            .filter(|p| items[1..].iter().all(|item| self.covering(item).contains(p)))
            .collect()
    }

    /// Only whether some flow allows, on the fast path (no reasons are built).
    pub fn allows(&self, request: &Request<'_>, requester: &PreparedFacts, grantee: &PreparedFacts) -> bool {
        self.candidates(request.items).into_iter().any(|p| {
            let entry = &self.entries[p as usize];
            let spec = &entry.flow.spec;
            let for_self = request.requester.user_id == request.grantee.user_id;
            spec.active
                && spec.kind == super::model::FlowKind::SelfServe
                && entry.requestors.holds(requester)
                && entry.flow.when.contains(request.at)
                && if for_self {
                    spec.for_whom.themselves
                } else {
                    (spec.for_whom.direct_reports
                        && request.grantee.manager_id.as_deref() == Some(request.requester.user_id.as_str()))
                        || entry.others.as_ref().is_some_and(|o| o.holds(grantee))
                }
                && duration_fits(spec, request)
        })
    }

    /// Every covering flow's decision, with reasons for those that do not apply.
    pub fn evaluate(&self, request: &Request<'_>) -> Evaluation {
        let mut evaluation = Evaluation::default();
        for position in self.candidates(request.items) {
            let flow = &self.entries[position as usize].flow;
            match evaluate(flow, request) {
                Ok(allowance) => evaluation.allowed.push(allowance),
                Err(reasons) => evaluation
                    .denied
                    .push((flow.id.clone(), flow.spec.name.clone(), reasons)),
            }
        }
        evaluation
    }
}

fn duration_fits(spec: &super::model::FlowSpec, request: &Request<'_>) -> bool {
    match (spec.settings.require_duration, request.duration, spec.maximum()) {
        (true, None, Some(_)) => false,
        (_, Some(asked), Some(max)) => asked <= max,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::Utc;
    use proptest::prelude::*;

    use super::*;
    use crate::domain::conditions::Condition;

    proptest! {
        /// The compiled conditions agree with the plain ones.
        #[test]
        fn compiled_conditions_agree(
            rows in prop::collection::vec((0u8..3, 0u8..5, prop::collection::vec("[A-Ca-c]{0,3}", 1..3)), 1..4),
            or in any::<bool>(),
            groups in prop::collection::vec("[a-c]{1,3}", 0..3),
            skills in prop::collection::vec("[A-Ca-c]{0,3}", 0..3),
        ) {
            let conditions = Conditions {
                combine: if or { Combine::Or } else { Combine::And },
                rows: rows.into_iter().map(|(a, o, values)| Condition {
                    attribute: [Attribute::User, Attribute::Group, Attribute::Named("skills".into())][a as usize].clone(),
                    operator: [Operator::Is, Operator::IsNot, Operator::Contains, Operator::DoesNotContain, Operator::StartsWith][o as usize],
                    values,
                }).collect(),
            };
            let facts = Facts {
                user_id: "u1".into(),
                user_name: "Ab".into(),
                email: "ab@c".into(),
                groups: groups.iter().map(|g| (format!("id-{g}"), g.clone())).collect(),
                attributes: BTreeMap::from([("skills".to_string(), skills)]),
                manager_id: None,
            };
            prop_assert_eq!(CompiledConditions::new(&conditions).holds(&PreparedFacts::new(&facts)), conditions.holds(&facts));
        }
    }

    #[test]
    fn an_empty_index_allows_nothing() {
        let index = FlowIndex::build(Vec::new());
        let facts = Facts::default();
        let request = Request {
            requester: &facts,
            grantee: &facts,
            items: &[],
            duration: None,
            at: Utc::now(),
        };
        assert!(!index.allows(&request, &PreparedFacts::new(&facts), &PreparedFacts::new(&facts)));
        assert!(index.evaluate(&request).allowed.is_empty());
    }
}
