//! Webhook notifications. A history event that someone must hear about enqueues one `notify`
//! job per sink in the transaction of the change, so none is lost; the job builds the message
//! when it runs (who may approve is decided then), signs it, posts it, logs every attempt, and
//! retries with backoff until the sink answers 2xx or the attempts run out.

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::{DateTime, Utc};
use latch_policy::duration::Span;
use latch_runtime::config::WebhookConfig;
use latch_runtime::database::format_time;
use latch_runtime::{ServiceError, ServiceResult};
use serde::{Deserialize, Serialize};

use super::grant::Attempt;
use super::{Policy, RequestService, Tx};
use crate::domain::lifecycle::State;
use crate::domain::notice::{Notice, Recipient, event_for, signature};
use crate::store::deliveries::{self, Delivery};
use crate::store::jobs::Job;
use crate::store::requests::{self, EventRow, RequestRow};

/// A notification given up after this many failed attempts (about an hour of retries).
pub const MAX_NOTIFY_ATTEMPTS: i32 = 16;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct NotifyJob {
    sink: String,
    event: String,
    /// For `expiring`: the end it warns about (an extension makes it stale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ends_at: Option<DateTime<Utc>>,
}

fn wants(sink: &WebhookConfig, event: &str) -> bool {
    sink.events.is_empty() || sink.events.iter().any(|e| e == event)
}

impl RequestService {
    fn sinks_for(&self, event: &str) -> impl Iterator<Item = &WebhookConfig> {
        self.config().webhooks.iter().filter(move |s| wants(s, event))
    }

    async fn enqueue_notice(
        &self,
        tx: &Tx,
        request: &RequestRow,
        id: String,
        job: NotifyJob,
        due_at: DateTime<Utc>,
    ) -> ServiceResult<()> {
        let payload = serde_json::to_string(&job).map_err(ServiceError::internal)?;
        self.enqueue_job(tx, "notify", &request.id, id, due_at, payload).await
    }

    /// Enqueues the notifications `events` set off (in the caller's transaction).
    pub(crate) async fn notify(&self, tx: &Tx, request: &RequestRow, events: &[EventRow]) -> ServiceResult<()> {
        if self.config().webhooks.is_empty() {
            return Ok(());
        }
        for e in events {
            let Some(event) = event_for(&e.kind, &e.state, &e.actor) else {
                continue;
            };
            let sinks: Vec<String> = self.sinks_for(event).map(|s| s.name.clone()).collect();
            for sink in sinks {
                let id = format!("notify:{sink}:{}:{}", request.id, e.seq);
                let job = NotifyJob {
                    sink,
                    event: event.to_string(),
                    ends_at: None,
                };
                self.enqueue_notice(tx, request, id, job, e.at).await?;
            }
        }
        Ok(())
    }

    /// Enqueues `event` about `request` to every sink that wants it (`tag` tells repeated
    /// notifications of one event apart).
    pub(crate) async fn notify_event(
        &self,
        tx: &Tx,
        request: &RequestRow,
        event: &str,
        tag: &str,
    ) -> ServiceResult<()> {
        let sinks: Vec<String> = self.sinks_for(event).map(|s| s.name.clone()).collect();
        for sink in sinks {
            let id = format!("notify:{sink}:{}:{tag}", request.id);
            let job = NotifyJob {
                sink,
                event: event.to_string(),
                ends_at: None,
            };
            self.enqueue_notice(tx, request, id, job, self.now()).await?;
        }
        Ok(())
    }

    /// Warns the grantee the configured lead time before access ends (again after an extension).
    pub(crate) async fn notify_expiring(&self, tx: &Tx, request: &RequestRow) -> ServiceResult<()> {
        let Some(end) = request.ends_at else {
            return Ok(());
        };
        let due = (end - self.config().expiry_lead).max(self.now());
        let sinks: Vec<String> = self.sinks_for("expiring").map(|s| s.name.clone()).collect();
        for sink in sinks {
            let id = format!("notify:{sink}:{}:expiring:{}", request.id, end.timestamp_micros());
            let job = NotifyJob {
                sink,
                event: "expiring".into(),
                ends_at: Some(end),
            };
            self.enqueue_notice(tx, request, id, job, due).await?;
        }
        Ok(())
    }

    /// Job `notify`: builds, signs and posts one notification to one sink.
    pub(crate) async fn run_notify(&self, job: &Job) -> ServiceResult<Attempt> {
        let spec: NotifyJob = serde_json::from_str(&job.payload).map_err(ServiceError::internal)?;
        let Some(sink) = self.config().webhooks.iter().find(|s| s.name == spec.sink).cloned() else {
            // The sink was removed from the configuration: nothing to send to.
            return self.finish_plain(job).await;
        };
        let request = self.load(self.db(), &job.subject).await?;
        if spec.event == "expiring" && (request.state != State::Active || request.ends_at != spec.ends_at) {
            // Ended or extended since: this warning is stale.
            return self.finish_plain(job).await;
        }
        let notice = self.notice(&request, &spec.event).await?;
        let now = self.now();
        let body = notice.body(&sink.format, &job.id, &format_time(now));
        let started = Instant::now();
        let answer = self
            .http()
            .post(&sink.url)
            .header("content-type", "application/json")
            .header("x-latch-event", &spec.event)
            .header("x-latch-delivery", &job.id)
            .header("x-latch-timestamp", now.timestamp().to_string())
            .header("x-latch-signature", signature(&sink.secret, now.timestamp(), &body))
            .body(body)
            .send()
            .await;
        let (status, error) = match answer {
            Ok(response) if response.status().is_success() => (response.status().as_u16(), String::new()),
            Ok(response) => (
                response.status().as_u16(),
                format!("the sink answered {}", response.status()),
            ),
            // The URL may hold the sink's secret: say what failed, not where.
            Err(error) => (0, format!("no answer: {}", error.without_url())),
        };
        let attempt = job.attempts + 1;
        let delivery = Delivery {
            id: uuid::Uuid::now_v7().to_string(),
            job_id: job.id.clone(),
            sink: sink.name.clone(),
            event: spec.event.clone(),
            request_id: request.id.clone(),
            attempt,
            status: i32::from(status),
            error: error.clone(),
            at: now,
            millis: started.elapsed().as_millis() as i64,
        };
        {
            let _turn = self.writer_turn().await;
            deliveries::insert(self.db(), &delivery).await?;
        }
        if error.is_empty() {
            return self.finish_plain(job).await;
        }
        if attempt >= MAX_NOTIFY_ATTEMPTS {
            tracing::warn!(job = %job.id, sink = %sink.name, %error, "notification given up");
            return self.finish_plain(job).await;
        }
        Ok(Attempt::Retry(error))
    }

    /// Webhook delivery attempts, newest first (admins).
    pub async fn deliveries(&self, caller: &latch_runtime::Caller, limit: u32) -> ServiceResult<Vec<Delivery>> {
        caller.require_admin()?;
        Ok(deliveries::recent(self.db(), limit.clamp(1, 1000)).await?)
    }

    /// Marks a job done that changed nothing else.
    async fn finish_plain(&self, job: &Job) -> ServiceResult<Attempt> {
        let tx = self.begin(&job.subject).await?;
        self.finish(tx, job).await
    }

    /// What the notification about `request` says, and to whom, as things are now.
    async fn notice(&self, request: &RequestRow, event: &str) -> ServiceResult<Notice> {
        let people = &self.ports().people;
        let name = |facts: Option<latch_policy::conditions::Facts>, id: &str| {
            facts.map(|f| f.user_name).unwrap_or_else(|| id.to_string())
        };
        let grantee_facts = people.facts(&request.grantee_id).await?;
        let requester_facts = people.facts(&request.requester_id).await?;
        let recipient = |facts: &Option<latch_policy::conditions::Facts>, id: &str| Recipient {
            user_id: id.to_string(),
            user_name: facts
                .as_ref()
                .map(|f| f.user_name.clone())
                .unwrap_or_else(|| id.to_string()),
            email: facts.as_ref().map(|f| f.email.clone()).unwrap_or_default(),
        };
        let items = requests::items(self.db(), &request.id).await?;
        let recipients = match event {
            "approval_requested" => self.approvers_to_tell(request, &items).await?,
            "review_required" => self.reviewers_to_tell(request).await?,
            "approved" | "rejected" | "failed" if request.requester_id != super::AUTOMATIC_REQUESTER => {
                vec![recipient(&requester_facts, &request.requester_id)]
            }
            _ => vec![recipient(&grantee_facts, &request.grantee_id)],
        };
        Ok(Notice {
            event: event.to_string(),
            request_id: request.id.clone(),
            flow: request.flow_name.clone(),
            requester: name(requester_facts, &request.requester_id),
            grantee: name(grantee_facts, &request.grantee_id),
            items: items
                .iter()
                .map(|i| format!("{}/{}:{}", i.integration_name, i.resource_name, i.permission))
                .collect(),
            justification: request.justification.clone(),
            duration: request
                .duration_secs
                .and_then(|s| Span::seconds(s as u64))
                .map(|s| s.to_string())
                .unwrap_or_default(),
            ends_at: request.ends_at.map(format_time).unwrap_or_default(),
            outcome: request.outcome.clone(),
            recipients,
        })
    }

    /// Admins and auditors other than the requester and grantee.
    async fn reviewers_to_tell(&self, request: &RequestRow) -> ServiceResult<Vec<Recipient>> {
        Ok(self
            .ports()
            .people
            .reviewers()
            .await?
            .into_iter()
            .filter(|f| f.user_id != request.grantee_id && f.user_id != request.requester_id)
            .map(|f| Recipient {
                user_id: f.user_id,
                user_name: f.user_name,
                email: f.email,
            })
            .collect())
    }

    /// Everyone who may approve the request now and has not decided.
    async fn approvers_to_tell(
        &self,
        request: &RequestRow,
        items: &[requests::ItemRow],
    ) -> ServiceResult<Vec<Recipient>> {
        let policy = Policy::parse(&request.policy)?;
        let (context, _) = self.approval_context(request, items, &policy).await?;
        let approvals = requests::approvals(self.db(), &request.id).await?;
        let decided: BTreeSet<&str> = approvals.iter().map(|a| a.approver_id.as_str()).collect();
        let names: BTreeSet<String> = self
            .eligible_approvers(&policy, &context, &decided, 50)
            .await?
            .into_iter()
            .flatten()
            .collect();
        let mut out = Vec::new();
        for user in names {
            if let Some(facts) = self.ports().people.facts(&user).await? {
                out.push(Recipient {
                    user_id: facts.user_id,
                    user_name: facts.user_name,
                    email: facts.email,
                });
            }
        }
        Ok(out)
    }
}

/// How long notification deliveries wait for an answer.
pub(crate) const WEBHOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
