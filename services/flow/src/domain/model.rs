//! An access flow as admins write it (and as flows-as-code YAML reads).

use serde::{Deserialize, Serialize};

pub use latch_policy::approval::{AcrossGroups, Approval, ApproverGroup, ApproverRow, Extensions, Settings};

use super::conditions::Conditions;
use super::duration::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    SelfServe,
    Automatic,
}

/// "When" as written: `always`, or weekdays with a wall-clock range in a time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WhenSpec {
    #[default]
    Always,
    Only {
        days: Vec<String>,
        start: String,
        end: String,
        time_zone: String,
    },
}

/// For whom a requestor may ask. Several may be chosen together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForWhom {
    #[serde(default = "yes")]
    pub themselves: bool,
    #[serde(default)]
    pub direct_reports: bool,
    #[serde(default)]
    pub others: Option<Conditions>,
}

impl Default for ForWhom {
    fn default() -> Self {
        Self {
            themselves: true,
            direct_reports: false,
            others: None,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectionModeSpec {
    Any,
    Include,
    Exclude,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagSelectorSpec {
    pub key: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationTargetSpec {
    pub integration: String,
    pub resource_type: String,
    pub permissions: Vec<String>,
    #[serde(default = "any_mode")]
    pub mode: SelectionModeSpec,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagSelectorSpec>,
}

fn any_mode() -> SelectionModeSpec {
    SelectionModeSpec::Any
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetSpec {
    Integration(IntegrationTargetSpec),
    Bundle(String),
    Scope { scope: String, permissions: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantFor {
    /// Up to this long (the maximum when a duration is required).
    Custom(Span),
    Indefinite,
}

impl Default for GrantFor {
    fn default() -> Self {
        GrantFor::Custom(Span::HOUR)
    }
}

/// A flow as written, before ids and times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowSpec {
    pub name: String,
    pub kind: FlowKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Self-serve: who may request. Automatic: who gets access (the grantees).
    pub requestors: Conditions,
    #[serde(default)]
    pub when: WhenSpec,
    #[serde(default)]
    pub for_whom: ForWhom,
    pub targets: Vec<TargetSpec>,
    #[serde(default)]
    pub grant_for: GrantFor,
    #[serde(default)]
    pub approval: Approval,
    #[serde(default)]
    pub settings: Settings,
}

impl FlowSpec {
    /// Fills defaults that depend on the kind: self-serve flows require a justification unless
    /// told otherwise.
    pub fn normalized(mut self) -> Self {
        self.name = self.name.trim().to_string();
        if self.settings.require_justification.is_none() {
            self.settings.require_justification = Some(self.kind == FlowKind::SelfServe);
        }
        self
    }

    pub fn requires_justification(&self) -> bool {
        self.settings
            .require_justification
            .unwrap_or(self.kind == FlowKind::SelfServe)
    }

    /// The longest grant the flow gives; `None` for indefinite.
    pub fn maximum(&self) -> Option<Span> {
        match self.grant_for {
            GrantFor::Custom(span) => Some(span),
            GrantFor::Indefinite => None,
        }
    }
}
