//! Domain ↔ proto conversions for the identity API.

use chrono::{DateTime, Utc};
use latch_proto::common::v1::{Attribute, Role};
use latch_proto::identity::v1 as pb;
use latch_runtime::{ServiceError, ServiceResult};

use crate::domain::change::{Change, ChangeKind};
use crate::domain::directory::{Directory, RoleName};
use crate::domain::group::{Group, Member, MemberKind};
use crate::domain::schedule::ScheduleRecord;
use crate::domain::user::{Attributes, User};
use crate::store::TokenRecord;

pub use latch_runtime::wire::{from_timestamp, timestamp};

pub fn optional_instant(
    field: &str,
    ts: Option<&prost_types::Timestamp>,
    now: DateTime<Utc>,
) -> ServiceResult<DateTime<Utc>> {
    ts.map_or(Ok(now), |ts| from_timestamp(field, ts))
}

pub fn role(role: RoleName) -> Role {
    match role {
        RoleName::User => Role::User,
        RoleName::Auditor => Role::Auditor,
        RoleName::Admin => Role::Admin,
    }
}

pub fn role_name(field: &str, value: i32) -> ServiceResult<RoleName> {
    match Role::try_from(value) {
        Ok(Role::Admin) => Ok(RoleName::Admin),
        Ok(Role::Auditor) => Ok(RoleName::Auditor),
        Ok(Role::User) => Ok(RoleName::User),
        _ => Err(ServiceError::invalid(field, "must be ROLE_ADMIN or ROLE_AUDITOR")),
    }
}

pub fn attributes_to_proto(attributes: &Attributes) -> Vec<Attribute> {
    attributes
        .iter()
        .map(|(key, values)| Attribute {
            key: key.clone(),
            values: values.clone(),
        })
        .collect()
}

pub fn attributes_from_proto(attributes: &[Attribute]) -> Attributes {
    let mut out = Attributes::new();
    for attribute in attributes {
        out.entry(attribute.key.trim().to_string())
            .or_default()
            .extend(attribute.values.iter().cloned());
    }
    out
}

pub fn user(user: &User, directory: &Directory) -> pb::User {
    pb::User {
        name: format!("users/{}", user.id),
        id: user.id.clone(),
        user_name: user.user_name.clone(),
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        active: user.active,
        attributes: attributes_to_proto(&user.attributes),
        manager_id: user.manager_id.clone().unwrap_or_default(),
        external_id: user.external_id.clone().unwrap_or_default(),
        roles: directory
            .roles_of(&user.id)
            .into_iter()
            .map(|r| role(r) as i32)
            .collect(),
        create_time: Some(timestamp(user.created_at)),
        update_time: Some(timestamp(user.updated_at)),
        etag: user.etag(),
    }
}

pub fn user_ref(user: &User) -> pb::UserRef {
    pb::UserRef {
        id: user.id.clone(),
        user_name: user.user_name.clone(),
        display_name: user.display_name.clone(),
    }
}

pub fn group(group: &Group, directory: &Directory) -> pb::Group {
    let (users, groups) = directory.members(&group.id);
    let members = users
        .iter()
        .map(|id| pb::GroupMember {
            kind: pb::group_member::Kind::User as i32,
            id: id.clone(),
            display: directory.user(id).map(|u| u.user_name.clone()).unwrap_or_default(),
        })
        .chain(groups.iter().map(|id| pb::GroupMember {
            kind: pb::group_member::Kind::Group as i32,
            id: id.clone(),
            display: directory.group(id).map(|g| g.display_name.clone()).unwrap_or_default(),
        }))
        .collect();
    pb::Group {
        name: format!("groups/{}", group.id),
        id: group.id.clone(),
        display_name: group.display_name.clone(),
        external_id: group.external_id.clone().unwrap_or_default(),
        members,
        create_time: Some(timestamp(group.created_at)),
        update_time: Some(timestamp(group.updated_at)),
        etag: group.etag(),
    }
}

/// A member reference from the API: the id may also be a user name or group name.
pub fn member(field: &str, member: Option<&pb::GroupMember>, directory: &Directory) -> ServiceResult<Member> {
    let member = member.ok_or_else(|| ServiceError::invalid(field, "is required"))?;
    match pb::group_member::Kind::try_from(member.kind) {
        Ok(pb::group_member::Kind::User) => {
            let user = directory
                .find_user(&member.id)
                .ok_or_else(|| ServiceError::invalid(format!("{field}.id"), format!("no user {:?}", member.id)))?;
            Ok(Member {
                kind: MemberKind::User,
                id: user.id.clone(),
            })
        }
        Ok(pb::group_member::Kind::Group) => {
            let group = directory
                .find_group(&member.id)
                .ok_or_else(|| ServiceError::invalid(format!("{field}.id"), format!("no group {:?}", member.id)))?;
            Ok(Member {
                kind: MemberKind::Group,
                id: group.id.clone(),
            })
        }
        _ => Err(ServiceError::invalid(
            format!("{field}.kind"),
            "must be KIND_USER or KIND_GROUP",
        )),
    }
}

pub fn schedule_ref(schedule: &ScheduleRecord) -> pb::ScheduleRef {
    pb::ScheduleRef {
        id: schedule.id.clone(),
        display_name: schedule.display_name.clone(),
    }
}

pub fn schedule(schedule: &ScheduleRecord) -> pb::Schedule {
    pb::Schedule {
        name: format!("schedules/{}", schedule.id),
        id: schedule.id.clone(),
        display_name: schedule.display_name.clone(),
        time_zone: schedule.time_zone.clone(),
        rotation: Some(pb::Rotation {
            members: schedule.members.clone(),
            shift_hours: schedule.shift_hours,
            handoff_time: schedule.handoff_time.clone(),
            start_date: schedule.start_date.clone(),
        }),
        overrides: schedule
            .overrides
            .iter()
            .map(|o| pb::ScheduleOverride {
                id: o.id.clone(),
                user_id: o.user_id.clone(),
                start_time: Some(timestamp(o.start)),
                end_time: Some(timestamp(o.end)),
            })
            .collect(),
        create_time: Some(timestamp(schedule.created_at)),
        update_time: Some(timestamp(schedule.updated_at)),
        etag: format!("W/\"{}\"", schedule.version),
    }
}

pub fn token(record: &TokenRecord) -> pb::ApiToken {
    pb::ApiToken {
        name: format!("tokens/{}", record.id),
        id: record.id.clone(),
        user_id: record.user_id.clone(),
        description: record.description.clone(),
        scope: if record.scope == "scim" {
            pb::api_token::Scope::Scim
        } else {
            pb::api_token::Scope::Api
        } as i32,
        create_time: Some(timestamp(record.created_at)),
        expire_time: record.expires_at.map(timestamp),
        revoke_time: record.revoked_at.map(timestamp),
        last_used_time: record.last_used_at.map(timestamp),
        prefix: record.prefix.clone(),
    }
}

pub fn change(change: &Change) -> pb::Change {
    use pb::change::Kind;
    let kind = match change.kind {
        ChangeKind::UserUpserted => Kind::UserUpserted,
        ChangeKind::UserDeleted => Kind::UserDeleted,
        ChangeKind::GroupUpserted => Kind::GroupUpserted,
        ChangeKind::GroupDeleted => Kind::GroupDeleted,
        ChangeKind::MemberAdded => Kind::MemberAdded,
        ChangeKind::MemberRemoved => Kind::MemberRemoved,
        ChangeKind::ScheduleUpserted => Kind::ScheduleUpserted,
        ChangeKind::ScheduleDeleted => Kind::ScheduleDeleted,
        ChangeKind::RoleGranted => Kind::RoleGranted,
        ChangeKind::RoleRevoked => Kind::RoleRevoked,
        ChangeKind::TokenRevoked => Kind::TokenRevoked,
    };
    let reach = change.reach();
    pb::Change {
        affected_users: reach.users,
        broad: reach.broad,
        sequence: change.sequence,
        time: Some(timestamp(change.at)),
        kind: kind as i32,
        resource: change.resource.clone(),
        actor: change.actor.clone(),
        payload_json: change.payload.to_string(),
    }
}

/// What flows and requests know of a person: groups transitive, sorted by id.
pub fn subject_facts(directory: &Directory, user: &User) -> pb::SubjectFacts {
    let mut groups: Vec<pb::GroupRef> = directory
        .transitive_group_ids(&user.id)
        .into_iter()
        .filter_map(|id| directory.group(id))
        .map(|g| pb::GroupRef {
            id: g.id.clone(),
            display_name: g.display_name.clone(),
        })
        .collect();
    groups.sort_by(|a, b| a.id.cmp(&b.id));
    pb::SubjectFacts {
        user_id: user.id.clone(),
        user_name: user.user_name.clone(),
        email: user.email.clone(),
        groups,
        attributes: attributes_to_proto(&user.attributes),
        manager_id: user.manager_id.clone().unwrap_or_default(),
    }
}
