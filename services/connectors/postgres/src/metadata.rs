//! What a grant's role carries in its comment (`COMMENT ON ROLE`), so ListGrants, Extend and
//! Revoke can tell what Latch made without Latch storing anything in the connector.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use latch_connector_sdk::GrantRecord;

/// Marks a comment as Latch's and names its layout; bump it when the layout changes.
const MARKER: &str = "latch.connector.postgres/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleMetadata {
    pub latch: String,
    pub grant_id: String,
    pub resource_type: String,
    pub resource_id: String,
    pub permission: String,
    /// The database the grants live in: where Revoke cleans up.
    pub database: String,
    pub grantee: String,
    /// `None`: indefinite.
    pub expires_at: Option<DateTime<Utc>>,
}

impl RoleMetadata {
    pub fn new(
        grant_id: &str,
        resource_type: &str,
        resource_id: &str,
        permission: &str,
        database: &str,
        grantee: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            latch: MARKER.to_string(),
            grant_id: grant_id.to_string(),
            resource_type: resource_type.to_string(),
            resource_id: resource_id.to_string(),
            permission: permission.to_string(),
            database: database.to_string(),
            grantee: grantee.to_string(),
            expires_at,
        }
    }

    /// The comment text: JSON.
    pub fn to_comment(&self) -> String {
        // Serialising a struct of strings and an optional timestamp cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The metadata in a role's comment; `None` when the comment is not Latch's.
    pub fn from_comment(comment: &str) -> Option<Self> {
        let metadata: Self = serde_json::from_str(comment).ok()?;
        (metadata.latch == MARKER).then_some(metadata)
    }

    pub fn to_record(&self, account: &str) -> GrantRecord {
        GrantRecord {
            grant_id: self.grant_id.clone(),
            resource_type: self.resource_type.clone(),
            resource_id: self.resource_id.clone(),
            permission: self.permission.clone(),
            account: account.to_string(),
            expires_at: self.expires_at,
        }
    }

    /// Whether this role was made for the same grant as `other` would be.
    pub fn same_grant(&self, other: &Self) -> bool {
        self.grant_id == other.grant_id
            && self.resource_type == other.resource_type
            && self.resource_id == other.resource_id
            && self.permission == other.permission
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn comments_round_trip() {
        let expires_at = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
        let metadata = RoleMetadata::new(
            "g-1",
            "table",
            "table:app/public/orders",
            "read",
            "app",
            "ada",
            Some(expires_at),
        );
        let comment = metadata.to_comment();
        assert!(comment.contains("\"grant_id\":\"g-1\""), "{comment}");
        assert_eq!(RoleMetadata::from_comment(&comment), Some(metadata));
    }

    #[test]
    fn foreign_comments_are_ignored() {
        assert_eq!(RoleMetadata::from_comment("the reporting role"), None);
        assert_eq!(RoleMetadata::from_comment(r#"{"latch":"other","grant_id":"x"}"#), None);
    }
}
