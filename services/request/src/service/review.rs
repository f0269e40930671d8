//! Post-use review of break-glass access. Under a flow with `post_use_review`, access is
//! granted at once; when it becomes active a review opens, reviewers are reminded (webhook
//! `review_required`, and again every reminder period) until an admin or auditor other than
//! the requester or grantee signs it off or flags it, with the verdict in the request's history
//! and the audit trail.

use latch_runtime::{Caller, ServiceError, ServiceResult};

use super::grant::Attempt;
use super::{Policy, RequestService, Tx};
use crate::store::jobs::Job;
use crate::store::requests::RequestRow;
use crate::store::reviews::{self, Review};

/// Longest review note kept.
pub const MAX_REVIEW_NOTE: usize = 1000;

impl RequestService {
    /// Opens the review of a request that became active, if its flow asks for one.
    pub(crate) async fn open_review_if_needed(&self, tx: &Tx, request: &RequestRow) -> ServiceResult<()> {
        if !Policy::parse(&request.policy)?.settings.post_use_review {
            return Ok(());
        }
        reviews::open(&**tx, &request.id, self.now()).await?;
        self.enqueue(
            tx,
            "review_reminder",
            &request.id,
            format!("review_reminder:{}:0", request.id),
            self.now(),
        )
        .await
    }

    /// Job `review_reminder`: while the review is pending, tells the reviewers and comes back
    /// after the reminder period.
    pub(crate) async fn run_review_reminder(&self, job: &Job) -> ServiceResult<Attempt> {
        let (tx, request) = self.lock(&job.subject).await?;
        let Some(review) = reviews::get(&*tx, &request.id).await? else {
            return self.finish(tx, job).await;
        };
        if review.state != "pending" {
            return self.finish(tx, job).await;
        }
        let n = review.reminders + 1;
        reviews::reminded(&*tx, &request.id).await?;
        self.notify_event(&tx, &request, "review_required", &format!("review:{n}"))
            .await?;
        self.enqueue(
            &tx,
            "review_reminder",
            &request.id,
            format!("review_reminder:{}:{n}", request.id),
            self.now() + self.config().review_reminder,
        )
        .await?;
        self.finish(tx, job).await
    }

    /// Reviews (pending ones unless `all`), oldest first, with their requests and the
    /// grantee's user name.
    pub async fn reviews(&self, caller: &Caller, all: bool) -> ServiceResult<Vec<(Review, RequestRow, String)>> {
        caller.require_auditor()?;
        let found = reviews::list(self.db(), if all { "" } else { "pending" }, 500).await?;
        let mut out = Vec::with_capacity(found.len());
        for review in found {
            let request = self.load(self.db(), &review.request_id).await?;
            let grantee = self
                .ports()
                .people
                .facts(&request.grantee_id)
                .await?
                .map_or_else(|| request.grantee_id.clone(), |f| f.user_name);
            out.push((review, request, grantee));
        }
        Ok(out)
    }

    /// Signs off (`approve`) or flags a break-glass use. Nobody reviews their own.
    pub async fn review(
        &self,
        caller: &Caller,
        id: &str,
        approve: bool,
        note: &str,
    ) -> ServiceResult<(Review, RequestRow)> {
        caller.require_auditor()?;
        let note = note.trim();
        if note.chars().count() > MAX_REVIEW_NOTE {
            return Err(ServiceError::invalid(
                "note",
                format!("must be at most {MAX_REVIEW_NOTE} characters"),
            ));
        }
        if !approve && note.is_empty() {
            return Err(ServiceError::invalid("note", "say why the use is flagged"));
        }
        let (tx, mut request) = self.lock(id).await?;
        if caller.user_id == request.grantee_id || caller.user_id == request.requester_id {
            return Err(ServiceError::PermissionDenied(
                "nobody reviews their own break-glass use".into(),
            ));
        }
        let verdict = if approve { "approved" } else { "flagged" };
        if !reviews::decide(&*tx, id, verdict, &caller.user_id, note, self.now()).await? {
            return Err(match reviews::get(&*tx, id).await? {
                None => ServiceError::FailedPrecondition(format!("request {id} has no post-use review")),
                Some(r) => {
                    ServiceError::FailedPrecondition(format!("the review of request {id} is already {}", r.state))
                }
            });
        }
        let detail = if note.is_empty() {
            format!("use {verdict} by {}", caller.user_name)
        } else {
            format!("use {verdict} by {}: {note}", caller.user_name)
        };
        let kind = if approve { "review_approved" } else { "review_flagged" };
        self.record(&tx, &mut request, kind, &caller.actor(), &detail).await?;
        let review = reviews::get(&*tx, id)
            .await?
            .ok_or_else(|| ServiceError::Internal("the review vanished".into()))?;
        tx.commit().await?;
        Ok((review, request))
    }
}
