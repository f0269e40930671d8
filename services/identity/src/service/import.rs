//! Directory import: a YAML (or JSON) document of users, groups and schedules applied
//! idempotently. Users are matched by user name, groups and schedules by name; a listed group's
//! members are set to exactly the listed ones.

use std::collections::{BTreeMap, HashSet};

use latch_runtime::document::{self, Limits};
use latch_runtime::{FieldViolation, ServiceError, ServiceResult};
use serde::Deserialize;

use super::IdentityService;
use super::groups::GroupDraft;
use super::schedules::ScheduleDraft;
use crate::domain::group::{Member, MemberKind};
use crate::domain::user::UserDraft;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportDocument {
    #[serde(default)]
    pub users: Vec<ImportUser>,
    #[serde(default)]
    pub groups: Vec<ImportGroup>,
    #[serde(default)]
    pub schedules: Vec<ImportSchedule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportUser {
    pub user_name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default = "yes")]
    pub active: bool,
    /// The manager's user name.
    #[serde(default)]
    pub manager: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    /// A value or a list of values per key.
    #[serde(default)]
    pub attributes: BTreeMap<String, OneOrMany>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportGroup {
    pub name: String,
    /// Member user names.
    #[serde(default)]
    pub members: Vec<String>,
    /// Names of nested member groups.
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportSchedule {
    pub name: String,
    pub time_zone: String,
    pub shift_hours: u32,
    pub handoff_time: String,
    pub start_date: String,
    /// User names in rotation order.
    pub members: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub created: Vec<String>,
    pub changed: Vec<String>,
    pub unchanged: usize,
}

impl ImportReport {
    fn note(&mut self, what: String, existed: bool, changed: bool) {
        match (existed, changed) {
            (false, _) => self.created.push(what),
            (true, true) => self.changed.push(what),
            (true, false) => self.unchanged += 1,
        }
    }
}

/// Parses YAML (JSON is YAML too), strictly and within the bulk document limits; errors name
/// the field path.
pub fn parse_import_document(text: &str) -> ServiceResult<ImportDocument> {
    document::parse("document", text, Limits::BULK)
}

/// [`parse_import_document`] off the async runtime.
pub async fn parse_import_document_blocking(text: &str) -> ServiceResult<ImportDocument> {
    document::parse_blocking("document", text.to_string(), Limits::BULK).await
}

impl IdentityService {
    pub async fn import_directory(
        &self,
        actor: &str,
        document: &ImportDocument,
        dry_run: bool,
    ) -> ServiceResult<ImportReport> {
        self.check_import_references(document)?;
        let mut report = ImportReport::default();
        // Users first without managers (a manager may be later in the document), then managers.
        let mut manager_pass = Vec::new();
        for (index, user) in document.users.iter().enumerate() {
            let existing = self.directory().find_user(&user.user_name).cloned();
            let mut draft = UserDraft {
                user_name: user.user_name.clone(),
                email: user.email.clone(),
                display_name: user.display_name.clone(),
                active: user.active,
                attributes: user
                    .attributes
                    .iter()
                    .map(|(k, v)| {
                        let values = match v {
                            OneOrMany::One(one) => vec![one.clone()],
                            OneOrMany::Many(many) => many.clone(),
                        };
                        (k.clone(), values)
                    })
                    .collect(),
                manager_id: existing.as_ref().and_then(|u| u.manager_id.clone()),
                external_id: user.external_id.clone(),
                scim_extra: existing.as_ref().map(|u| u.scim_extra.clone()).unwrap_or_default(),
            }
            .normalized();
            let violations = draft.validate(&format!("users[{index}]"));
            if !violations.is_empty() {
                return Err(ServiceError::InvalidArgument(violations));
            }
            if user.manager.is_some() {
                manager_pass.push(index);
            }
            let label = format!("user {}", draft.user_name);
            match existing {
                Some(current) => {
                    let same = current.email == draft.email
                        && current.display_name == draft.display_name
                        && current.active == draft.active
                        && current.attributes == draft.attributes
                        && current.external_id == draft.external_id;
                    if !same && !dry_run {
                        draft.manager_id = current.manager_id.clone();
                        self.replace_user(actor, &current.id, draft, Some(current.version))
                            .await?;
                    }
                    report.note(label, true, !same);
                }
                None => {
                    if !dry_run {
                        draft.manager_id = None;
                        self.create_user(actor, draft, "").await?;
                    }
                    report.note(label, false, true);
                }
            }
        }
        for index in manager_pass {
            let user = &document.users[index];
            let Some(manager_name) = &user.manager else { continue };
            let (subject, manager) = {
                let directory = self.directory();
                (
                    directory.find_user(&user.user_name).cloned(),
                    directory.find_user(manager_name).cloned(),
                )
            };
            let (Some(subject), Some(manager)) = (subject, manager) else {
                continue; // dry run: not created yet
            };
            if subject.manager_id.as_deref() != Some(manager.id.as_str()) {
                let label = format!("user {}", subject.user_name);
                if !report.created.contains(&label) && !report.changed.contains(&label) {
                    report.unchanged = report.unchanged.saturating_sub(1);
                    report.changed.push(label);
                }
                if !dry_run {
                    let mut draft = draft_of(&subject);
                    draft.manager_id = Some(manager.id.clone());
                    self.replace_user(actor, &subject.id, draft, Some(subject.version))
                        .await?;
                }
            }
        }
        // Groups: create all first so nesting can refer to any of them, then set members.
        let mut new_groups = HashSet::new();
        for group in &document.groups {
            if self.directory().find_group(&group.name).is_none() {
                new_groups.insert(group.name.trim().to_lowercase());
                if !dry_run {
                    let draft = GroupDraft {
                        display_name: group.name.clone(),
                        external_id: None,
                        members: None,
                    };
                    self.create_group(actor, draft, "").await?;
                }
            }
        }
        for group in &document.groups {
            let label = format!("group {}", group.name);
            let Some(current) = self.directory().find_group(&group.name).cloned() else {
                report.note(label, false, true);
                continue;
            };
            let wanted = {
                let directory = self.directory();
                let users = group
                    .members
                    .iter()
                    .filter_map(|n| directory.find_user(n))
                    .map(|u| Member {
                        kind: MemberKind::User,
                        id: u.id.clone(),
                    });
                let groups = group
                    .groups
                    .iter()
                    .filter_map(|n| directory.find_group(n))
                    .map(|g| Member {
                        kind: MemberKind::Group,
                        id: g.id.clone(),
                    });
                users.chain(groups).collect::<Vec<_>>()
            };
            let (users, groups) = self.directory().members(&current.id);
            let have: HashSet<&String> = users.iter().chain(groups.iter()).collect();
            let want: HashSet<&String> = wanted.iter().map(|m| &m.id).collect();
            let differs = have != want;
            if differs && !dry_run {
                let draft = GroupDraft {
                    display_name: current.display_name.clone(),
                    external_id: current.external_id.clone(),
                    members: Some(wanted),
                };
                self.replace_group(actor, &current.id, draft, Some(current.version))
                    .await?;
            }
            report.note(label, !new_groups.contains(&group.name.trim().to_lowercase()), differs);
        }
        for schedule in &document.schedules {
            let members: Vec<String> = {
                let directory = self.directory();
                schedule
                    .members
                    .iter()
                    .filter_map(|n| directory.find_user(n).map(|u| u.id.clone()))
                    .collect()
            };
            let draft = ScheduleDraft {
                display_name: schedule.name.clone(),
                time_zone: schedule.time_zone.clone(),
                members,
                shift_hours: schedule.shift_hours,
                handoff_time: schedule.handoff_time.clone(),
                start_date: schedule.start_date.clone(),
            };
            let existing = self.directory().find_schedule(&schedule.name).cloned();
            let label = format!("schedule {}", schedule.name);
            let changed = existing.as_ref().is_none_or(|current| {
                current.time_zone != draft.time_zone
                    || current.members != draft.members
                    || current.shift_hours != draft.shift_hours
                    || current.handoff_time != draft.handoff_time
                    || current.start_date != draft.start_date
            });
            if changed && !dry_run {
                self.put_schedule(actor, existing.as_ref().map(|s| s.id.as_str()), draft, "", None)
                    .await?;
            }
            report.note(label, existing.is_some(), changed);
        }
        Ok(report)
    }

    /// Every user and group a document names must exist in it or in the directory, so an import
    /// does not stop half-way over a typo.
    fn check_import_references(&self, document: &ImportDocument) -> ServiceResult<()> {
        let directory = self.directory();
        let users: HashSet<String> = document
            .users
            .iter()
            .map(|u| u.user_name.trim().to_lowercase())
            .collect();
        let groups: HashSet<String> = document.groups.iter().map(|g| g.name.trim().to_lowercase()).collect();
        let user_known =
            |name: &str| users.contains(&name.trim().to_lowercase()) || directory.find_user(name).is_some();
        let group_known =
            |name: &str| groups.contains(&name.trim().to_lowercase()) || directory.find_group(name).is_some();
        let mut violations = Vec::new();
        for (i, user) in document.users.iter().enumerate() {
            if let Some(manager) = &user.manager
                && !user_known(manager)
            {
                violations.push(FieldViolation::new(
                    format!("users[{i}].manager"),
                    format!("no user named {manager:?}"),
                ));
            }
        }
        for (i, group) in document.groups.iter().enumerate() {
            for (j, member) in group.members.iter().enumerate() {
                if !user_known(member) {
                    violations.push(FieldViolation::new(
                        format!("groups[{i}].members[{j}]"),
                        format!("no user named {member:?}"),
                    ));
                }
            }
            for (j, nested) in group.groups.iter().enumerate() {
                if !group_known(nested) {
                    violations.push(FieldViolation::new(
                        format!("groups[{i}].groups[{j}]"),
                        format!("no group named {nested:?}"),
                    ));
                }
            }
        }
        for (i, schedule) in document.schedules.iter().enumerate() {
            for (j, member) in schedule.members.iter().enumerate() {
                if !user_known(member) {
                    violations.push(FieldViolation::new(
                        format!("schedules[{i}].members[{j}]"),
                        format!("no user named {member:?}"),
                    ));
                }
            }
        }
        violations.extend(nesting_cycles(document, &directory));
        violations.extend(manager_loops(document, &directory));
        // Values are checked here too, so that a bad entry late in the document stops the
        // import before anything is written.
        for (i, user) in document.users.iter().enumerate() {
            let draft = UserDraft {
                user_name: user.user_name.clone(),
                email: user.email.clone(),
                display_name: user.display_name.clone(),
                attributes: user
                    .attributes
                    .iter()
                    .map(|(k, v)| match v {
                        OneOrMany::One(one) => (k.clone(), vec![one.clone()]),
                        OneOrMany::Many(many) => (k.clone(), many.clone()),
                    })
                    .collect(),
                ..UserDraft::default()
            };
            violations.extend(draft.validate(&format!("users[{i}]")));
        }
        for (i, schedule) in document.schedules.iter().enumerate() {
            let record = crate::domain::schedule::ScheduleRecord {
                id: String::new(),
                display_name: schedule.name.clone(),
                time_zone: schedule.time_zone.clone(),
                members: schedule.members.clone(),
                shift_hours: schedule.shift_hours,
                handoff_time: schedule.handoff_time.clone(),
                start_date: schedule.start_date.clone(),
                overrides: Vec::new(),
                created_at: self.now(),
                updated_at: self.now(),
                version: 0,
            };
            if let Err(errors) = record.rotation() {
                violations.extend(errors.into_iter().map(|v| {
                    FieldViolation::new(v.field.replacen("schedule.", &format!("schedules[{i}]."), 1), v.rule)
                }));
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::InvalidArgument(violations))
        }
    }
}

/// The settable fields of a stored user.
pub fn draft_of(user: &crate::domain::user::User) -> UserDraft {
    UserDraft {
        user_name: user.user_name.clone(),
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        active: user.active,
        attributes: user.attributes.clone(),
        manager_id: user.manager_id.clone(),
        external_id: user.external_id.clone(),
        scim_extra: user.scim_extra.clone(),
    }
}

/// Group nesting after the import (the document's groups as listed, the others as they are)
/// must stay free of cycles.
fn nesting_cycles(document: &ImportDocument, directory: &crate::domain::directory::Directory) -> Vec<FieldViolation> {
    use std::collections::HashMap;
    let key = |name: &str| name.trim().to_lowercase();
    let mut children: HashMap<String, Vec<String>> = HashMap::new();
    for group in directory.groups_sorted() {
        let (_, nested) = directory.members(&group.id);
        let names = nested
            .iter()
            .filter_map(|id| directory.group(id))
            .map(|g| key(&g.display_name))
            .collect();
        children.insert(key(&group.display_name), names);
    }
    for group in &document.groups {
        children.insert(key(&group.name), group.groups.iter().map(|g| key(g)).collect());
    }
    let mut violations = Vec::new();
    for (i, group) in document.groups.iter().enumerate() {
        // Does any nested group lead back to this one?
        let start = key(&group.name);
        let mut stack: Vec<String> = children.get(&start).cloned().unwrap_or_default();
        let mut seen = HashSet::new();
        while let Some(next) = stack.pop() {
            if next == start {
                violations.push(FieldViolation::new(
                    format!("groups[{i}].groups"),
                    "nesting would make a cycle",
                ));
                break;
            }
            if seen.insert(next.clone()) {
                stack.extend(children.get(&next).cloned().unwrap_or_default());
            }
        }
    }
    violations
}

/// Nobody may end up their own (indirect) manager.
fn manager_loops(document: &ImportDocument, directory: &crate::domain::directory::Directory) -> Vec<FieldViolation> {
    use std::collections::HashMap;
    let key = |name: &str| name.trim().to_lowercase();
    let mut manager_of: HashMap<String, String> = HashMap::new();
    for user in directory.users_sorted() {
        if let Some(manager) = user.manager_id.as_deref().and_then(|id| directory.user(id)) {
            manager_of.insert(key(&user.user_name), key(&manager.user_name));
        }
    }
    // A user listed without a manager keeps the one they have.
    for user in &document.users {
        if let Some(manager) = &user.manager {
            manager_of.insert(key(&user.user_name), key(manager));
        }
    }
    let mut violations = Vec::new();
    for (i, user) in document.users.iter().enumerate() {
        let start = key(&user.user_name);
        let mut current = manager_of.get(&start);
        let mut steps = 0;
        while let Some(next) = current {
            if *next == start {
                violations.push(FieldViolation::new(
                    format!("users[{i}].manager"),
                    "would make the user their own (indirect) manager",
                ));
                break;
            }
            steps += 1;
            if steps > manager_of.len() {
                break;
            }
            current = manager_of.get(next);
        }
    }
    violations
}
