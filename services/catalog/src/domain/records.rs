//! The catalog's stored records.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::principal::Principal;
use super::tags::{Tags, effective};
use super::target::{AccessScopeQuery, IntegrationTarget};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Space {
    pub id: String,
    pub name: String,
    pub admins: Vec<Principal>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusState {
    Unknown,
    Ok,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationStatus {
    pub state: StatusState,
    pub problems: Vec<String>,
    pub checked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SyncSummary {
    pub synced_at: Option<DateTime<Utc>>,
    pub resources: i64,
    pub added: i64,
    pub removed: i64,
    pub error: String,
}

/// An integration as stored. Secret config values live apart, sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    pub id: String,
    pub name: String,
    /// A built-in connector name, or "remote".
    pub connector: String,
    pub endpoint: String,
    /// Non-secret values only.
    pub config: BTreeMap<String, String>,
    /// Names of secret fields that have a value.
    pub secrets_set: Vec<String>,
    pub owner: Option<Principal>,
    pub space: Option<String>,
    pub status: IntegrationStatus,
    pub last_sync: SyncSummary,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

pub const REMOTE: &str = "remote";

/// A resource as the catalog knows it: what the connector said, plus what admins added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRecord {
    pub integration_id: String,
    pub id: String,
    pub name: String,
    pub path: String,
    pub parent_id: String,
    pub resource_type: String,
    pub system_tags: Tags,
    pub admin_tags: Tags,
    pub owners: Vec<Principal>,
    pub owner_hint: String,
    /// False once a sync no longer finds it (kept so admin tags and history survive).
    pub present: bool,
    pub synced_at: DateTime<Utc>,
}

impl ResourceRecord {
    pub fn tags(&self) -> Tags {
        effective(&self.system_tags, &self.admin_tags)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    pub id: String,
    pub name: String,
    pub description: String,
    pub space: Option<String>,
    pub targets: Vec<IntegrationTarget>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessScope {
    pub id: String,
    pub name: String,
    pub description: String,
    pub space: Option<String>,
    pub query: AccessScopeQuery,
    pub created_at: DateTime<Utc>,
}
