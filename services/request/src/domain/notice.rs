//! Notifications as webhook bodies: which history events notify whom, the message people read,
//! the generic JSON and the Slack/Teams shapes, and the HMAC-SHA256 signature.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

/// The notification a history event sets off, if any (`kind` and `state` of the event, and who
/// acted: an approval by the flow itself tells nobody).
pub fn event_for(kind: &str, state: &str, actor: &str) -> Option<&'static str> {
    Some(match kind {
        "approval_required" => "approval_requested",
        "approved" if actor.starts_with("users/") => "approved",
        "rejected" => "rejected",
        "failed" => "failed",
        "granted" => "granted",
        "ended" if state == "revoked" => "revoked",
        "ended" if state == "expired" => "expired",
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipient {
    pub user_id: String,
    pub user_name: String,
    pub email: String,
}

/// What a notification says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// `approval_requested`, `approved`, …
    pub event: String,
    pub request_id: String,
    pub flow: String,
    pub requester: String,
    pub grantee: String,
    /// `integration/resource:permission`
    pub items: Vec<String>,
    pub justification: String,
    pub duration: String,
    /// RFC 3339, when access has an end.
    pub ends_at: String,
    pub outcome: String,
    /// Who should act or know.
    pub recipients: Vec<Recipient>,
}

impl Notice {
    fn what(&self) -> String {
        let mut items = self.items.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
        if self.items.len() > 3 {
            items.push_str(&format!(" and {} more", self.items.len() - 3));
        }
        items
    }

    fn to(&self) -> String {
        self.recipients
            .iter()
            .map(|r| {
                if r.email.is_empty() {
                    r.user_name.clone()
                } else {
                    r.email.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The sentence people read.
    pub fn text(&self) -> String {
        let what = self.what();
        let for_whom = if self.grantee == self.requester {
            String::new()
        } else {
            format!(" for {}", self.grantee)
        };
        let id = &self.request_id;
        match self.event.as_str() {
            "approval_requested" => format!(
                "Approval needed: {} asks for {what}{for_whom}{} under flow {}{}. Approvers: {}. Decide with `latch requests approve {id} --reason …` or `latch requests reject {id}`.",
                self.requester,
                if self.duration.is_empty() {
                    String::new()
                } else {
                    format!(" for {}", self.duration)
                },
                self.flow,
                if self.justification.is_empty() {
                    String::new()
                } else {
                    format!(" (\"{}\")", self.justification)
                },
                self.to(),
            ),
            "approved" => format!("Approved: request {id} for {what}{for_whom} ({}).", self.flow),
            "rejected" => format!("Rejected: request {id} for {what}{for_whom}: {}.", self.outcome),
            "failed" => format!(
                "Failed: request {id} for {what}{for_whom} could not be granted: {}.",
                self.outcome
            ),
            "granted" => format!(
                "Access granted to {}: {what}{}.",
                self.grantee,
                if self.ends_at.is_empty() {
                    " until revoked".to_string()
                } else {
                    format!(" until {}", self.ends_at)
                }
            ),
            "expiring" => format!(
                "Access of {} to {what} ends at {} (request {id}; `latch requests extend {id}` if the flow allows).",
                self.grantee, self.ends_at
            ),
            "revoked" => format!("Access of {} to {what} was revoked: {}.", self.grantee, self.outcome),
            "expired" => format!("Access of {} to {what} expired.", self.grantee),
            "review_required" => format!(
                "Review needed: {} used break-glass access to {what} (request {id}); sign off with `latch reviews approve {id}` or flag it.",
                self.grantee
            ),
            other => format!("{other}: request {id}"),
        }
    }

    /// The body for a sink format: `generic` JSON, or a `text` message Slack and Teams
    /// incoming webhooks accept.
    pub fn body(&self, format: &str, delivery_id: &str, at: &str) -> String {
        match format {
            "slack" | "teams" => serde_json::json!({ "text": self.text() }).to_string(),
            _ => serde_json::json!({
                "id": delivery_id,
                "event": self.event,
                "time": at,
                "text": self.text(),
                "request": {
                    "id": self.request_id,
                    "flow": self.flow,
                    "requester": self.requester,
                    "grantee": self.grantee,
                    "items": self.items,
                    "justification": self.justification,
                    "duration": self.duration,
                    "ends_at": self.ends_at,
                    "outcome": self.outcome,
                },
                "recipients": self.recipients,
            })
            .to_string(),
        }
    }
}

/// `X-Latch-Signature`: `sha256=` and the hex HMAC-SHA256 of `{timestamp}.{body}` under the
/// sink's secret. Receivers recompute it and compare in constant time.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(event: &str) -> Notice {
        Notice {
            event: event.into(),
            request_id: "r1".into(),
            flow: "prod".into(),
            requester: "ann".into(),
            grantee: "ann".into(),
            items: vec!["shop/orders:read".into()],
            justification: "INC-7".into(),
            duration: "1h".into(),
            ends_at: String::new(),
            outcome: String::new(),
            recipients: vec![Recipient {
                user_id: "u2".into(),
                user_name: "bob".into(),
                email: "bob@x.io".into(),
            }],
        }
    }

    #[test]
    fn only_decisions_and_access_changes_notify() {
        assert_eq!(
            event_for("approval_required", "pending_approval", "latch"),
            Some("approval_requested")
        );
        assert_eq!(event_for("approved", "approved", "users/u2"), Some("approved"));
        assert_eq!(
            event_for("approved", "approved", "latch"),
            None,
            "automatic approval tells nobody"
        );
        assert_eq!(event_for("ended", "expired", "latch"), Some("expired"));
        assert_eq!(event_for("ended", "revoked", "latch"), Some("revoked"));
        assert_eq!(event_for("submitted", "submitted", "users/u1"), None);
    }

    #[test]
    fn slack_and_teams_get_text_and_generic_gets_the_request() {
        let n = notice("approval_requested");
        let slack: serde_json::Value = serde_json::from_str(&n.body("slack", "d1", "t")).unwrap();
        assert_eq!(slack.as_object().unwrap().len(), 1);
        let text = slack["text"].as_str().unwrap();
        assert!(
            text.contains("ann asks for shop/orders:read for 1h") && text.contains("bob@x.io"),
            "{text}"
        );
        let generic: serde_json::Value = serde_json::from_str(&n.body("generic", "d1", "t")).unwrap();
        assert_eq!(generic["request"]["items"][0], "shop/orders:read");
        assert_eq!(generic["recipients"][0]["user_name"], "bob");
    }

    #[test]
    fn signatures_depend_on_key_time_and_body() {
        let a = signature("k".repeat(16).as_str(), 1, "{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64);
        assert_ne!(a, signature("j".repeat(16).as_str(), 1, "{}"));
        assert_ne!(a, signature("k".repeat(16).as_str(), 2, "{}"));
        assert_ne!(a, signature("k".repeat(16).as_str(), 1, "{ }"));
    }
}
