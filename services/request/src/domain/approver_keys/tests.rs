use std::collections::{BTreeMap, HashMap};

use latch_policy::approval::ApproverGroup;
use proptest::prelude::*;

use super::*;
use crate::domain::approval::{ApprovalContext, eligible_groups};

const PEOPLE: [&str; 4] = ["ada", "bob", "cy", "dee"];
const GROUPS: [&str; 3] = ["sre", "security", "dba"];
const DEPARTMENTS: [&str; 2] = ["Engineering", "Sales"];

fn person(id: usize, groups: &[usize], department: usize, manager: Option<usize>) -> Facts {
    Facts {
        user_id: format!("id-{}", PEOPLE[id]),
        user_name: PEOPLE[id].to_string(),
        email: format!("{}@example.com", PEOPLE[id]),
        groups: groups
            .iter()
            .map(|g| (format!("gid-{}", GROUPS[*g]), GROUPS[*g].to_string()))
            .collect(),
        attributes: BTreeMap::from([("department".to_string(), vec![DEPARTMENTS[department].to_string()])]),
        manager_id: manager.map(|m| format!("id-{}", PEOPLE[m])),
    }
}

fn row() -> impl Strategy<Value = ApproverRow> {
    let operator = prop_oneof![
        Just(Operator::Is),
        Just(Operator::IsNot),
        Just(Operator::Contains),
        Just(Operator::StartsWith),
    ];
    let condition =
        (0..3usize, operator, prop::collection::vec(0..4usize, 1..3)).prop_map(|(kind, operator, picks)| {
            let (attribute, values) = match kind {
                0 => (
                    Attribute::User,
                    picks.iter().map(|p| PEOPLE[*p].to_uppercase()).collect(),
                ),
                1 => (
                    Attribute::Group,
                    picks.iter().map(|p| GROUPS[p % 3].to_string()).collect(),
                ),
                _ => (
                    Attribute::Named("department".into()),
                    picks.iter().map(|p| DEPARTMENTS[p % 2].to_lowercase()).collect(),
                ),
            };
            ApproverRow::Condition {
                attribute,
                operator,
                values,
            }
        });
    prop_oneof![
        condition,
        Just(ApproverRow::Manager),
        Just(ApproverRow::ResourceOwner),
        Just(ApproverRow::OnCall {
            schedules: vec!["primary".into()]
        }),
    ]
}

fn group() -> impl Strategy<Value = ApproverGroup> {
    (any::<bool>(), prop::collection::vec(row(), 0..4)).prop_map(|(and, rows)| ApproverGroup {
        combine: if and { Combine::And } else { Combine::Or },
        rows,
        min_approvers: 1,
    })
}

proptest! {
    /// The index never hides a request from someone who may approve it.
    #[test]
    fn whoever_is_eligible_holds_one_of_the_requests_keys(
        groups in prop::collection::vec(group(), 1..4),
        approver in 0..4usize,
        approver_groups in prop::collection::vec(0..3usize, 0..3),
        department in 0..2usize,
        grantee in 0..4usize,
        grantee_manager in prop::option::of(0..4usize),
        owner_is_group in any::<bool>(),
        owner in 0..3usize,
        on_call in any::<bool>(),
    ) {
        let me = person(approver, &approver_groups, department, None);
        let grantee_facts = person(grantee, &[], 0, grantee_manager);
        let owner_id = if owner_is_group { format!("gid-{}", GROUPS[owner]) } else { format!("id-{}", PEOPLE[owner]) };
        let owners = BTreeSet::from([owner_id]);
        let context = ApprovalContext {
            requester_id: grantee_facts.user_id.clone(),
            grantee: grantee_facts.clone(),
            resource_owners: owners.clone(),
            on_call: HashMap::from([("primary".to_string(), if on_call { vec![me.user_id.clone()] } else { vec![] })]),
            no_self_approval: false,
        };
        let eligible = !eligible_groups(&groups, &me, &context).is_empty();
        let stored = request_keys(&groups, &grantee_facts.user_id, &owners);
        let reports: Vec<String> = if grantee_facts.manager_id.as_deref() == Some(me.user_id.as_str()) {
            vec![grantee_facts.user_id.clone()]
        } else {
            vec![]
        };
        let schedules: Vec<String> = if on_call { vec!["primary".into()] } else { vec![] };
        let held = person_keys(&me, &reports, &schedules);
        if eligible {
            prop_assert!(stored.intersection(&held).next().is_some(), "stored {stored:?}, held {held:?}");
        }
    }
}

#[test]
fn a_manager_group_is_found_under_the_grantee_and_a_negated_row_under_any() {
    let manager = ApproverGroup {
        combine: Combine::Or,
        rows: vec![ApproverRow::Manager],
        min_approvers: 1,
    };
    assert_eq!(
        request_keys(std::slice::from_ref(&manager), "u1", &BTreeSet::new()),
        BTreeSet::from(["manager_of:u1".to_string()])
    );
    let negated = ApproverGroup {
        combine: Combine::Or,
        rows: vec![ApproverRow::Condition {
            attribute: Attribute::Group,
            operator: Operator::IsNot,
            values: vec!["sales".into()],
        }],
        min_approvers: 1,
    };
    assert!(request_keys(&[negated], "u1", &BTreeSet::new()).contains(ANY));
    let me = person(0, &[1], 0, None);
    let held = person_keys(&me, &["u1".to_string()], &[]);
    assert!(held.contains("manager_of:u1"));
    assert!(held.contains("attr:group=security"));
    assert!(held.contains("attr:department=engineering"));
    assert!(held.contains(ANY));
}
