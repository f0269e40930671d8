//! The identity change feed: every write appends changes with strictly increasing sequence
//! numbers; the directory read model and automatic flows are folds over it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::group::{Group, Member, MemberKind};
use super::schedule::ScheduleRecord;
use super::user::User;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    UserUpserted,
    UserDeleted,
    GroupUpserted,
    GroupDeleted,
    MemberAdded,
    MemberRemoved,
    ScheduleUpserted,
    ScheduleDeleted,
    RoleGranted,
    RoleRevoked,
    /// An API token was revoked: every replica forgets it at once (it holds no user state).
    TokenRevoked,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::UserUpserted => "user_upserted",
            ChangeKind::UserDeleted => "user_deleted",
            ChangeKind::GroupUpserted => "group_upserted",
            ChangeKind::GroupDeleted => "group_deleted",
            ChangeKind::MemberAdded => "member_added",
            ChangeKind::MemberRemoved => "member_removed",
            ChangeKind::ScheduleUpserted => "schedule_upserted",
            ChangeKind::ScheduleDeleted => "schedule_deleted",
            ChangeKind::RoleGranted => "role_granted",
            ChangeKind::RoleRevoked => "role_revoked",
            ChangeKind::TokenRevoked => "token_revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }
}

/// What changed, with the state the read model needs to apply it without another lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChangePayload {
    User(User),
    Group(Group),
    Membership { group_id: String, member: Member },
    Schedule(ScheduleRecord),
    Deleted { id: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub sequence: i64,
    pub at: DateTime<Utc>,
    pub kind: ChangeKind,
    /// "users/{id}", "groups/{id}", "schedules/{id}".
    pub resource: String,
    pub actor: String,
    pub payload: serde_json::Value,
}

impl Change {
    /// Decodes the payload for the kind; `None` for a payload this version cannot read.
    pub fn decode(&self) -> Option<ChangePayload> {
        let value = self.payload.clone();
        Some(match self.kind {
            ChangeKind::UserUpserted | ChangeKind::RoleGranted | ChangeKind::RoleRevoked => {
                ChangePayload::User(serde_json::from_value(value).ok()?)
            }
            ChangeKind::GroupUpserted => ChangePayload::Group(serde_json::from_value(value).ok()?),
            ChangeKind::MemberAdded | ChangeKind::MemberRemoved => {
                #[derive(Deserialize)]
                struct Membership {
                    group_id: String,
                    member: Member,
                }
                let m: Membership = serde_json::from_value(value).ok()?;
                ChangePayload::Membership {
                    group_id: m.group_id,
                    member: m.member,
                }
            }
            ChangeKind::ScheduleUpserted => ChangePayload::Schedule(serde_json::from_value(value).ok()?),
            ChangeKind::UserDeleted
            | ChangeKind::GroupDeleted
            | ChangeKind::ScheduleDeleted
            | ChangeKind::TokenRevoked => {
                let id = value.get("id")?.as_str()?.to_string();
                ChangePayload::Deleted { id }
            }
        })
    }
}

/// Whose facts a change may have changed: the users it names, and whether it may also change
/// users it does not name (a group renamed, deleted or nested into another changes the facts of
/// every member, transitively). Consumers read this instead of decoding payloads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    pub users: Vec<String>,
    pub broad: bool,
}

impl Change {
    pub fn reach(&self) -> Reach {
        let mut reach = Reach::default();
        match self.decode() {
            Some(ChangePayload::Membership { member, .. }) => match member.kind {
                MemberKind::User => reach.users.push(member.id),
                MemberKind::Group => reach.broad = true,
            },
            _ => match self.resource.split_once('/') {
                Some(("users", id)) => reach.users.push(id.to_string()),
                Some(("groups", _)) => reach.broad = true,
                _ => {}
            },
        }
        reach
    }
}

/// A change about to be written; the store assigns sequence and time.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChange {
    pub kind: ChangeKind,
    pub resource: String,
    pub payload: serde_json::Value,
}

impl NewChange {
    pub fn user(kind: ChangeKind, user: &User) -> Self {
        Self {
            kind,
            resource: format!("users/{}", user.id),
            payload: to_json(user),
        }
    }

    pub fn user_deleted(user: &User) -> Self {
        let mut payload = to_json(user);
        // Deletions carry the state before, plus the id the read model keys on.
        if let Some(object) = payload.as_object_mut() {
            object.insert("id".into(), user.id.clone().into());
        }
        Self {
            kind: ChangeKind::UserDeleted,
            resource: format!("users/{}", user.id),
            payload,
        }
    }

    pub fn group(group: &Group) -> Self {
        Self {
            kind: ChangeKind::GroupUpserted,
            resource: format!("groups/{}", group.id),
            payload: to_json(group),
        }
    }

    pub fn group_deleted(group: &Group) -> Self {
        Self {
            kind: ChangeKind::GroupDeleted,
            resource: format!("groups/{}", group.id),
            payload: to_json(group),
        }
    }

    pub fn membership(kind: ChangeKind, group_id: &str, member: &Member) -> Self {
        debug_assert!(matches!(kind, ChangeKind::MemberAdded | ChangeKind::MemberRemoved));
        Self {
            kind,
            resource: format!("groups/{group_id}"),
            payload: serde_json::json!({ "group_id": group_id, "member": member }),
        }
    }

    pub fn schedule(schedule: &ScheduleRecord) -> Self {
        Self {
            kind: ChangeKind::ScheduleUpserted,
            resource: format!("schedules/{}", schedule.id),
            payload: to_json(schedule),
        }
    }

    pub fn schedule_deleted(schedule: &ScheduleRecord) -> Self {
        Self {
            kind: ChangeKind::ScheduleDeleted,
            resource: format!("schedules/{}", schedule.id),
            payload: to_json(schedule),
        }
    }

    /// Carries the token's id only: never its secret or hash.
    pub fn token_revoked(token_id: &str, user_id: &str) -> Self {
        Self {
            kind: ChangeKind::TokenRevoked,
            resource: format!("tokens/{token_id}"),
            payload: serde_json::json!({ "id": token_id, "user_id": user_id }),
        }
    }
}

fn to_json(value: &impl Serialize) -> serde_json::Value {
    // Serialising our own plain structs cannot fail.
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(kind: ChangeKind, resource: &str, payload: serde_json::Value) -> Change {
        Change {
            sequence: 1,
            at: DateTime::<Utc>::UNIX_EPOCH,
            kind,
            resource: resource.into(),
            actor: "import".into(),
            payload,
        }
    }

    #[test]
    fn a_change_names_the_users_whose_facts_it_may_change() {
        let member = |kind: &str| serde_json::json!({"group_id": "g1", "member": {"kind": kind, "id": "u2"}});
        let user_member = change(ChangeKind::MemberAdded, "groups/g1", member("user"));
        assert_eq!(
            user_member.reach(),
            Reach {
                users: vec!["u2".into()],
                broad: false
            }
        );
        let nested = change(ChangeKind::MemberRemoved, "groups/g1", member("group"));
        assert!(nested.reach().broad && nested.reach().users.is_empty());
        let user = change(ChangeKind::RoleRevoked, "users/u1", serde_json::json!({}));
        assert_eq!(user.reach().users, vec!["u1".to_string()]);
        assert!(!user.reach().broad);
        let renamed = change(ChangeKind::GroupUpserted, "groups/g1", serde_json::json!({}));
        assert!(renamed.reach().broad);
        let deleted = change(ChangeKind::GroupDeleted, "groups/g1", serde_json::json!({"id": "g1"}));
        assert!(deleted.reach().broad);
        let schedule = change(ChangeKind::ScheduleUpserted, "schedules/s1", serde_json::json!({}));
        assert_eq!(schedule.reach(), Reach::default());
    }
}
