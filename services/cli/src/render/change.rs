//! Entries of the identity change feed.

use latch_proto::identity::v1::{Change, change};
use serde::Serialize;

use super::enum_name;
use crate::timestamp;

#[derive(Debug, Serialize)]
pub struct ChangeView {
    pub sequence: i64,
    pub time: Option<String>,
    pub kind: String,
    pub resource: String,
    pub actor: String,
    /// The resource after the change (before, for deletions); the raw text if it is not JSON.
    pub payload: serde_json::Value,
}

impl From<&Change> for ChangeView {
    fn from(change: &Change) -> Self {
        let payload = if change.payload_json.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&change.payload_json)
                .unwrap_or_else(|_| serde_json::Value::String(change.payload_json.clone()))
        };
        Self {
            sequence: change.sequence,
            time: timestamp::format_optional(change.time.as_ref()),
            kind: kind_name(change.kind),
            resource: change.resource.clone(),
            actor: change.actor.clone(),
            payload,
        }
    }
}

pub fn kind_name(kind: i32) -> String {
    enum_name(
        change::Kind::try_from(kind).ok().map(|kind| kind.as_str_name()),
        "KIND_",
        kind,
    )
}

/// `sequence time kind resource actor`, tab-separated so fields with spaces stay intact.
pub fn change_line(change: &Change) -> String {
    [
        change.sequence.to_string(),
        timestamp::format(change.time.as_ref()),
        kind_name(change.kind),
        change.resource.clone(),
        change.actor.clone(),
    ]
    .join("\t")
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::Timestamp;

    fn sample() -> Change {
        Change {
            sequence: 7,
            time: Some(Timestamp {
                seconds: 1_735_689_600,
                nanos: 0,
            }),
            kind: change::Kind::MemberAdded as i32,
            resource: "groups/g1".into(),
            actor: "users/u1".into(),
            payload_json: r#"{"id":"g1"}"#.into(),
            ..Default::default()
        }
    }

    #[test]
    fn line_has_sequence_time_kind_resource_actor() {
        assert_eq!(
            change_line(&sample()),
            "7\t2025-01-01T00:00:00Z\tmember_added\tgroups/g1\tusers/u1"
        );
    }

    #[test]
    fn json_embeds_the_payload_as_json() {
        let view = ChangeView::from(&sample());
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["payload"]["id"], "g1");
        assert_eq!(json["kind"], "member_added");
    }
}
