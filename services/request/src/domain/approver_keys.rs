//! The approver index: keys under which a pending request waits, and the keys a person holds.
//!
//! A request waiting for approval is stored under every key that an eligible approver must hold
//! (for each approver group, at least one). `ListApprovals` then reads only the requests under
//! the caller's keys and checks each exactly with [`super::approval::eligible_groups`]; the keys
//! never admit anyone, they only keep the listing from scanning every pending request. A row
//! no key can narrow (an "is not" or "contains" condition) is stored under [`ANY`], which every
//! caller holds.

use std::collections::BTreeSet;

use latch_policy::approval::{ApproverGroup, ApproverRow};
use latch_policy::conditions::{Attribute, Combine, Facts, Operator};

/// Held by everyone: rows that no key can narrow.
pub const ANY: &str = "any";
/// Prefix of on-call keys (`oncall:<schedule as written in the flow>`).
pub const ON_CALL: &str = "oncall:";

fn attribute_key(attribute: &Attribute, value: &str) -> String {
    format!("attr:{}={}", attribute.label(), value.to_lowercase())
}

fn manager_key(grantee_id: &str) -> String {
    format!("manager_of:{grantee_id}")
}

fn owner_key(id: &str) -> String {
    format!("owner:{id}")
}

/// The keys of one row: one of them is held by anyone the row admits; `None` when no key can
/// narrow it.
fn row_keys(row: &ApproverRow, grantee_id: &str, owners: &BTreeSet<String>) -> Option<Vec<String>> {
    Some(match row {
        ApproverRow::Condition {
            attribute,
            operator: Operator::Is,
            values,
        } => values.iter().map(|v| attribute_key(attribute, v)).collect(),
        ApproverRow::Condition { .. } => return None,
        ApproverRow::Manager => vec![manager_key(grantee_id)],
        ApproverRow::ResourceOwner => owners.iter().map(|o| owner_key(o)).collect(),
        ApproverRow::OnCall { schedules } => schedules.iter().map(|s| format!("{ON_CALL}{s}")).collect(),
    })
}

/// The keys a pending request is stored under, given its approver groups, its grantee and the
/// owners (user and group ids) of its resources.
pub fn request_keys(groups: &[ApproverGroup], grantee_id: &str, owners: &BTreeSet<String>) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for group in groups {
        let rows = group.rows.iter().map(|r| row_keys(r, grantee_id, owners));
        match group.combine {
            // Everyone eligible holds a key of every row: the row with the fewest keys will do.
            Combine::And => {
                if let Some(fewest) = rows.flatten().min_by_key(Vec::len) {
                    keys.extend(fewest);
                } else if !group.rows.is_empty() {
                    keys.insert(ANY.to_string());
                }
            }
            // Anyone eligible holds a key of some row.
            Combine::Or => {
                for row in rows {
                    match row {
                        Some(row) => keys.extend(row),
                        None => {
                            keys.insert(ANY.to_string());
                        }
                    }
                }
            }
        }
    }
    keys
}

/// The keys `me` holds: my identity and attributes, the people I manage, the schedules I am on
/// call for now.
pub fn person_keys(me: &Facts, reports: &[String], on_call: &[String]) -> BTreeSet<String> {
    let mut keys = BTreeSet::from([ANY.to_string()]);
    for attribute in [Attribute::User, Attribute::Group] {
        keys.extend(me.values(&attribute).iter().map(|v| attribute_key(&attribute, v)));
    }
    for (name, values) in &me.attributes {
        let attribute = Attribute::Named(name.clone());
        keys.extend(values.iter().map(|v| attribute_key(&attribute, v)));
    }
    keys.extend(reports.iter().map(|r| manager_key(r)));
    keys.insert(owner_key(&me.user_id));
    keys.extend(me.groups.iter().map(|(id, _)| owner_key(id)));
    keys.extend(on_call.iter().map(|s| format!("{ON_CALL}{s}")));
    keys
}

#[cfg(test)]
mod tests;
