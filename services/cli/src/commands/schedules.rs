//! `latch schedules …`: on-call rotations, overrides and who is on call.

use clap::{Args, Subcommand};
use latch_proto::identity::v1 as pb;
use prost_types::Timestamp;

use super::paging::{self, ListView, Page};
use crate::context::Context;
use crate::error::CliError;
use crate::output;
use crate::render::schedule::{
    OnCallView, ScheduleRefView, ScheduleView, on_call_text, schedule_details, schedule_refs_table, schedules_table,
};
use crate::timestamp::parse_rfc3339;

#[derive(Debug, Subcommand)]
pub enum SchedulesCommand {
    /// List every schedule
    List,
    /// Show one schedule with its overrides
    Get {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
    /// Create a schedule
    Create(CreateArgs),
    /// Replace a schedule's time zone and rotation (overrides are kept)
    Update(UpdateArgs),
    /// Delete a schedule
    Delete {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
    /// Put someone on call for a window, ahead of the rotation
    Override {
        #[arg(value_name = "SCHEDULE")]
        schedule_id: String,
        /// Who is on call instead (id or user name)
        #[arg(long, value_name = "USER")]
        user: String,
        /// RFC 3339, e.g. 2025-01-31T09:00:00Z
        #[arg(long, value_parser = parse_rfc3339)]
        start: Timestamp,
        /// RFC 3339, e.g. 2025-01-31T17:00:00Z
        #[arg(long, value_parser = parse_rfc3339)]
        end: Timestamp,
    },
    /// Remove an override (see `schedules get` for ids)
    RemoveOverride {
        #[arg(value_name = "SCHEDULE")]
        schedule_id: String,
        #[arg(value_name = "OVERRIDE_ID")]
        override_id: String,
    },
    /// Who is on call for a schedule
    Oncall {
        #[arg(value_name = "SCHEDULE")]
        schedule_id: String,
        /// RFC 3339 [default: now]
        #[arg(long, value_parser = parse_rfc3339)]
        at: Option<Timestamp>,
    },
    /// The schedules a user is on call for
    For {
        #[arg(value_name = "USER")]
        user_id: String,
        /// RFC 3339 [default: now]
        #[arg(long, value_parser = parse_rfc3339)]
        at: Option<Timestamp>,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Unique, human-friendly name, e.g. payments-primary
    name: String,
    /// IANA time zone, e.g. Europe/Berlin
    #[arg(long)]
    time_zone: String,
    /// Length of one shift; multiples of 24 are calendar days in the time zone
    #[arg(long)]
    shift_hours: u32,
    /// Hand-off wall-clock time, HH:MM
    #[arg(long, value_name = "HH:MM")]
    handoff: String,
    /// The date the first member's first shift starts, YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD")]
    start_date: String,
    /// Members in rotation order (ids or user names)
    #[arg(long = "member", value_name = "USER", required = true, num_args = 1..)]
    members: Vec<String>,
    /// Idempotency key: a retry with the same id returns the schedule created the first time
    #[arg(long)]
    request_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The schedule to change (id or name)
    #[arg(value_name = "ID_OR_NAME")]
    id: String,
    /// A new name [default: unchanged]
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    rotation: RotationArgs,
}

#[derive(Debug, Args)]
pub struct RotationArgs {
    /// IANA time zone, e.g. Europe/Berlin
    #[arg(long)]
    time_zone: String,
    /// Length of one shift; multiples of 24 are calendar days in the time zone
    #[arg(long)]
    shift_hours: u32,
    /// Hand-off wall-clock time, HH:MM
    #[arg(long, value_name = "HH:MM")]
    handoff: String,
    /// The date the first member's first shift starts, YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD")]
    start_date: String,
    /// Members in rotation order (ids or user names)
    #[arg(long = "member", value_name = "USER", required = true, num_args = 1..)]
    members: Vec<String>,
}

pub async fn run(ctx: &Context, command: SchedulesCommand) -> Result<(), CliError> {
    let mut client = ctx.client().await?;
    match command {
        SchedulesCommand::List => {
            let page = paging::fetch(true, |page_token| {
                let mut client = client.clone();
                async move {
                    let response = client
                        .list_schedules(pb::ListSchedulesRequest {
                            page_size: 0,
                            page_token,
                        })
                        .await?
                        .into_inner();
                    Ok(Page {
                        items: response.schedules,
                        next_page_token: response.next_page_token,
                        total_size: 0,
                    })
                }
            })
            .await?;
            let total = page.items.len() as i64;
            let view = ListView {
                total_size: total,
                ..ListView::new("schedules", &page, |schedule| ScheduleView::from(schedule))
            };
            output::emit(ctx.output, &view, || {
                if page.items.is_empty() {
                    "no schedules".to_string()
                } else {
                    schedules_table(&page.items)
                }
            })
        }
        SchedulesCommand::Get { id } => {
            let schedule = client.get_schedule(pb::GetScheduleRequest { id }).await?.into_inner();
            show_schedule(ctx, &schedule)
        }
        SchedulesCommand::Create(args) => {
            let schedule = pb::Schedule {
                display_name: args.name,
                time_zone: args.time_zone,
                rotation: Some(pb::Rotation {
                    members: args.members,
                    shift_hours: args.shift_hours,
                    handoff_time: args.handoff,
                    start_date: args.start_date,
                }),
                ..Default::default()
            };
            let request = pb::CreateScheduleRequest {
                schedule: Some(schedule),
                request_id: args.request_id.unwrap_or_default(),
            };
            let schedule = client.create_schedule(request).await?.into_inner();
            show_schedule(ctx, &schedule)
        }
        SchedulesCommand::Update(args) => {
            let current = client
                .get_schedule(pb::GetScheduleRequest { id: args.id })
                .await?
                .into_inner();
            let rotation = args.rotation;
            let schedule = pb::Schedule {
                id: current.id.clone(),
                display_name: args.name.unwrap_or(current.display_name),
                time_zone: rotation.time_zone,
                rotation: Some(pb::Rotation {
                    members: rotation.members,
                    shift_hours: rotation.shift_hours,
                    handoff_time: rotation.handoff,
                    start_date: rotation.start_date,
                }),
                etag: current.etag,
                ..Default::default()
            };
            let request = pb::UpdateScheduleRequest {
                schedule: Some(schedule),
            };
            let schedule = client.update_schedule(request).await?.into_inner();
            show_schedule(ctx, &schedule)
        }
        SchedulesCommand::RemoveOverride {
            schedule_id,
            override_id,
        } => {
            let request = pb::RemoveScheduleOverrideRequest {
                schedule_id,
                override_id,
            };
            let schedule = client.remove_schedule_override(request).await?.into_inner();
            show_schedule(ctx, &schedule)
        }
        SchedulesCommand::Delete { id } => {
            client
                .delete_schedule(pb::DeleteScheduleRequest { id: id.clone() })
                .await?;
            super::done(ctx, "deleted", &id, &format!("deleted schedule {id}"))
        }
        SchedulesCommand::Override {
            schedule_id,
            user,
            start,
            end,
        } => {
            let entry = pb::ScheduleOverride {
                id: String::new(),
                user_id: user,
                start_time: Some(start),
                end_time: Some(end),
            };
            let request = pb::AddScheduleOverrideRequest {
                schedule_id,
                r#override: Some(entry),
            };
            let schedule = client.add_schedule_override(request).await?.into_inner();
            show_schedule(ctx, &schedule)
        }
        SchedulesCommand::Oncall { schedule_id, at } => {
            let on_call = client
                .get_on_call(pb::GetOnCallRequest { schedule_id, at })
                .await?
                .into_inner();
            output::emit(ctx.output, &OnCallView::from(&on_call), || on_call_text(&on_call))
        }
        SchedulesCommand::For { user_id, at } => {
            let request = pb::ListOnCallSchedulesRequest {
                user_id: user_id.clone(),
                at,
            };
            let schedules = client.list_on_call_schedules(request).await?.into_inner().schedules;
            let view =
                serde_json::json!({ "schedules": schedules.iter().map(ScheduleRefView::from).collect::<Vec<_>>() });
            output::emit(ctx.output, &view, || {
                if schedules.is_empty() {
                    format!("{user_id} is not on call")
                } else {
                    schedule_refs_table(&schedules)
                }
            })
        }
    }
}

fn show_schedule(ctx: &Context, schedule: &pb::Schedule) -> Result<(), CliError> {
    output::emit(ctx.output, &ScheduleView::from(schedule), || schedule_details(schedule))
}
