//! The gRPC adapter of the audit log.

use std::pin::Pin;

use futures::Stream;
use latch_proto::request::v1 as pb;
use latch_proto::request::v1::audit_service_server::AuditService as AuditApi;
use latch_runtime::auth::caller;
use latch_runtime::database::{format_time, parse_time};
use latch_runtime::pagination::{MAX_PAGE_BYTES, PageScope};
use latch_runtime::wire::{instant, timestamp};
use latch_runtime::{ServiceError, ServiceResult};
use tonic::{Request, Response, Status};

use crate::audit_checkpoint_wire as wire;
use crate::domain::audit::AuditEvent;
use crate::service::{CheckpointOptions, CheckpointVerification, RequestService};
use crate::store::audit::AuditFilter;

pub use latch_proto::request::v1::audit_service_server::AuditServiceServer;

/// Events per page of an export.
const EXPORT_PAGE: u32 = 1000;

#[derive(Debug, Clone)]
pub struct AuditGrpc {
    service: RequestService,
}

impl AuditGrpc {
    pub fn new(service: RequestService) -> Self {
        Self { service }
    }

    pub fn into_server(self) -> AuditServiceServer<Self> {
        AuditServiceServer::new(self)
    }
}

fn filter(filter: Option<pb::AuditFilter>) -> ServiceResult<AuditFilter> {
    let f = filter.unwrap_or_default();
    Ok(AuditFilter {
        from: instant("filter.from", f.from.as_ref())?,
        to: instant("filter.to", f.to.as_ref())?,
        actor: f.actor.trim().to_string(),
        grantee: f.grantee.trim().to_string(),
        resource: f.resource.trim().to_string(),
        flow: f.flow.trim().to_string(),
        action: f.action.trim().to_string(),
        after: None,
        after_sequence: None,
        up_to_sequence: None,
    })
}

fn page_token(scope: &PageScope, event: &AuditEvent) -> String {
    scope.seal(&format!("{}|{}", format_time(event.at), event.id))
}

fn after_token(scope: &PageScope, token: &str) -> ServiceResult<Option<(chrono::DateTime<chrono::Utc>, String)>> {
    let Some(position) = scope.open(token)? else {
        return Ok(None);
    };
    let bad = || ServiceError::invalid("page_token", "is not a token returned by a previous call");
    let (at, id) = position.split_once('|').ok_or_else(bad)?;
    Ok(Some((parse_time(at).map_err(|_| bad())?, id.to_string())))
}

pub fn event(e: &AuditEvent) -> pb::AuditEvent {
    pb::AuditEvent {
        id: e.id.clone(),
        time: Some(timestamp(e.at)),
        actor: e.actor.clone(),
        action: e.action.clone(),
        subject: e.subject.clone(),
        source: e.source.clone(),
        grantee: e.grantee.clone(),
        flow: e.flow.clone(),
        resources: e.resources.clone(),
        before: e.before.clone(),
        after: e.after.clone(),
        detail: e.detail.clone(),
        sequence: e.sequence.unwrap_or(0),
        previous_hash: e.previous_hash.clone(),
        hash: e.hash.clone(),
    }
}

const CSV_HEADER: &str =
    "sequence,id,time,actor,action,subject,source,grantee,flow,resources,before,after,detail,previous_hash,hash\n";

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn csv_line(e: &AuditEvent) -> String {
    let sequence = e.sequence.map(|s| s.to_string()).unwrap_or_default();
    let fields = [
        sequence.as_str(),
        &e.id,
        &format_time(e.at),
        &e.actor,
        &e.action,
        &e.subject,
        &e.source,
        &e.grantee,
        &e.flow,
        &e.resources,
        &e.before,
        &e.after,
        &e.detail,
        &e.previous_hash,
        &e.hash,
    ];
    let mut line = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    line.push('\n');
    line
}

fn json_line(e: &AuditEvent) -> String {
    let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap_or(serde_json::Value::Null);
    let mut line = serde_json::json!({
        "sequence": e.sequence,
        "id": e.id,
        "time": format_time(e.at),
        "actor": e.actor,
        "action": e.action,
        "subject": e.subject,
        "source": e.source,
        "grantee": e.grantee,
        "flow": e.flow,
        "resources": e.resources,
        "before": parse(&e.before),
        "after": parse(&e.after),
        "detail": e.detail,
        "previous_hash": e.previous_hash,
        "hash": e.hash,
    })
    .to_string();
    line.push('\n');
    line
}

fn signing_key(key_id: String, public_key: String) -> pb::AuditSigningKey {
    pb::AuditSigningKey {
        algorithm: "ed25519".into(),
        key_id,
        public_key,
    }
}

type ExportStream = Pin<Box<dyn Stream<Item = Result<pb::ExportChunk, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl AuditApi for AuditGrpc {
    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        if request.page_size < 0 {
            return Err(ServiceError::invalid("page_size", "must not be negative").into());
        }
        let size = match request.page_size {
            0 => 100,
            n => (n as u32).min(1000),
        };
        let scope = PageScope::new("audit.events", &caller.user_id, &request.filter);
        let mut filter = filter(request.filter)?;
        filter.after = after_token(&scope, &request.page_token)?;
        let events = self.service.audit_events(&caller, filter, size).await?;
        // At most MAX_PAGE_BYTES of messages: a page cut short continues after its last event.
        let mut shown = Vec::with_capacity(events.len());
        let mut bytes = 0usize;
        for found in &events {
            let message = event(found);
            let grown = bytes + prost::Message::encoded_len(&message) + 8;
            if !shown.is_empty() && grown > MAX_PAGE_BYTES {
                break;
            }
            bytes = grown;
            shown.push(message);
        }
        let next_page_token = match events.get(shown.len().wrapping_sub(1)) {
            Some(last) if events.len() as u32 == size || shown.len() < events.len() => page_token(&scope, last),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListAuditEventsResponse {
            events: shown,
            next_page_token,
        }))
    }

    async fn verify_audit_log(
        &self,
        request: Request<pb::VerifyAuditLogRequest>,
    ) -> Result<Response<pb::VerifyAuditLogResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let options = CheckpointOptions {
            check: request.checkpoints || !request.kept_checkpoints.is_empty(),
            kept: wire::kept(&request.kept_checkpoints)?,
        };
        let signing_key = if options.check {
            let (key_id, public_key) = self.service.audit_public_key(&caller)?;
            Some(signing_key(key_id, public_key))
        } else {
            None
        };
        let report = self.service.verify_audit_with(&caller, options).await?;
        let broken = report.broken.clone().unwrap_or_else(|| crate::domain::audit::Broken {
            sequence: 0,
            id: String::new(),
            reason: String::new(),
        });
        let checkpoints = report.checkpoints.clone().unwrap_or(CheckpointVerification {
            verified: 0,
            problems: Vec::new(),
            latest_sequence: 0,
        });
        Ok(Response::new(pb::VerifyAuditLogResponse {
            intact: report.broken.is_none() && checkpoints.problems.is_empty(),
            verified: report.verified,
            pending: report.pending,
            head_hash: report.head_hash,
            first_broken_sequence: broken.sequence,
            first_broken_id: broken.id,
            reason: broken.reason,
            checkpoints_checked: report.checkpoints.is_some(),
            checkpoints_verified: checkpoints.verified as i64,
            checkpoint_problems: checkpoints.problems.iter().map(wire::problem).collect(),
            latest_checkpoint_sequence: checkpoints.latest_sequence,
            signing_key,
        }))
    }

    async fn get_audit_signing_key(
        &self,
        request: Request<pb::GetAuditSigningKeyRequest>,
    ) -> Result<Response<pb::AuditSigningKey>, Status> {
        let caller = caller(&request)?;
        let (key_id, public_key) = self.service.audit_public_key(&caller)?;
        Ok(Response::new(signing_key(key_id, public_key)))
    }

    type ExportAuditEventsStream = ExportStream;

    async fn export_audit_events(
        &self,
        request: Request<pb::ExportAuditEventsRequest>,
    ) -> Result<Response<Self::ExportAuditEventsStream>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let csv = match request.format.trim() {
            "" | "jsonl" => false,
            "csv" => true,
            other => {
                return Err(ServiceError::invalid("format", format!("{other:?} is not jsonl or csv")).into());
            }
        };
        let mut filter = filter(request.filter)?;
        // Sealed events in chain order: nothing stamped earlier but sealed later is skipped.
        filter.after_sequence = Some(0);
        // The caller and the filter are checked before anything is signed or streamed.
        self.service.audit_events(&caller, filter.clone(), 1).await?;
        // The export ends at the head signed for it, so an unfiltered export is the chain up to
        // a checkpoint a user can keep.
        let checkpoint = self.service.export_checkpoint(&caller).await?;
        let public_key = match &checkpoint {
            Some(_) => self.service.audit_public_key(&caller)?.1,
            None => String::new(),
        };
        filter.up_to_sequence = checkpoint.as_ref().map(|c| c.sequence);
        let first = self.service.audit_events(&caller, filter.clone(), EXPORT_PAGE).await?;
        let service = self.service.clone();
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut page = first;
            let mut header = csv;
            loop {
                let mut data = String::new();
                if header {
                    data.push_str(CSV_HEADER);
                    header = false;
                }
                for e in &page {
                    let line = if csv { csv_line(e) } else { json_line(e) };
                    // Chunks stay within MAX_PAGE_BYTES (a line is never split).
                    if !data.is_empty() && data.len() + line.len() > MAX_PAGE_BYTES {
                        let full = std::mem::take(&mut data);
                        if sender
                            .send(Ok(pb::ExportChunk {
                                data: full.into_bytes(),
                            }))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    data.push_str(&line);
                }
                if !data.is_empty()
                    && sender
                        .send(Ok(pb::ExportChunk {
                            data: data.into_bytes(),
                        }))
                        .await
                        .is_err()
                {
                    return;
                }
                let Some(last) = page.last().filter(|_| page.len() as u32 == EXPORT_PAGE) else {
                    if let Some(checkpoint) = &checkpoint {
                        let data = if csv {
                            wire::csv_line(checkpoint)
                        } else {
                            wire::json_line(checkpoint, &public_key)
                        };
                        let _ = sender
                            .send(Ok(pb::ExportChunk {
                                data: data.into_bytes(),
                            }))
                            .await;
                    }
                    return;
                };
                filter.after_sequence = last.sequence;
                page = match service.audit_events(&caller, filter.clone(), EXPORT_PAGE).await {
                    Ok(page) => page,
                    Err(error) => {
                        let _ = sender.send(Err(error.into())).await;
                        return;
                    }
                };
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(
            receiver,
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_commas_quotes_and_newlines_are_quoted() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }
}
