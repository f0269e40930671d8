//! Making a request: the flow decides, the request is written with what it needs next.

use chrono::{DateTime, TimeDelta, Utc};
use latch_policy::duration::Span;
use latch_runtime::{Caller, ServiceError, ServiceResult};

use super::{RequestService, Tx};
use crate::domain::flows::{Asked, Decision, Item};
use crate::domain::lifecycle::{Event, State};
use crate::store::requests::{self, ItemRow, ItemState, RequestRow};

/// Longest justification kept.
pub const MAX_JUSTIFICATION: usize = 2000;
/// Longest client request id.
pub const MAX_CLIENT_ID: usize = 128;

/// What a requester asks for.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    /// Idempotency: the same id from the same requester returns the first request.
    pub client_request_id: String,
    /// For whom (id or user name); empty: the requester.
    pub grantee: String,
    pub asked: Asked,
    pub duration: Option<Span>,
    pub justification: String,
    /// Only this flow (id or name); otherwise the documented choice among those allowing it.
    pub flow: String,
    /// Access granted at this time (approved ahead); now when unset.
    pub starts_at: Option<DateTime<Utc>>,
    /// The requester's current TOTP code, when the flow requires MFA and they are the grantee.
    pub mfa_code: String,
}

fn refusal(answer: &Decision) -> ServiceError {
    if answer.refusals.is_empty() {
        return ServiceError::FailedPrecondition("no flow covers what was asked".into());
    }
    let reasons: Vec<String> = answer
        .refusals
        .iter()
        .map(|refusal| format!("{}: {}", refusal.flow_name, refusal.reasons.join("; ")))
        .collect();
    ServiceError::FailedPrecondition(format!("no flow allows this request — {}", reasons.join(" | ")))
}

impl RequestService {
    pub async fn submit(&self, caller: &Caller, submission: Submission) -> ServiceResult<RequestRow> {
        let client_id = submission.client_request_id.trim().to_string();
        if client_id.chars().count() > MAX_CLIENT_ID {
            return Err(ServiceError::invalid(
                "request_id",
                format!("must be at most {MAX_CLIENT_ID} characters"),
            ));
        }
        if !client_id.is_empty()
            && let Some(existing) = requests::find_by_client_id(self.db(), &caller.user_id, &client_id).await?
        {
            return Ok(existing);
        }
        let justification = submission.justification.trim().to_string();
        if justification.chars().count() > MAX_JUSTIFICATION {
            return Err(ServiceError::invalid(
                "justification",
                format!("must be at most {MAX_JUSTIFICATION} characters"),
            ));
        }
        let now = self.now();
        if let Some(start) = submission.starts_at
            && start < now - TimeDelta::minutes(1)
        {
            return Err(ServiceError::invalid("start_time", "must not be in the past"));
        }
        let ports = self.ports();
        let answer = ports
            .flows
            .decide(
                caller,
                &submission.grantee,
                &submission.asked,
                submission.duration,
                now,
                &submission.flow,
            )
            .await?;
        // The policy comes from the same evaluation that chose the flow: what was evaluated is
        // what is stored.
        let Some(crate::domain::flows::Chosen {
            allowance: chosen,
            snapshot,
        }) = answer.chosen.clone()
        else {
            return Err(refusal(&answer));
        };
        if chosen.require_justification && justification.is_empty() {
            return Err(ServiceError::invalid(
                "justification",
                format!("required by the flow {}", chosen.flow_name),
            ));
        }
        let grantee_ref = if submission.grantee.trim().is_empty() {
            caller.user_id.as_str()
        } else {
            submission.grantee.trim()
        };
        let grantee = ports
            .people
            .facts(grantee_ref)
            .await?
            .ok_or_else(|| ServiceError::invalid("grantee", format!("no active user {grantee_ref:?}")))?;
        if snapshot.policy.needs_approval() != chosen.needs_approval {
            return Err(ServiceError::Internal(format!(
                "the flow service's decision and the policy of {} disagree on approval",
                chosen.flow_name
            )));
        }
        let mfa_done = if chosen.require_mfa && !submission.mfa_code.trim().is_empty() {
            if grantee.user_id != caller.user_id {
                return Err(ServiceError::invalid(
                    "mfa_code",
                    "only the grantee verifies MFA; they run `latch requests verify`",
                ));
            }
            if !ports
                .people
                .verify_mfa(&grantee.user_id, submission.mfa_code.trim())
                .await?
            {
                return Err(ServiceError::PermissionDenied(
                    "mfa_code: wrong or already used code".into(),
                ));
            }
            true
        } else {
            false
        };
        let id = uuid::Uuid::now_v7().to_string();
        let mut items = self.item_rows(&id, &answer.items).await?;
        let mut request = RequestRow {
            id: id.clone(),
            requester_id: caller.user_id.clone(),
            grantee_id: grantee.user_id.clone(),
            client_request_id: client_id.clone(),
            flow_id: chosen.flow_id.clone(),
            flow_name: chosen.flow_name.clone(),
            state: State::Submitted,
            justification,
            duration_secs: chosen.duration.map(|d| d.as_seconds() as i64),
            starts_at: submission.starts_at.filter(|s| *s > now),
            approval_deadline: None,
            granted_at: None,
            ends_at: None,
            extensions_used: 0,
            ends_by: String::new(),
            outcome: String::new(),
            policy: snapshot.stored,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        // The request is written once, in the state it reaches now, with its history.
        let tx = self.begin(&grantee.user_id).await?;
        let actor = caller.actor();
        let detail = format!(
            "{} item(s) under flow {}{}",
            items.len(),
            chosen.flow_name,
            match request.duration_secs.and_then(|s| Span::seconds(s as u64)) {
                Some(span) => format!(" for {span}"),
                None => ", indefinite".to_string(),
            }
        );
        let mut events = vec![self.note(&mut request, "submitted", &actor, &detail)];
        let mut granting = false;
        if chosen.require_mfa && !mfa_done {
            events.push(self.apply(
                &mut request,
                Event::MfaRequired,
                "latch",
                "the flow requires MFA from the grantee",
            )?);
        } else {
            if mfa_done {
                events.push(self.note(&mut request, "mfa_verified", &actor, "verified at submission"));
            }
            if chosen.needs_approval {
                request.approval_deadline = Some(now + self.config().approval_timeout);
                events.push(self.apply(&mut request, Event::ApprovalRequired, "latch", "waiting for approval")?);
                self.enqueue(
                    &tx,
                    "approval_timeout",
                    &id,
                    format!("approval_timeout:{id}"),
                    request.approval_deadline.unwrap_or(now),
                )
                .await?;
            } else {
                events.push(self.apply(
                    &mut request,
                    Event::Approved,
                    "latch",
                    "approved automatically by the flow",
                )?);
                match request.starts_at {
                    Some(start) => {
                        self.enqueue(&tx, "start", &id, format!("start:{id}"), start).await?;
                    }
                    None => {
                        events.push(self.apply(&mut request, Event::GrantStarted, "latch", "granting")?);
                        self.open_holds(&tx, &request, &mut items).await?;
                        granting = true;
                    }
                }
            }
        }
        if let Err(error) = requests::insert_request(&*tx, &request).await {
            drop(tx);
            // Lost a race with the same client request id: answer with the first request.
            if !client_id.is_empty()
                && let Some(existing) = requests::find_by_client_id(self.db(), &caller.user_id, &client_id).await?
            {
                return Ok(existing);
            }
            return Err(error.into());
        }
        requests::insert_items(&*tx, &items).await?;
        if request.state == State::PendingApproval {
            self.index_approvers(&tx, &request, &items).await?;
        }
        self.publish(&tx, &request, &events).await?;
        if granting && items.iter().all(|i| i.state == ItemState::Granted) {
            // Every item is already held by the grantee's other requests.
            self.activate_if_granted(&tx, &mut request).await?;
        }
        tx.commit().await?;
        tracing::info!(request = %request.id, flow = %request.flow_name, state = ?request.state, "request submitted");
        Ok(request)
    }

    /// The rows of a new request's items, with what the catalog says of each resource.
    pub(crate) async fn item_rows(&self, request_id: &str, asked: &[Item]) -> ServiceResult<Vec<ItemRow>> {
        let mut items = Vec::with_capacity(asked.len());
        for (position, item) in asked.iter().enumerate() {
            let info = self
                .ports()
                .targets
                .resource(&item.integration_id, &item.resource_id)
                .await?;
            items.push(ItemRow {
                request_id: request_id.to_string(),
                position: position as i32,
                integration_id: item.integration_id.clone(),
                integration_name: info.integration_name,
                resource_id: item.resource_id.clone(),
                resource_type: info.resource_type,
                resource_name: info.name,
                permission: item.permission.clone(),
                owners: info.owners.join(","),
                state: ItemState::Pending,
                hold_id: None,
            });
        }
        Ok(items)
    }

    /// Once MFA is done (or not needed): waits for approval, or is approved at once.
    pub(crate) async fn after_mfa(&self, tx: &Tx, request: &mut RequestRow, needs_approval: bool) -> ServiceResult<()> {
        if needs_approval {
            request.approval_deadline = Some(self.now() + self.config().approval_timeout);
            self.transition(tx, request, Event::ApprovalRequired, "latch", "waiting for approval")
                .await?;
            let items = requests::items(&**tx, &request.id).await?;
            self.index_approvers(tx, request, &items).await?;
            let deadline = request.approval_deadline.unwrap_or_else(|| self.now());
            self.enqueue(
                tx,
                "approval_timeout",
                &request.id,
                format!("approval_timeout:{}", request.id),
                deadline,
            )
            .await
        } else {
            self.approve_now(tx, request, "latch", "approved automatically by the flow")
                .await
        }
    }

    /// The request is approved: its grant starts now or at its start time.
    pub(crate) async fn approve_now(
        &self,
        tx: &Tx,
        request: &mut RequestRow,
        actor: &str,
        detail: &str,
    ) -> ServiceResult<()> {
        self.transition(tx, request, Event::Approved, actor, detail).await?;
        match request.starts_at.filter(|start| *start > self.now()) {
            Some(start) => {
                self.enqueue(tx, "start", &request.id, format!("start:{}", request.id), start)
                    .await
            }
            None => self.start_granting(tx, request).await,
        }
    }
}
