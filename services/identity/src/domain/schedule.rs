//! On-call schedules as stored and exchanged: a rotation plus overrides, in plain strings so
//! they serialise; [`ScheduleRecord::rotation`] turns them into the arithmetic of `oncall`.

use chrono::{DateTime, Utc};
use latch_runtime::FieldViolation;
use serde::{Deserialize, Serialize};

use super::oncall::{self, Override, Rotation};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideRecord {
    pub id: String,
    pub user_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRecord {
    pub id: String,
    pub display_name: String,
    pub time_zone: String,
    pub members: Vec<String>,
    pub shift_hours: u32,
    /// "HH:MM"
    pub handoff_time: String,
    /// "YYYY-MM-DD"
    pub start_date: String,
    pub overrides: Vec<OverrideRecord>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl ScheduleRecord {
    /// The rotation, or every field that is wrong (with `schedule.` field paths).
    pub fn rotation(&self) -> Result<Rotation, Vec<FieldViolation>> {
        let to_violation =
            |error: oncall::RotationError| FieldViolation::new(format!("schedule.{}", error.field), error.message);
        let time_zone = oncall::parse_time_zone(&self.time_zone);
        let handoff = oncall::parse_handoff(&self.handoff_time);
        let start_date = oncall::parse_start_date(&self.start_date);
        let (time_zone, handoff, start_date) = match (time_zone, handoff, start_date) {
            (Ok(time_zone), Ok(handoff), Ok(start_date)) => (time_zone, handoff, start_date),
            (time_zone, handoff, start_date) => {
                return Err([time_zone.err(), handoff.err(), start_date.err()]
                    .into_iter()
                    .flatten()
                    .map(to_violation)
                    .collect());
            }
        };
        let rotation = Rotation {
            members: self.members.clone(),
            shift_hours: self.shift_hours,
            handoff,
            start_date,
            time_zone,
        };
        rotation.validate().map_err(|error| vec![to_violation(error)])?;
        Ok(rotation)
    }

    pub fn overrides(&self) -> Vec<Override> {
        self.overrides
            .iter()
            .map(|o| Override {
                id: o.id.clone(),
                user_id: o.user_id.clone(),
                start: o.start,
                end: o.end,
            })
            .collect()
    }
}
