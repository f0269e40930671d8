//! On-call schedules, overrides and who is on call.

use latch_proto::identity::v1::{GetOnCallResponse, Schedule, ScheduleOverride, ScheduleRef};
use serde::Serialize;

use super::user::{UserRefView, user_ref_text};
use crate::output::{details, render, table};
use crate::timestamp;

#[derive(Debug, Serialize)]
pub struct ScheduleView {
    pub name: String,
    pub id: String,
    pub display_name: String,
    pub time_zone: String,
    pub rotation: RotationView,
    pub overrides: Vec<OverrideView>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RotationView {
    pub members: Vec<String>,
    pub shift_hours: u32,
    pub handoff_time: String,
    pub start_date: String,
}

#[derive(Debug, Serialize)]
pub struct OverrideView {
    pub id: String,
    pub user_id: String,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
}

impl From<&Schedule> for ScheduleView {
    fn from(schedule: &Schedule) -> Self {
        let rotation = schedule.rotation.clone().unwrap_or_default();
        Self {
            name: schedule.name.clone(),
            id: schedule.id.clone(),
            display_name: schedule.display_name.clone(),
            time_zone: schedule.time_zone.clone(),
            rotation: RotationView {
                members: rotation.members,
                shift_hours: rotation.shift_hours,
                handoff_time: rotation.handoff_time,
                start_date: rotation.start_date,
            },
            overrides: schedule.overrides.iter().map(OverrideView::from).collect(),
            create_time: timestamp::format_optional(schedule.create_time.as_ref()),
            update_time: timestamp::format_optional(schedule.update_time.as_ref()),
        }
    }
}

impl From<&ScheduleOverride> for OverrideView {
    fn from(entry: &ScheduleOverride) -> Self {
        Self {
            id: entry.id.clone(),
            user_id: entry.user_id.clone(),
            start_time: timestamp::format_optional(entry.start_time.as_ref()),
            end_time: timestamp::format_optional(entry.end_time.as_ref()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ScheduleRefView {
    pub id: String,
    pub display_name: String,
}

impl From<&ScheduleRef> for ScheduleRefView {
    fn from(schedule: &ScheduleRef) -> Self {
        Self {
            id: schedule.id.clone(),
            display_name: schedule.display_name.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct OnCallView {
    /// `null` when nobody is on call (an empty rotation).
    pub user: Option<UserRefView>,
    pub shift_end: Option<String>,
    pub from_override: bool,
}

impl From<&GetOnCallResponse> for OnCallView {
    fn from(on_call: &GetOnCallResponse) -> Self {
        Self {
            user: on_call.user.as_ref().map(UserRefView::from),
            shift_end: timestamp::format_optional(on_call.shift_end.as_ref()),
            from_override: on_call.from_override,
        }
    }
}

pub fn schedules_table(schedules: &[Schedule]) -> String {
    let mut rows = table([
        "id",
        "name",
        "time zone",
        "shift hours",
        "handoff",
        "start date",
        "members",
    ]);
    for schedule in schedules {
        let rotation = schedule.rotation.clone().unwrap_or_default();
        rows.add_row(vec![
            schedule.id.clone(),
            schedule.display_name.clone(),
            schedule.time_zone.clone(),
            rotation.shift_hours.to_string(),
            rotation.handoff_time,
            rotation.start_date,
            rotation.members.join(","),
        ]);
    }
    render(&rows)
}

/// The schedule's fields, then its overrides.
pub fn schedule_details(schedule: &Schedule) -> String {
    let rotation = schedule.rotation.clone().unwrap_or_default();
    let fields = details(vec![
        ("id", schedule.id.clone()),
        ("name", schedule.display_name.clone()),
        ("time zone", schedule.time_zone.clone()),
        ("shift hours", rotation.shift_hours.to_string()),
        ("handoff", rotation.handoff_time),
        ("start date", rotation.start_date),
        ("members", rotation.members.join(", ")),
        ("created", timestamp::format(schedule.create_time.as_ref())),
        ("updated", timestamp::format(schedule.update_time.as_ref())),
    ]);
    if schedule.overrides.is_empty() {
        return format!("{}\n\nno overrides", render(&fields));
    }
    let mut overrides = table(["id", "user id", "start", "end"]);
    for entry in &schedule.overrides {
        overrides.add_row(vec![
            entry.id.clone(),
            entry.user_id.clone(),
            timestamp::format(entry.start_time.as_ref()),
            timestamp::format(entry.end_time.as_ref()),
        ]);
    }
    format!(
        "{}\n\noverrides ({}):\n{}",
        render(&fields),
        schedule.overrides.len(),
        render(&overrides)
    )
}

pub fn schedule_refs_table(schedules: &[ScheduleRef]) -> String {
    let mut rows = table(["id", "name"]);
    for schedule in schedules {
        rows.add_row(vec![schedule.id.clone(), schedule.display_name.clone()]);
    }
    render(&rows)
}

pub fn on_call_text(on_call: &GetOnCallResponse) -> String {
    let Some(user) = &on_call.user else {
        return "nobody is on call".to_string();
    };
    let until = timestamp::format(on_call.shift_end.as_ref());
    let source = if on_call.from_override { " (override)" } else { "" };
    format!("{} is on call until {until}{source}", user_ref_text(user))
}
