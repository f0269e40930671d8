//! Who may approve a request and when it is approved enough.
//!
//! Eligibility is decided when an approver acts (and, for notifications, when the request is
//! made): a row can name people or groups, an identity attribute, the grantee's manager, an
//! owner of a requested resource, or whoever is on call for a schedule at that moment. An
//! approval counts for every group its approver is eligible for; a group is satisfied by its
//! minimum number of *distinct* approvers; ANY OF needs one satisfied group, ALL OF every group.

use std::collections::{BTreeSet, HashMap};

use latch_policy::approval::MAX_APPROVER_REASON;
use latch_policy::approval::{AcrossGroups, ApproverGroup, ApproverRow};
use latch_policy::conditions::{Combine, Condition, Facts};

/// What eligibility depends on besides the approver.
#[derive(Debug, Clone, Default)]
pub struct ApprovalContext {
    pub requester_id: String,
    pub grantee: Facts,
    /// Owners of any requested resource: user ids and group ids (a member of an owner group
    /// is an owner).
    pub resource_owners: BTreeSet<String>,
    /// Schedule (id or name, as written in the flow) → user ids on call now.
    pub on_call: HashMap<String, Vec<String>>,
    /// The flow's "requester and grantee cannot self-approve".
    pub no_self_approval: bool,
}

fn row_holds(row: &ApproverRow, approver: &Facts, context: &ApprovalContext) -> bool {
    match row {
        ApproverRow::Condition {
            attribute,
            operator,
            values,
        } => Condition {
            attribute: attribute.clone(),
            operator: *operator,
            values: values.clone(),
        }
        .holds(approver),
        ApproverRow::Manager => context.grantee.manager_id.as_deref() == Some(approver.user_id.as_str()),
        ApproverRow::ResourceOwner => {
            context.resource_owners.contains(&approver.user_id)
                || approver
                    .groups
                    .iter()
                    .any(|(id, _)| context.resource_owners.contains(id))
        }
        ApproverRow::OnCall { schedules } => schedules.iter().any(|s| {
            context
                .on_call
                .get(s)
                .is_some_and(|users| users.contains(&approver.user_id))
        }),
    }
}

/// The groups (by index) `approver` may approve for; empty when they may not approve at all.
pub fn eligible_groups(groups: &[ApproverGroup], approver: &Facts, context: &ApprovalContext) -> Vec<usize> {
    let is_party = approver.user_id == context.requester_id || approver.user_id == context.grantee.user_id;
    if context.no_self_approval && is_party {
        return Vec::new();
    }
    groups
        .iter()
        .enumerate()
        .filter(|(_, group)| match group.combine {
            Combine::And => !group.rows.is_empty() && group.rows.iter().all(|r| row_holds(r, approver, context)),
            Combine::Or => group.rows.iter().any(|r| row_holds(r, approver, context)),
        })
        .map(|(index, _)| index)
        .collect()
}

/// The people a group can admit, when its rows name them outright (the grantee's manager,
/// whoever is on call): the only ones worth checking. `None` when a row admits by attribute
/// or ownership and everyone must be checked.
pub fn named_candidates(group: &ApproverGroup, context: &ApprovalContext) -> Option<BTreeSet<String>> {
    let row = |row: &ApproverRow| -> Option<BTreeSet<String>> {
        match row {
            ApproverRow::Manager => Some(context.grantee.manager_id.iter().cloned().collect()),
            ApproverRow::OnCall { schedules } => Some(
                schedules
                    .iter()
                    .flat_map(|s| context.on_call.get(s).into_iter().flatten().cloned())
                    .collect(),
            ),
            ApproverRow::Condition { .. } | ApproverRow::ResourceOwner => None,
        }
    };
    match group.combine {
        // Everyone admitted passes every row: one row's people are enough.
        Combine::And => group
            .rows
            .iter()
            .find_map(row)
            .or_else(|| group.rows.is_empty().then(BTreeSet::new)),
        Combine::Or => group.rows.iter().map(row).try_fold(BTreeSet::new(), |mut all, some| {
            all.extend(some?);
            Some(all)
        }),
    }
}

/// One approval as recorded: who, and the groups they were eligible for when they acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cast {
    pub approver_id: String,
    pub groups: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Satisfied,
    /// Per unsatisfied group: its index and how many more distinct approvers it needs.
    Waiting(Vec<(usize, u32)>),
}

pub fn progress(groups: &[ApproverGroup], across: AcrossGroups, casts: &[Cast]) -> Progress {
    let missing: Vec<(usize, u32)> = groups
        .iter()
        .enumerate()
        .filter_map(|(index, group)| {
            let distinct: BTreeSet<&str> = casts
                .iter()
                .filter(|c| c.groups.contains(&index))
                .map(|c| c.approver_id.as_str())
                .collect();
            let have = distinct.len() as u32;
            (have < group.min_approvers).then(|| (index, group.min_approvers - have))
        })
        .collect();
    let satisfied = match across {
        AcrossGroups::AnyOf => missing.len() < groups.len(),
        AcrossGroups::AllOf => missing.is_empty(),
    };
    if satisfied {
        Progress::Satisfied
    } else {
        Progress::Waiting(missing)
    }
}

/// The approver reason rule: required by the flow or not, at most 124 characters.
pub fn check_reason(required: bool, reason: &str) -> Result<(), String> {
    let reason = reason.trim();
    if required && reason.is_empty() {
        return Err("this flow requires a reason from the approver".into());
    }
    if reason.chars().count() > MAX_APPROVER_REASON {
        return Err(format!("must be at most {MAX_APPROVER_REASON} characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use latch_policy::conditions::{Attribute, Operator};
    use proptest::prelude::*;

    use super::*;

    fn person(id: &str, groups: &[&str], manager: Option<&str>) -> Facts {
        Facts {
            user_id: id.into(),
            user_name: id.into(),
            email: format!("{id}@example.com"),
            groups: groups.iter().map(|g| (g.to_string(), g.to_string())).collect(),
            attributes: BTreeMap::new(),
            manager_id: manager.map(Into::into),
        }
    }

    fn group(combine: Combine, rows: Vec<ApproverRow>, min: u32) -> ApproverGroup {
        ApproverGroup {
            combine,
            rows,
            min_approvers: min,
        }
    }

    fn security() -> ApproverRow {
        ApproverRow::Condition {
            attribute: Attribute::Group,
            operator: Operator::Is,
            values: vec!["security".into()],
        }
    }

    fn context() -> ApprovalContext {
        ApprovalContext {
            requester_id: "ada".into(),
            grantee: person("ada", &[], Some("boss")),
            resource_owners: BTreeSet::from(["owner".to_string()]),
            on_call: HashMap::from([("payments-primary".to_string(), vec!["pager".to_string()])]),
            no_self_approval: true,
        }
    }

    #[test]
    fn every_kind_of_row_decides_eligibility() {
        let groups = vec![
            group(Combine::Or, vec![ApproverRow::Manager], 1),
            group(Combine::Or, vec![ApproverRow::ResourceOwner], 1),
            group(
                Combine::Or,
                vec![ApproverRow::OnCall {
                    schedules: vec!["payments-primary".into()],
                }],
                1,
            ),
            group(Combine::And, vec![security(), ApproverRow::Manager], 1),
        ];
        let c = context();
        assert_eq!(eligible_groups(&groups, &person("boss", &[], None), &c), [0]);
        assert_eq!(
            eligible_groups(&groups, &person("boss", &["security"], None), &c),
            [0, 3],
            "AND needs both rows"
        );
        assert_eq!(eligible_groups(&groups, &person("owner", &[], None), &c), [1]);
        assert_eq!(eligible_groups(&groups, &person("pager", &[], None), &c), [2]);
        assert!(eligible_groups(&groups, &person("stranger", &["sales"], None), &c).is_empty());
    }

    #[test]
    fn groups_that_name_their_people_are_checked_for_those_people_only() {
        let c = context();
        let on_call = ApproverRow::OnCall {
            schedules: vec!["payments-primary".into()],
        };
        let named = |rows: Vec<ApproverRow>, combine| named_candidates(&group(combine, rows, 1), &c);
        assert_eq!(
            named(vec![ApproverRow::Manager, on_call.clone()], Combine::Or),
            Some(BTreeSet::from(["boss".to_string(), "pager".to_string()]))
        );
        assert_eq!(named(vec![ApproverRow::Manager, security()], Combine::Or), None);
        assert_eq!(
            named(vec![security(), ApproverRow::Manager], Combine::And),
            Some(BTreeSet::from(["boss".to_string()])),
            "AND: the manager row is enough"
        );
        assert_eq!(named(vec![ApproverRow::ResourceOwner], Combine::Or), None);
        // Whoever the named people are, eligibility still decides: the candidates include
        // everyone eligible_groups admits.
        for approver in ["boss", "pager", "owner", "stranger"] {
            let groups = vec![group(Combine::Or, vec![ApproverRow::Manager, on_call.clone()], 1)];
            let eligible = !eligible_groups(&groups, &person(approver, &[], None), &c).is_empty();
            let candidates = named_candidates(&groups[0], &c).unwrap();
            assert_eq!(eligible, candidates.contains(approver), "{approver}");
        }
    }

    #[test]
    fn requester_and_grantee_cannot_self_approve_when_the_flow_says_so() {
        let groups = vec![group(Combine::Or, vec![security()], 1)];
        let mut c = context();
        let ada = person("ada", &["security"], None);
        assert!(eligible_groups(&groups, &ada, &c).is_empty());
        c.no_self_approval = false;
        assert_eq!(eligible_groups(&groups, &ada, &c), [0]);
    }

    #[test]
    fn any_of_all_of_and_distinct_minimums() {
        let groups = vec![
            group(Combine::Or, vec![security()], 2),
            group(Combine::Or, vec![ApproverRow::Manager], 1),
        ];
        let cast = |who: &str, groups: &[usize]| Cast {
            approver_id: who.into(),
            groups: groups.to_vec(),
        };
        assert_eq!(
            progress(&groups, AcrossGroups::AllOf, &[]),
            Progress::Waiting(vec![(0, 2), (1, 1)])
        );
        let one = [cast("sec1", &[0])];
        assert_eq!(
            progress(&groups, AcrossGroups::AllOf, &one),
            Progress::Waiting(vec![(0, 1), (1, 1)])
        );
        let twice_by_one = [cast("sec1", &[0]), cast("sec1", &[0])];
        assert_eq!(
            progress(&groups, AcrossGroups::AllOf, &twice_by_one),
            Progress::Waiting(vec![(0, 1), (1, 1)]),
            "distinct people"
        );
        let boss = [cast("boss", &[1])];
        assert_eq!(progress(&groups, AcrossGroups::AnyOf, &boss), Progress::Satisfied);
        assert_eq!(
            progress(&groups, AcrossGroups::AllOf, &boss),
            Progress::Waiting(vec![(0, 2)])
        );
        let all = [cast("sec1", &[0]), cast("sec2", &[0]), cast("boss", &[1])];
        assert_eq!(progress(&groups, AcrossGroups::AllOf, &all), Progress::Satisfied);
    }

    #[test]
    fn reasons_are_checked() {
        assert!(check_reason(true, "  ").is_err());
        assert!(check_reason(false, "").is_ok());
        assert!(check_reason(false, &"x".repeat(124)).is_ok());
        assert!(check_reason(false, &"x".repeat(125)).is_err());
    }

    proptest! {
        /// More approvals never undo progress, and ALL OF is never satisfied before ANY OF.
        #[test]
        fn progress_is_monotonic(mins in prop::collection::vec(1u32..3, 1..4), casts in prop::collection::vec((0u8..5, prop::collection::vec(0usize..4, 0..3)), 0..10)) {
            let groups: Vec<ApproverGroup> = mins.iter().map(|m| group(Combine::Or, vec![ApproverRow::Manager], *m)).collect();
            let casts: Vec<Cast> = casts.into_iter().map(|(who, gs)| Cast { approver_id: format!("u{who}"), groups: gs.into_iter().filter(|g| *g < groups.len()).collect() }).collect();
            let mut any_before = false;
            let mut all_before = false;
            for n in 0..=casts.len() {
                let any = progress(&groups, AcrossGroups::AnyOf, &casts[..n]) == Progress::Satisfied;
                let all = progress(&groups, AcrossGroups::AllOf, &casts[..n]) == Progress::Satisfied;
                prop_assert!(!any_before || any);
                prop_assert!(!all_before || all);
                prop_assert!(!all || any);
                any_before = any;
                all_before = all;
            }
        }
    }
}
