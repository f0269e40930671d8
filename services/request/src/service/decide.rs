//! What people do to a request: the grantee verifies MFA, approvers approve or reject, the
//! parties cancel, revoke or extend. Who may act is decided here, on the server, from the token.

use latch_proto::common::v1::Role;
use latch_runtime::{Caller, ServiceError, ServiceResult};

use super::{Policy, RequestService};
use crate::domain::approval::{Progress, check_reason, eligible_groups};
use crate::domain::lifecycle::{Event, State};
use crate::store::requests::{self, ApprovalRow, RequestRow};

/// Longest reason kept for cancel and revoke.
const MAX_REASON: usize = 500;

fn is_party(caller: &Caller, request: &RequestRow) -> bool {
    caller.user_id == request.requester_id || caller.user_id == request.grantee_id
}

impl RequestService {
    /// Refuses someone who is not a party (nor, with `admins`, an admin): PERMISSION_DENIED for
    /// those who may read the request, NOT_FOUND for the others, so its existence does not leak.
    async fn require_party(
        &self,
        caller: &Caller,
        request: &RequestRow,
        admins: bool,
        what: &str,
    ) -> ServiceResult<()> {
        if is_party(caller, request) || (admins && caller.has_role(Role::Admin)) {
            return Ok(());
        }
        match self.get(caller, &request.id).await {
            Ok(_) => Err(ServiceError::PermissionDenied(what.into())),
            Err(_) => Err(ServiceError::NotFound(format!("request {:?}", request.id))),
        }
    }
}

fn short_reason(reason: &str) -> ServiceResult<String> {
    let reason = reason.trim();
    if reason.chars().count() > MAX_REASON {
        return Err(ServiceError::invalid(
            "reason",
            format!("must be at most {MAX_REASON} characters"),
        ));
    }
    Ok(reason.to_string())
}

impl RequestService {
    /// The grantee's TOTP code for a request awaiting MFA.
    pub async fn verify_mfa(&self, caller: &Caller, id: &str, code: &str) -> ServiceResult<RequestRow> {
        let request = self.load(self.db(), id).await?;
        if caller.user_id != request.grantee_id {
            return Err(ServiceError::PermissionDenied(
                "only the grantee verifies MFA for a request".into(),
            ));
        }
        if request.state != State::AwaitingMfa {
            return Err(ServiceError::FailedPrecondition(format!(
                "the request is {}; it is not waiting for MFA",
                requests::state_name(request.state)
            )));
        }
        if code.trim().is_empty() {
            return Err(ServiceError::invalid(
                "code",
                "the current code from your authenticator app is required",
            ));
        }
        if !self.ports().people.verify_mfa(&caller.user_id, code.trim()).await? {
            return Err(ServiceError::PermissionDenied(
                "code: wrong or already used code".into(),
            ));
        }
        let (tx, mut request) = self.lock(id).await?;
        if request.state != State::AwaitingMfa {
            return Ok(request);
        }
        let policy = Policy::parse(&request.policy)?;
        self.transition(
            &tx,
            &mut request,
            Event::MfaVerified,
            &caller.actor(),
            "the grantee verified MFA",
        )
        .await?;
        self.after_mfa(&tx, &mut request, policy.needs_approval()).await?;
        tx.commit().await?;
        Ok(request)
    }

    /// Approves (or rejects) as the caller. Eligibility is checked now, against the request's
    /// policy, the caller's current groups and attributes, and who is on call now.
    pub async fn decide(&self, caller: &Caller, id: &str, approve: bool, reason: &str) -> ServiceResult<RequestRow> {
        let request = self.load(self.db(), id).await?;
        if request.state != State::PendingApproval {
            return Err(ServiceError::FailedPrecondition(format!(
                "the request is {}; only requests pending approval can be {}",
                requests::state_name(request.state),
                if approve { "approved" } else { "rejected" }
            )));
        }
        if request.approval_deadline.is_some_and(|deadline| deadline <= self.now()) {
            return Err(ServiceError::FailedPrecondition(
                "the approval deadline has passed; the request times out".into(),
            ));
        }
        let policy = Policy::parse(&request.policy)?;
        let items = requests::items(self.db(), id).await?;
        let (context, _) = self.approval_context(&request, &items, &policy).await?;
        let approver = self
            .ports()
            .people
            .facts(&caller.user_id)
            .await?
            .ok_or_else(|| ServiceError::PermissionDenied("approvers must be active users".into()))?;
        let groups = eligible_groups(policy.groups(), &approver, &context);
        if groups.is_empty() {
            return Err(ServiceError::PermissionDenied(
                if context.no_self_approval && is_party(caller, &request) {
                    "this flow does not let the requester or grantee approve their own request"
                } else {
                    "you are not an eligible approver for this request"
                }
                .into(),
            ));
        }
        check_reason(policy.settings.require_approver_reason, reason)
            .map_err(|rule| ServiceError::invalid("reason", rule))?;
        let (tx, mut request) = self.lock(id).await?;
        if request.state != State::PendingApproval {
            return Err(ServiceError::FailedPrecondition(format!(
                "the request is {} now",
                requests::state_name(request.state)
            )));
        }
        let mut decisions = requests::approvals(&*tx, id).await?;
        if decisions.iter().any(|d| d.approver_id == caller.user_id) {
            return Err(ServiceError::AlreadyExists(format!(
                "a decision by {} on this request",
                caller.user_name
            )));
        }
        let decision = ApprovalRow {
            request_id: id.to_string(),
            approver_id: caller.user_id.clone(),
            approver_name: caller.user_name.clone(),
            decision: if approve { "approved" } else { "rejected" }.into(),
            reason: reason.trim().to_string(),
            groups,
            decided_at: self.now(),
        };
        requests::insert_approval(&*tx, &decision).await?;
        let said = if decision.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", decision.reason)
        };
        if approve {
            decisions.push(decision);
            match policy.progress(&decisions) {
                Progress::Satisfied => {
                    self.approve_now(
                        &tx,
                        &mut request,
                        &caller.actor(),
                        &format!("approved by {}{said}", caller.user_name),
                    )
                    .await?;
                }
                Progress::Waiting(_) => {
                    self.record(
                        &tx,
                        &mut request,
                        "approval",
                        &caller.actor(),
                        &format!("approved by {}{said}", caller.user_name),
                    )
                    .await?;
                }
            }
        } else {
            request.outcome = format!("rejected by {}{said}", caller.user_name);
            let outcome = request.outcome.clone();
            self.transition(&tx, &mut request, Event::Rejected, &caller.actor(), &outcome)
                .await?;
        }
        tx.commit().await?;
        Ok(request)
    }

    /// Withdraws a request that is not granted yet (requester, grantee or an admin).
    pub async fn cancel(&self, caller: &Caller, id: &str, reason: &str) -> ServiceResult<RequestRow> {
        let reason = short_reason(reason)?;
        let (tx, mut request) = self.lock(id).await?;
        self.require_party(
            caller,
            &request,
            true,
            "only the requester, the grantee or an admin can cancel a request",
        )
        .await?;
        if !matches!(
            request.state,
            State::Submitted | State::AwaitingMfa | State::PendingApproval | State::Approved
        ) {
            return Err(ServiceError::FailedPrecondition(format!(
                "the request is {}; only requests not yet granted can be cancelled (revoke granted access)",
                requests::state_name(request.state)
            )));
        }
        request.outcome = format!("cancelled by {}{}", caller.user_name, suffix(&reason));
        let outcome = request.outcome.clone();
        self.transition(&tx, &mut request, Event::Cancelled, &caller.actor(), &outcome)
            .await?;
        tx.commit().await?;
        Ok(request)
    }

    /// Ends granted access early (requester, grantee or an admin).
    pub async fn revoke(&self, caller: &Caller, id: &str, reason: &str) -> ServiceResult<RequestRow> {
        let reason = short_reason(reason)?;
        let (tx, mut request) = self.lock(id).await?;
        self.require_party(
            caller,
            &request,
            true,
            "only the requester, the grantee or an admin can revoke a request",
        )
        .await?;
        if !matches!(request.state, State::Granting | State::Active) {
            return Err(ServiceError::FailedPrecondition(format!(
                "the request is {}; only granted access can be revoked (cancel a pending request)",
                requests::state_name(request.state)
            )));
        }
        let detail = format!("revoked by {}{}", caller.user_name, suffix(&reason));
        self.end(&tx, &mut request, false, &caller.actor(), &detail).await?;
        tx.commit().await?;
        Ok(request)
    }

    /// Extends active access by the flow's extension length, within its count. Same account and
    /// credentials; no new approval or MFA.
    pub async fn extend(&self, caller: &Caller, id: &str) -> ServiceResult<RequestRow> {
        let (tx, mut request) = self.lock(id).await?;
        self.require_party(
            caller,
            &request,
            false,
            "only the requester or the grantee can extend a request",
        )
        .await?;
        if request.state != State::Active {
            return Err(ServiceError::FailedPrecondition(format!(
                "the request is {}; only active access can be extended",
                requests::state_name(request.state)
            )));
        }
        let policy = Policy::parse(&request.policy)?;
        let Some(extensions) = policy.settings.extensions.clone() else {
            return Err(ServiceError::FailedPrecondition(format!(
                "the flow {} does not allow extensions",
                request.flow_name
            )));
        };
        let Some(ends_at) = request.ends_at else {
            return Err(ServiceError::FailedPrecondition(
                "indefinite access needs no extension".into(),
            ));
        };
        if request.extensions_used as u32 >= extensions.max_count {
            return Err(ServiceError::FailedPrecondition(format!(
                "already extended {} of {} times the flow {} allows",
                request.extensions_used, extensions.max_count, request.flow_name
            )));
        }
        let new_end = ends_at + chrono::TimeDelta::seconds(extensions.extend_by.as_seconds() as i64);
        request.ends_at = Some(new_end);
        request.extensions_used += 1;
        let detail = format!(
            "extended by {} to {} ({} of {})",
            extensions.extend_by,
            new_end.to_rfc3339(),
            request.extensions_used,
            extensions.max_count
        );
        self.transition(&tx, &mut request, Event::Extended, &caller.actor(), &detail)
            .await?;
        self.schedule_expiry(&tx, &request).await?;
        let items = requests::items(&*tx, &request.id).await?;
        self.stretch_holds(&tx, &request, &items).await?;
        tx.commit().await?;
        Ok(request)
    }
}

fn suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}
