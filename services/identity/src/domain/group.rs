//! Groups: named sets of users and other groups.

use chrono::{DateTime, Utc};
use latch_runtime::FieldViolation;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberKind {
    User,
    Group,
}

impl MemberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberKind::User => "user",
            MemberKind::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(MemberKind::User),
            "group" => Some(MemberKind::Group),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Member {
    pub kind: MemberKind,
    pub id: String,
}

/// A group as stored; members live in their own rows and arrive through the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl Group {
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }
}

pub fn display_name_key(display_name: &str) -> String {
    display_name.trim().to_lowercase()
}

pub fn validate_display_name(field: &str, display_name: &str) -> Option<FieldViolation> {
    let trimmed = display_name.trim();
    if trimmed.is_empty() {
        Some(FieldViolation::new(field, "must not be empty"))
    } else {
        latch_runtime::text::check_name(field, trimmed, latch_runtime::text::MAX_NAME_CHARS).err()
    }
}
