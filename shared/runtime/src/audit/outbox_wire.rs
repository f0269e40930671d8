//! The outbox on the wire (`latch.common.v1.ListAuditOutbox*`): what the contexts answer and
//! what the request service reads back.

use latch_proto::common::v1 as pb;

use super::AuditRecord;
use super::outbox::{DEFAULT_PAGE, MAX_PAGE, OutboxEntry};
use crate::auth::caller;
use crate::error::{ServiceError, ServiceResult};
use crate::service_identity::ServiceName;

/// Only the request service, which keeps the audit log, may read (and so empty) an outbox: the
/// internal service's gate may admit other services for its other methods.
pub fn require_audit_log<T>(request: &tonic::Request<T>) -> Result<(), tonic::Status> {
    if caller(request)?.service_name() != Some(ServiceName::Request) {
        return Err(ServiceError::PermissionDenied("only the request service may call ListAuditOutbox".into()).into());
    }
    Ok(())
}

/// The cursor and page size asked for; negative values are refused.
pub fn page(request: &pb::ListAuditOutboxRequest) -> ServiceResult<(i64, u32)> {
    if request.after_sequence < 0 {
        return Err(ServiceError::invalid("after_sequence", "must not be negative"));
    }
    let size = match u32::try_from(request.page_size) {
        Err(_) => return Err(ServiceError::invalid("page_size", "must not be negative")),
        Ok(0) => DEFAULT_PAGE,
        Ok(size) => size.min(MAX_PAGE),
    };
    Ok((request.after_sequence, size))
}

/// What the request service asks a context for: a page of up to `limit` after `after`.
pub fn request(after: i64, limit: u32) -> pb::ListAuditOutboxRequest {
    pb::ListAuditOutboxRequest {
        after_sequence: after,
        page_size: i32::try_from(limit).unwrap_or(i32::MAX),
    }
}

/// The answer to a page asked after `after`.
pub fn response(after: i64, entries: &[OutboxEntry]) -> pb::ListAuditOutboxResponse {
    pb::ListAuditOutboxResponse {
        next_after_sequence: entries.last().map_or(after, |e| e.sequence),
        events: entries.iter().map(event).collect(),
    }
}

fn event(entry: &OutboxEntry) -> pb::AuditOutboxEvent {
    let record = &entry.record;
    pb::AuditOutboxEvent {
        sequence: entry.sequence,
        time: Some(latch_proto::time::timestamp(entry.at)),
        actor: record.actor.clone(),
        action: record.action.clone(),
        subject: record.subject.clone(),
        source: record.source.clone(),
        grantee: record.grantee.clone(),
        flow: record.flow.clone(),
        resources: record.resources.clone(),
        before_json: record.before.to_string(),
        after_json: record.after.to_string(),
        detail: record.detail.clone(),
    }
}

fn json(text: String) -> serde_json::Value {
    if text.is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}

/// A page as the request service reads it: after `after`, in order and without gaps, each with
/// its time. Anything else is the peer's fault and refused whole (nothing is half-copied). The
/// page may start past `after + 1` only when another replica of the log copied those events and
/// moved the cursor meanwhile (they were deleted when it asked); the copy re-reads the cursor.
pub fn entries(after: i64, answer: pb::ListAuditOutboxResponse) -> ServiceResult<Vec<OutboxEntry>> {
    let mut entries: Vec<OutboxEntry> = Vec::with_capacity(answer.events.len());
    for (i, event) in answer.events.into_iter().enumerate() {
        let due = entries.last().map_or(event.sequence.max(after + 1), |e| e.sequence + 1);
        if event.sequence != due {
            return Err(ServiceError::Internal(format!(
                "audit outbox events[{i}]: sequence {} where {due} was due",
                event.sequence
            )));
        }
        let at = event
            .time
            .as_ref()
            .and_then(latch_proto::time::to_datetime)
            .ok_or_else(|| ServiceError::Internal(format!("audit outbox events[{i}]: no valid time")))?;
        entries.push(OutboxEntry {
            sequence: event.sequence,
            at,
            record: AuditRecord {
                actor: event.actor,
                action: event.action,
                subject: event.subject,
                source: event.source,
                grantee: event.grantee,
                flow: event.flow,
                resources: event.resources,
                before: json(event.before_json),
                after: json(event.after_json),
                detail: event.detail,
            },
        });
    }
    Ok(entries)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn entry(sequence: i64) -> OutboxEntry {
        OutboxEntry {
            sequence,
            at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            record: AuditRecord {
                actor: "users/u1".into(),
                action: "flow.created".into(),
                subject: "flows/f1".into(),
                source: "127.0.0.1".into(),
                before: serde_json::Value::Null,
                after: serde_json::json!({ "name": "db" }),
                resources: vec!["a".into()],
                ..AuditRecord::default()
            },
        }
    }

    #[test]
    fn a_page_survives_the_wire() {
        let sent = vec![entry(4), entry(5)];
        let answer = response(3, &sent);
        assert_eq!(answer.next_after_sequence, 5);
        assert_eq!(entries(3, answer).unwrap(), sent);
        assert_eq!(response(7, &[]).next_after_sequence, 7);
    }

    #[test]
    fn gaps_and_bad_pages_are_refused() {
        assert!(entries(3, response(3, &[entry(5), entry(7)])).is_err());
        assert!(entries(5, response(4, &[entry(5)])).is_err());
        assert_eq!(entries(3, response(3, &[entry(5), entry(6)])).unwrap().len(), 2);
        let bad = pb::ListAuditOutboxRequest {
            after_sequence: -1,
            page_size: 0,
        };
        assert!(page(&bad).is_err());
        let bad = pb::ListAuditOutboxRequest {
            after_sequence: 0,
            page_size: -5,
        };
        assert!(page(&bad).is_err());
        let big = pb::ListAuditOutboxRequest {
            after_sequence: 2,
            page_size: 1_000_000,
        };
        assert_eq!(page(&big).unwrap(), (2, MAX_PAGE));
    }
}
