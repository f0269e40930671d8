//! Groups, their members and group references.

use latch_proto::identity::v1::{Group, GroupMember, GroupRef, group_member};
use serde::Serialize;

use super::{enum_name, optional};
use crate::output::{details, render, table};
use crate::timestamp;

#[derive(Debug, Serialize)]
pub struct GroupView {
    pub name: String,
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: Vec<MemberView>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
    pub etag: String,
}

impl From<&Group> for GroupView {
    fn from(group: &Group) -> Self {
        Self {
            name: group.name.clone(),
            id: group.id.clone(),
            display_name: group.display_name.clone(),
            external_id: optional(&group.external_id),
            members: group.members.iter().map(MemberView::from).collect(),
            create_time: timestamp::format_optional(group.create_time.as_ref()),
            update_time: timestamp::format_optional(group.update_time.as_ref()),
            etag: group.etag.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct MemberView {
    pub kind: String,
    pub id: String,
    pub display: String,
}

impl From<&GroupMember> for MemberView {
    fn from(member: &GroupMember) -> Self {
        Self {
            kind: member_kind(member.kind),
            id: member.id.clone(),
            display: member.display.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct GroupRefView {
    pub id: String,
    pub display_name: String,
}

impl From<&GroupRef> for GroupRefView {
    fn from(group: &GroupRef) -> Self {
        Self {
            id: group.id.clone(),
            display_name: group.display_name.clone(),
        }
    }
}

pub fn member_kind(kind: i32) -> String {
    enum_name(
        group_member::Kind::try_from(kind).ok().map(|kind| kind.as_str_name()),
        "KIND_",
        kind,
    )
}

pub fn groups_table(groups: &[Group]) -> String {
    let mut rows = table(["id", "name", "members", "external id", "updated"]);
    for group in groups {
        rows.add_row(vec![
            group.id.clone(),
            group.display_name.clone(),
            group.members.len().to_string(),
            group.external_id.clone(),
            timestamp::format(group.update_time.as_ref()),
        ]);
    }
    render(&rows)
}

/// The group's fields, then its members.
pub fn group_details(group: &Group) -> String {
    let fields = details(vec![
        ("id", group.id.clone()),
        ("name", group.display_name.clone()),
        ("external id", group.external_id.clone()),
        ("created", timestamp::format(group.create_time.as_ref())),
        ("updated", timestamp::format(group.update_time.as_ref())),
        ("etag", group.etag.clone()),
    ]);
    if group.members.is_empty() {
        return format!("{}\n\nno members", render(&fields));
    }
    let mut members = table(["kind", "id", "name"]);
    for member in &group.members {
        members.add_row(vec![
            member_kind(member.kind),
            member.id.clone(),
            member.display.clone(),
        ]);
    }
    format!(
        "{}\n\nmembers ({}):\n{}",
        render(&fields),
        group.members.len(),
        render(&members)
    )
}

pub fn group_refs_table(groups: &[GroupRef]) -> String {
    let mut rows = table(["id", "name"]);
    for group in groups {
        rows.add_row(vec![group.id.clone(), group.display_name.clone()]);
    }
    render(&rows)
}
