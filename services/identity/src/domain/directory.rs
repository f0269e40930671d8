//! The directory read model: users, groups, nesting, managers and schedules in memory, built
//! from the tables at start and kept current by applying the change feed in order. Every read of
//! the identity context (and subject resolution in particular) is served from here.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::change::{Change, ChangeKind, ChangePayload};
use super::group::{Group, MemberKind, display_name_key};
use super::oncall::{self, OnCall, Override, Rotation};
use super::schedule::ScheduleRecord;
use super::user::{User, user_name_key};

/// Roles as the directory computes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoleName {
    User,
    Auditor,
    Admin,
}

impl RoleName {
    pub fn as_str(self) -> &'static str {
        match self {
            RoleName::User => "user",
            RoleName::Auditor => "auditor",
            RoleName::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(RoleName::User),
            "auditor" => Some(RoleName::Auditor),
            "admin" => Some(RoleName::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct GroupNode {
    group: Arc<Group>,
    /// Groups that contain this group directly.
    parents: BTreeSet<String>,
    member_users: BTreeSet<String>,
    member_groups: BTreeSet<String>,
}

#[derive(Debug, Clone)]
struct ScheduleNode {
    record: Arc<ScheduleRecord>,
    /// `None` when the stored rotation cannot be read (never written by this version).
    rotation: Option<Rotation>,
    overrides: Vec<Override>,
}

/// Everything policy evaluation needs about one user.
#[derive(Debug, Clone)]
pub struct SubjectView {
    pub user: Arc<User>,
    pub roles: Vec<RoleName>,
    pub groups: Vec<Arc<Group>>,
    pub manager: Option<Arc<User>>,
    pub direct_reports: Vec<Arc<User>>,
    pub on_call: Vec<Arc<ScheduleRecord>>,
    pub as_of_sequence: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Directory {
    sequence: i64,
    admin_group: String,
    auditor_group: String,
    users: HashMap<String, Arc<User>>,
    user_ids_by_name: HashMap<String, String>,
    groups: HashMap<String, GroupNode>,
    group_ids_by_name: HashMap<String, String>,
    /// Direct memberships of each user.
    user_groups: HashMap<String, BTreeSet<String>>,
    reports: HashMap<String, BTreeSet<String>>,
    schedules: HashMap<String, ScheduleNode>,
    schedule_ids_by_name: HashMap<String, String>,
    /// The schedules each user appears in (rotation or override), so on-call lookup for one
    /// user does not scan every schedule.
    schedules_by_user: HashMap<String, BTreeSet<String>>,
}

impl Directory {
    /// An empty directory; `admin_group` and `auditor_group` are display names from config.
    pub fn new(admin_group: &str, auditor_group: &str) -> Self {
        Self {
            admin_group: display_name_key(admin_group),
            auditor_group: display_name_key(auditor_group),
            ..Self::default()
        }
    }

    pub fn sequence(&self) -> i64 {
        self.sequence
    }

    pub fn set_sequence(&mut self, sequence: i64) {
        self.sequence = sequence;
    }

    // ---- loading and applying changes -------------------------------------------------------

    pub fn upsert_user(&mut self, user: User) {
        if let Some(previous) = self.users.get(&user.id).cloned() {
            self.user_ids_by_name.remove(&user_name_key(&previous.user_name));
            if let Some(manager) = &previous.manager_id
                && let Some(reports) = self.reports.get_mut(manager)
            {
                reports.remove(&user.id);
            }
        }
        self.user_ids_by_name
            .insert(user_name_key(&user.user_name), user.id.clone());
        if let Some(manager) = &user.manager_id {
            self.reports.entry(manager.clone()).or_default().insert(user.id.clone());
        }
        self.users.insert(user.id.clone(), Arc::new(user));
    }

    pub fn remove_user(&mut self, id: &str) {
        let Some(user) = self.users.remove(id) else {
            return;
        };
        self.user_ids_by_name.remove(&user_name_key(&user.user_name));
        if let Some(manager) = &user.manager_id
            && let Some(reports) = self.reports.get_mut(manager)
        {
            reports.remove(id);
        }
        for group_id in self.user_groups.remove(id).unwrap_or_default() {
            if let Some(node) = self.groups.get_mut(&group_id) {
                node.member_users.remove(id);
            }
        }
        self.reports.remove(id);
    }

    pub fn upsert_group(&mut self, group: Group) {
        let key = display_name_key(&group.display_name);
        match self.groups.get_mut(&group.id) {
            Some(node) => {
                let old_key = display_name_key(&node.group.display_name);
                self.group_ids_by_name.remove(&old_key);
                node.group = Arc::new(group.clone());
            }
            None => {
                self.groups.insert(
                    group.id.clone(),
                    GroupNode {
                        group: Arc::new(group.clone()),
                        parents: BTreeSet::new(),
                        member_users: BTreeSet::new(),
                        member_groups: BTreeSet::new(),
                    },
                );
            }
        }
        self.group_ids_by_name.insert(key, group.id);
    }

    pub fn remove_group(&mut self, id: &str) {
        let Some(node) = self.groups.remove(id) else {
            return;
        };
        self.group_ids_by_name
            .remove(&display_name_key(&node.group.display_name));
        for user in &node.member_users {
            if let Some(groups) = self.user_groups.get_mut(user) {
                groups.remove(id);
            }
        }
        for child in &node.member_groups {
            if let Some(child) = self.groups.get_mut(child) {
                child.parents.remove(id);
            }
        }
        for parent in &node.parents {
            if let Some(parent) = self.groups.get_mut(parent) {
                parent.member_groups.remove(id);
            }
        }
    }

    pub fn add_member(&mut self, group_id: &str, kind: MemberKind, member_id: &str) {
        let Some(node) = self.groups.get_mut(group_id) else {
            return;
        };
        match kind {
            MemberKind::User => {
                node.member_users.insert(member_id.to_string());
                self.user_groups
                    .entry(member_id.to_string())
                    .or_default()
                    .insert(group_id.to_string());
            }
            MemberKind::Group => {
                node.member_groups.insert(member_id.to_string());
                if let Some(child) = self.groups.get_mut(member_id) {
                    child.parents.insert(group_id.to_string());
                }
            }
        }
    }

    pub fn remove_member(&mut self, group_id: &str, kind: MemberKind, member_id: &str) {
        if let Some(node) = self.groups.get_mut(group_id) {
            match kind {
                MemberKind::User => {
                    node.member_users.remove(member_id);
                }
                MemberKind::Group => {
                    node.member_groups.remove(member_id);
                }
            }
        }
        match kind {
            MemberKind::User => {
                if let Some(groups) = self.user_groups.get_mut(member_id) {
                    groups.remove(group_id);
                }
            }
            MemberKind::Group => {
                if let Some(child) = self.groups.get_mut(member_id) {
                    child.parents.remove(group_id);
                }
            }
        }
    }

    pub fn upsert_schedule(&mut self, record: ScheduleRecord) {
        self.remove_schedule(&record.id);
        for user in record.members.iter().chain(record.overrides.iter().map(|o| &o.user_id)) {
            self.schedules_by_user
                .entry(user.clone())
                .or_default()
                .insert(record.id.clone());
        }
        self.schedule_ids_by_name
            .insert(display_name_key(&record.display_name), record.id.clone());
        let rotation = record.rotation().ok();
        let overrides = record.overrides();
        self.schedules.insert(
            record.id.clone(),
            ScheduleNode {
                record: Arc::new(record),
                rotation,
                overrides,
            },
        );
    }

    pub fn remove_schedule(&mut self, id: &str) {
        let Some(node) = self.schedules.remove(id) else {
            return;
        };
        self.schedule_ids_by_name
            .remove(&display_name_key(&node.record.display_name));
        for user in node
            .record
            .members
            .iter()
            .chain(node.record.overrides.iter().map(|o| &o.user_id))
        {
            if let Some(ids) = self.schedules_by_user.get_mut(user) {
                ids.remove(id);
            }
        }
    }

    /// Applies one change of the feed. Changes at or below the current sequence were applied
    /// already and are skipped, so replaying an overlapping range is harmless.
    pub fn apply(&mut self, change: &Change) {
        if change.sequence <= self.sequence {
            return;
        }
        self.sequence = change.sequence;
        let Some(payload) = change.decode() else {
            tracing::warn!(
                sequence = change.sequence,
                kind = change.kind.as_str(),
                "unreadable change payload skipped"
            );
            return;
        };
        match (change.kind, payload) {
            (
                ChangeKind::UserUpserted | ChangeKind::RoleGranted | ChangeKind::RoleRevoked,
                ChangePayload::User(user),
            ) => self.upsert_user(user),
            (ChangeKind::UserDeleted, ChangePayload::Deleted { id }) => self.remove_user(&id),
            (ChangeKind::GroupUpserted, ChangePayload::Group(group)) => self.upsert_group(group),
            (ChangeKind::GroupDeleted, ChangePayload::Group(group)) => self.remove_group(&group.id),
            (ChangeKind::GroupDeleted, ChangePayload::Deleted { id }) => self.remove_group(&id),
            (ChangeKind::MemberAdded, ChangePayload::Membership { group_id, member }) => {
                self.add_member(&group_id, member.kind, &member.id)
            }
            (ChangeKind::MemberRemoved, ChangePayload::Membership { group_id, member }) => {
                self.remove_member(&group_id, member.kind, &member.id)
            }
            (ChangeKind::ScheduleUpserted, ChangePayload::Schedule(record)) => self.upsert_schedule(record),
            (ChangeKind::ScheduleDeleted, ChangePayload::Schedule(record)) => self.remove_schedule(&record.id),
            (ChangeKind::ScheduleDeleted, ChangePayload::Deleted { id }) => self.remove_schedule(&id),
            // Tokens are not part of the directory; the token cache reads these.
            (ChangeKind::TokenRevoked, ChangePayload::Deleted { .. }) => {}
            (kind, _) => {
                tracing::warn!(
                    sequence = change.sequence,
                    kind = kind.as_str(),
                    "change payload does not match its kind"
                )
            }
        }
    }

    // ---- users ------------------------------------------------------------------------------

    pub fn user(&self, id: &str) -> Option<&Arc<User>> {
        self.users.get(id)
    }

    /// A user by id, or else by user name (case-insensitive).
    pub fn find_user(&self, id_or_name: &str) -> Option<&Arc<User>> {
        self.users.get(id_or_name).or_else(|| {
            self.user_ids_by_name
                .get(&user_name_key(id_or_name))
                .and_then(|id| self.users.get(id))
        })
    }

    pub fn user_id_by_name(&self, user_name: &str) -> Option<&str> {
        self.user_ids_by_name.get(&user_name_key(user_name)).map(String::as_str)
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// Every user, ordered by user name.
    pub fn users_sorted(&self) -> Vec<Arc<User>> {
        let mut users: Vec<_> = self.users.values().cloned().collect();
        users.sort_by(|a, b| {
            user_name_key(&a.user_name)
                .cmp(&user_name_key(&b.user_name))
                .then(a.id.cmp(&b.id))
        });
        users
    }

    pub fn direct_reports(&self, manager_id: &str) -> Vec<Arc<User>> {
        let mut reports: Vec<_> = self
            .reports
            .get(manager_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.users.get(id).cloned())
            .collect();
        reports.sort_by(|a, b| a.user_name.cmp(&b.user_name));
        reports
    }

    pub fn is_direct_report(&self, user_id: &str, manager_id: &str) -> bool {
        self.users
            .get(user_id)
            .is_some_and(|u| u.manager_id.as_deref() == Some(manager_id))
    }

    /// Would making `manager_id` the manager of `user_id` close a loop of managers?
    pub fn manager_chain_contains(&self, start: &str, needle: &str) -> bool {
        let mut seen = HashSet::new();
        let mut current = Some(start.to_string());
        while let Some(id) = current {
            if id == needle {
                return true;
            }
            if !seen.insert(id.clone()) {
                return false;
            }
            current = self.users.get(&id).and_then(|u| u.manager_id.clone());
        }
        false
    }

    // ---- groups -----------------------------------------------------------------------------

    pub fn group(&self, id: &str) -> Option<&Arc<Group>> {
        self.groups.get(id).map(|node| &node.group)
    }

    pub fn find_group(&self, id_or_name: &str) -> Option<&Arc<Group>> {
        self.group(id_or_name).or_else(|| {
            self.group_ids_by_name
                .get(&display_name_key(id_or_name))
                .and_then(|id| self.group(id))
        })
    }

    pub fn groups_sorted(&self) -> Vec<Arc<Group>> {
        let mut groups: Vec<_> = self.groups.values().map(|node| node.group.clone()).collect();
        groups.sort_by_key(|g| display_name_key(&g.display_name));
        groups
    }

    /// Direct members: user ids, then group ids, each sorted.
    pub fn members(&self, group_id: &str) -> (Vec<String>, Vec<String>) {
        self.groups
            .get(group_id)
            .map(|node| {
                (
                    node.member_users.iter().cloned().collect(),
                    node.member_groups.iter().cloned().collect(),
                )
            })
            .unwrap_or_default()
    }

    pub fn has_member(&self, group_id: &str, kind: MemberKind, member_id: &str) -> bool {
        self.groups.get(group_id).is_some_and(|node| match kind {
            MemberKind::User => node.member_users.contains(member_id),
            MemberKind::Group => node.member_groups.contains(member_id),
        })
    }

    pub fn direct_groups_of_user(&self, user_id: &str) -> Vec<Arc<Group>> {
        self.user_groups
            .get(user_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.group(id).cloned())
            .collect()
    }

    /// Group ids the user belongs to directly or through nesting.
    pub fn transitive_group_ids(&self, user_id: &str) -> HashSet<&str> {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<&str> = VecDeque::new();
        for id in self.user_groups.get(user_id).into_iter().flatten() {
            if seen.insert(id) {
                queue.push_back(id);
            }
        }
        while let Some(id) = queue.pop_front() {
            if let Some(node) = self.groups.get(id) {
                for parent in &node.parents {
                    if seen.insert(parent) {
                        queue.push_back(parent);
                    }
                }
            }
        }
        seen
    }

    /// Would adding group `child` as a member of group `parent` create a cycle? True when they
    /// are the same group or `child` already contains `parent`, directly or through nesting.
    pub fn would_create_cycle(&self, parent: &str, child: &str) -> bool {
        if parent == child {
            return true;
        }
        // Walk upwards from `parent`: if we reach `child`, then `parent` is inside `child`.
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<&str> = VecDeque::from([parent]);
        while let Some(id) = queue.pop_front() {
            if id == child {
                return true;
            }
            if let Some(node) = self.groups.get(id) {
                for next in &node.parents {
                    if seen.insert(next) {
                        queue.push_back(next);
                    }
                }
            }
        }
        false
    }

    // ---- roles ------------------------------------------------------------------------------

    pub fn roles(&self, user: &User, transitive_groups: &HashSet<&str>) -> Vec<RoleName> {
        let in_group = |name_key: &str| {
            !name_key.is_empty()
                && self
                    .group_ids_by_name
                    .get(name_key)
                    .is_some_and(|id| transitive_groups.contains(id.as_str()))
        };
        let granted = |role: RoleName| user.granted_roles.iter().any(|r| r == role.as_str());
        let mut roles = vec![RoleName::User];
        if granted(RoleName::Auditor) || in_group(&self.auditor_group) {
            roles.push(RoleName::Auditor);
        }
        if granted(RoleName::Admin) || in_group(&self.admin_group) {
            roles.push(RoleName::Admin);
        }
        roles
    }

    pub fn roles_of(&self, user_id: &str) -> Vec<RoleName> {
        match self.users.get(user_id) {
            Some(user) => self.roles(user, &self.transitive_group_ids(user_id)),
            None => Vec::new(),
        }
    }

    /// Active users holding the admin role by direct grant (not through a group).
    pub fn granted_admin_count(&self) -> usize {
        self.users
            .values()
            .filter(|u| u.active && u.granted_roles.iter().any(|r| r == RoleName::Admin.as_str()))
            .count()
    }

    /// Ids of active users with the admin role, by grant or by group.
    pub fn admin_count(&self) -> usize {
        self.users
            .values()
            .filter(|user| user.active && self.roles_of(&user.id).contains(&RoleName::Admin))
            .count()
    }

    // ---- schedules --------------------------------------------------------------------------

    pub fn schedule(&self, id: &str) -> Option<&Arc<ScheduleRecord>> {
        self.schedules.get(id).map(|node| &node.record)
    }

    pub fn find_schedule(&self, id_or_name: &str) -> Option<&Arc<ScheduleRecord>> {
        self.schedule(id_or_name).or_else(|| {
            self.schedule_ids_by_name
                .get(&display_name_key(id_or_name))
                .and_then(|id| self.schedule(id))
        })
    }

    pub fn schedules_sorted(&self) -> Vec<Arc<ScheduleRecord>> {
        let mut schedules: Vec<_> = self.schedules.values().map(|node| node.record.clone()).collect();
        schedules.sort_by(|a, b| a.display_name.cmp(&b.display_name));
        schedules
    }

    /// Who is on call; nobody when the rotation says a deactivated or unknown user.
    pub fn on_call(&self, schedule_id: &str, at: DateTime<Utc>) -> Option<OnCall> {
        let node = self.schedules.get(schedule_id)?;
        oncall::on_call_at(node.rotation.as_ref()?, &node.overrides, at)
            .filter(|on_call| self.users.get(&on_call.user_id).is_some_and(|u| u.active))
    }

    /// Schedules `user_id` is on call for at `at`.
    pub fn on_call_schedules(&self, user_id: &str, at: DateTime<Utc>) -> Vec<Arc<ScheduleRecord>> {
        let mut schedules: Vec<_> = self
            .schedules_by_user
            .get(user_id)
            .into_iter()
            .flatten()
            .filter(|id| self.on_call(id, at).is_some_and(|on_call| on_call.user_id == user_id))
            .filter_map(|id| self.schedule(id).cloned())
            .collect();
        schedules.sort_by(|a, b| a.display_name.cmp(&b.display_name));
        schedules
    }

    // ---- subjects ---------------------------------------------------------------------------

    pub fn resolve_subject(&self, id_or_name: &str, at: DateTime<Utc>) -> Option<SubjectView> {
        let user = self.find_user(id_or_name)?.clone();
        let group_ids = self.transitive_group_ids(&user.id);
        let roles = self.roles(&user, &group_ids);
        let mut groups: Vec<Arc<Group>> = group_ids.iter().filter_map(|id| self.group(id).cloned()).collect();
        groups.sort_unstable_by(|a, b| a.display_name.cmp(&b.display_name));
        let manager = user.manager_id.as_deref().and_then(|id| self.users.get(id).cloned());
        let direct_reports = self.direct_reports(&user.id);
        let on_call = self.on_call_schedules(&user.id, at);
        Some(SubjectView {
            user,
            roles,
            groups,
            manager,
            direct_reports,
            on_call,
            as_of_sequence: self.sequence,
        })
    }
}

#[cfg(test)]
mod tests;
