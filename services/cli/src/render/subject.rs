//! Who a user is to policy (ResolveSubject), and who the caller is (WhoAmI).

use latch_proto::identity::v1::{Subject, WhoAmIResponse};
use serde::Serialize;

use super::group::{GroupRefView, group_refs_table};
use super::role_names;
use super::schedule::{ScheduleRefView, schedule_refs_table};
use super::user::{UserRefView, UserView, details_rows, user_ref_text, user_refs_table};
use crate::output::{details, render};

#[derive(Debug, Serialize)]
pub struct SubjectView {
    pub user: Option<UserView>,
    pub groups: Vec<GroupRefView>,
    pub manager: Option<UserRefView>,
    pub direct_reports: Vec<UserRefView>,
    pub on_call: Vec<ScheduleRefView>,
    pub as_of_sequence: i64,
}

impl From<&Subject> for SubjectView {
    fn from(subject: &Subject) -> Self {
        Self {
            user: subject.user.as_ref().map(UserView::from),
            groups: subject.groups.iter().map(GroupRefView::from).collect(),
            manager: subject.manager.as_ref().map(UserRefView::from),
            direct_reports: subject.direct_reports.iter().map(UserRefView::from).collect(),
            on_call: subject.on_call.iter().map(ScheduleRefView::from).collect(),
            as_of_sequence: subject.as_of_sequence,
        }
    }
}

pub fn subject_text(subject: &Subject) -> String {
    let mut sections = Vec::new();
    if let Some(user) = &subject.user {
        sections.push(render(&details(details_rows(user))));
    }
    let manager = subject
        .manager
        .as_ref()
        .map_or_else(|| "none".to_string(), user_ref_text);
    sections.push(format!("manager: {manager}"));
    sections.push(section("groups", subject.groups.len(), || {
        group_refs_table(&subject.groups)
    }));
    sections.push(section("direct reports", subject.direct_reports.len(), || {
        user_refs_table(&subject.direct_reports)
    }));
    sections.push(section("on call for", subject.on_call.len(), || {
        schedule_refs_table(&subject.on_call)
    }));
    sections.push(format!("as of change {}", subject.as_of_sequence));
    sections.join("\n\n")
}

fn section(title: &str, count: usize, table: impl FnOnce() -> String) -> String {
    if count == 0 {
        return format!("{title}: none");
    }
    format!("{title} ({count}):\n{}", table())
}

#[derive(Debug, Serialize)]
pub struct WhoAmIView {
    pub user: Option<UserView>,
    pub roles: Vec<String>,
    pub token_id: String,
}

impl From<&WhoAmIResponse> for WhoAmIView {
    fn from(who: &WhoAmIResponse) -> Self {
        Self {
            user: who.user.as_ref().map(UserView::from),
            roles: role_names(&who.roles),
            token_id: who.token_id.clone(),
        }
    }
}

pub fn who_am_i_text(who: &WhoAmIResponse) -> String {
    let user = who.user.clone().unwrap_or_default();
    render(&details(vec![
        ("user name", user.user_name),
        ("id", user.id),
        ("display name", user.display_name),
        ("roles", role_names(&who.roles).join(", ")),
        ("token id", who.token_id.clone()),
    ]))
}
