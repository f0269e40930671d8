//! The flow's rules a request carries with it: copied when the request is made, so approvals,
//! extensions and limits follow the flow the requester was shown, not a later edit.

use std::collections::BTreeSet;

use latch_policy::approval::{AcrossGroups, Approval, ApproverGroup, ApproverRow, Settings};
use serde::{Deserialize, Serialize};

/// The serde form is how snapshots were stored before they were the flow contract's
/// `ApprovalPolicy` message; it is still read (see [`crate::policy_snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub approval: Approval,
    pub settings: Settings,
}

impl Policy {
    pub fn groups(&self) -> &[ApproverGroup] {
        match &self.approval {
            Approval::Automatic => &[],
            Approval::ApprovalOf { groups, .. } => groups,
        }
    }

    /// Whether someone must approve (otherwise the flow approves automatically).
    pub fn needs_approval(&self) -> bool {
        !matches!(self.approval, Approval::Automatic)
    }

    /// ANY OF or ALL OF across the approver groups.
    pub fn across(&self) -> AcrossGroups {
        match &self.approval {
            Approval::ApprovalOf { across, .. } => *across,
            Approval::Automatic => AcrossGroups::default(),
        }
    }

    /// Schedules named by on-call rows.
    pub fn schedules(&self) -> BTreeSet<&str> {
        self.groups()
            .iter()
            .flat_map(|g| &g.rows)
            .filter_map(|row| match row {
                ApproverRow::OnCall { schedules } => Some(schedules.iter().map(String::as_str)),
                _ => None,
            })
            .flatten()
            .collect()
    }
}
