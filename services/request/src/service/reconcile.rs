//! The automatic-flow reconciler: keeps what automatic flows grant equal to what they say.
//!
//! Each (flow, grantee) holds its access through one request made by Latch, carrying the
//! flow's items; it shares the grantee's grants with every other request (reference counted),
//! so ending it never takes away access something else still holds. A user is reconciled
//! under their grantee lock: the flows granting to them now are compared with the requests
//! they hold, missing ones are made, surplus ones revoked, and a flow now granting other items
//! gets a new request before the old one ends (common items never lapse).

use std::collections::{BTreeMap, BTreeSet};

use latch_runtime::ServiceResult;
use sha2::{Digest, Sha256};

use super::{RequestService, Tx};
use crate::domain::flows::{AutomaticFlow, Item};
use crate::domain::lifecycle::{Event, State};
use crate::store::automatic::{self, Assignment};
use crate::store::requests::{self, ItemState, RequestRow};

/// The requester recorded on requests that automatic flows make.
pub const AUTOMATIC_REQUESTER: &str = "latch";

/// What one reconcile changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    /// Users looked at.
    pub users: usize,
    /// Access newly given through an automatic flow.
    pub granted: usize,
    /// Access an automatic flow no longer gives (and other access of deactivated users).
    pub revoked: usize,
    /// Access replaced because the flow now grants other items.
    pub replaced: usize,
}

impl std::ops::AddAssign for Reconciled {
    fn add_assign(&mut self, other: Self) {
        self.users += other.users;
        self.granted += other.granted;
        self.revoked += other.revoked;
        self.replaced += other.replaced;
    }
}

/// A digest of a flow's items: equal digests, same access.
pub fn items_key(items: &[Item]) -> String {
    let sorted: BTreeSet<&Item> = items.iter().collect();
    let mut hash = Sha256::new();
    for item in sorted {
        for part in [&item.integration_id, &item.resource_id, &item.permission] {
            hash.update(part.as_bytes());
            hash.update([0u8]);
        }
        hash.update([1u8]);
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether an assignment still gives (or is giving) its access.
fn in_force(assignment: &Assignment) -> bool {
    matches!(assignment.state, State::Approved | State::Granting | State::Active)
}

/// A grant that failed for good is tried again for the same items only this long after.
const RETRY_FAILED_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// What the reconciler has to do for one (flow, user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pending {
    /// The flow grants to the user, who holds nothing through it.
    Grant,
    /// The user holds it with other items than the flow grants now.
    Replace,
    /// The user holds it and the flow no longer grants to them.
    Revoke,
}

/// The one rule for what differs: `wanted` is the flow's items key when the flow grants to
/// the user now. An assignment is settled when in force with the same items, or failed recently
/// with them (a connector refusing is not asked again on every pass; a change of the flow's
/// items, or an hour, brings a new attempt).
pub(crate) fn pending(
    wanted: Option<&str>,
    held: Option<&Assignment>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Pending> {
    let held_in_force = held.filter(|a| in_force(a));
    match wanted {
        Some(key) => {
            let settled = held.is_some_and(|a| {
                a.items_key == key
                    && (in_force(a) || (a.state == State::Failed && a.updated_at > now - RETRY_FAILED_AFTER))
            });
            match (settled, held_in_force) {
                (true, _) => None,
                (false, Some(_)) => Some(Pending::Replace),
                (false, None) => Some(Pending::Grant),
            }
        }
        None => held_in_force.map(|_| Pending::Revoke),
    }
}

impl RequestService {
    /// Brings one user's automatic access in line with the flows granting to them now. An
    /// inactive or deleted user loses every access, self-serve requests included.
    pub async fn reconcile_user(&self, user: &str) -> ServiceResult<Reconciled> {
        let ports = self.ports();
        let facts = ports.people.facts(user).await?;
        let user_id = facts.as_ref().map_or(user, |f| f.user_id.as_str()).to_string();
        let granting: BTreeSet<String> = ports.flows.automatic_for(&user_id).await?.into_iter().collect();
        let flows: BTreeMap<String, AutomaticFlow> = ports
            .flows
            .automatic()
            .await?
            .into_iter()
            .filter(|f| granting.contains(&f.id) && !f.items.is_empty())
            .map(|f| (f.id.clone(), f))
            .collect();
        let tx = self.begin(&user_id).await?;
        let held: BTreeMap<String, Assignment> = automatic::for_grantee(&*tx, &user_id)
            .await?
            .into_iter()
            .map(|a| (a.flow_id.clone(), a))
            .collect();
        let mut done = Reconciled {
            users: 1,
            ..Reconciled::default()
        };
        for (flow_id, flow) in &flows {
            let key = items_key(&flow.items);
            let current = held.get(flow_id);
            let Some(change) = pending(Some(&key), current, self.now()) else {
                continue;
            };
            let request = self.grant_automatic(&tx, flow, &user_id).await?;
            automatic::put(&*tx, flow_id, &user_id, &request.id, &key, self.now()).await?;
            match current.filter(|_| change == Pending::Replace) {
                Some(old) => {
                    let detail = format!(
                        "the automatic flow {} now grants other access; replaced by request {}",
                        flow.name, request.id
                    );
                    self.end_automatic(&tx, &old.request_id, &detail).await?;
                    done.replaced += 1;
                }
                None => done.granted += 1,
            }
        }
        for (flow_id, assignment) in &held {
            if flows.contains_key(flow_id) {
                continue;
            }
            let detail = if facts.is_none() {
                "the grantee is no longer an active user".to_string()
            } else {
                "the grantee no longer matches the automatic flow (or it is no longer in force)".to_string()
            };
            if pending(None, Some(assignment), self.now()) == Some(Pending::Revoke) {
                self.end_automatic(&tx, &assignment.request_id, &detail).await?;
                done.revoked += 1;
            }
            automatic::remove(&*tx, flow_id, &user_id).await?;
        }
        if facts.is_none() {
            done.revoked += self.end_everything(&tx, &user_id).await?;
        }
        tx.commit().await?;
        if done.granted + done.revoked + done.replaced > 0 {
            tracing::info!(user = %user_id, granted = done.granted, revoked = done.revoked, replaced = done.replaced, "automatic access reconciled");
        }
        Ok(done)
    }

    /// A full pass: every user whose automatic access differs from what the flows say now is
    /// reconciled (the safety net behind the change feeds, and "create and grant").
    pub async fn reconcile_all(&self) -> ServiceResult<Reconciled> {
        // Decide from this replica's directory and flows only once they are up to date.
        self.ports().people.catch_up().await?;
        self.ports().flows.catch_up().await?;
        let users = self.users_out_of_line().await?;
        let mut done = Reconciled::default();
        for user in users {
            done += self.reconcile_or_retry(&user).await?;
        }
        Ok(done)
    }

    /// Reconciles a user; when that fails, a durable `reconcile` job retries it with backoff,
    /// so one user's trouble neither blocks the others nor is forgotten.
    pub(crate) async fn reconcile_or_retry(&self, user: &str) -> ServiceResult<Reconciled> {
        match self.reconcile_user(user).await {
            Ok(done) => Ok(done),
            Err(error) => {
                tracing::warn!(%user, %error, "reconciling a user failed; a job retries it");
                let tx = self.begin(user).await?;
                let id = format!("reconcile:{user}:{}", uuid::Uuid::now_v7().simple());
                self.enqueue(&tx, "reconcile", user, id, self.now()).await?;
                tx.commit().await?;
                Ok(Reconciled::default())
            }
        }
    }

    /// Job `reconcile`: a user whose reconcile failed before.
    pub(crate) async fn run_reconcile(&self, job: &crate::store::jobs::Job) -> ServiceResult<super::grant::Attempt> {
        self.ports().people.catch_up().await?;
        self.ports().flows.catch_up().await?;
        if let Err(error) = self.reconcile_user(&job.subject).await {
            return Ok(super::grant::Attempt::Retry(error.to_string()));
        }
        let tx = self.begin(&job.subject).await?;
        self.finish(tx, job).await
    }

    /// Users whose automatic access differs from what the flows grant now.
    pub async fn users_out_of_line(&self) -> ServiceResult<BTreeSet<String>> {
        let ports = self.ports();
        let keys: BTreeMap<String, String> = ports
            .flows
            .automatic()
            .await?
            .into_iter()
            .filter(|f| !f.items.is_empty())
            .map(|f| (f.id.clone(), items_key(&f.items)))
            .collect();
        let mut wanted: BTreeSet<(String, String)> = BTreeSet::new();
        for (flow_id, users) in ports.flows.automatic_grantees().await? {
            if keys.contains_key(&flow_id) {
                wanted.extend(users.into_iter().map(|u| (u, flow_id.clone())));
            }
        }
        let mut out = BTreeSet::new();
        let now = self.now();
        for assignment in automatic::all(self.db()).await? {
            let pair = (assignment.grantee_id.clone(), assignment.flow_id.clone());
            let key = wanted
                .remove(&pair)
                .then(|| keys.get(&assignment.flow_id).map(String::as_str))
                .flatten();
            if pending(key, Some(&assignment), now).is_some() {
                out.insert(assignment.grantee_id);
            }
        }
        out.extend(wanted.into_iter().map(|(user, _)| user));
        Ok(out)
    }

    /// Makes the request through which `flow` gives `grantee` its items, granting now.
    async fn grant_automatic(&self, tx: &Tx, flow: &AutomaticFlow, grantee: &str) -> ServiceResult<RequestRow> {
        let now = self.now();
        let id = uuid::Uuid::now_v7().to_string();
        let mut items = self.item_rows(&id, &flow.items).await?;
        let mut request = RequestRow {
            id: id.clone(),
            requester_id: AUTOMATIC_REQUESTER.into(),
            grantee_id: grantee.to_string(),
            client_request_id: String::new(),
            flow_id: flow.id.clone(),
            flow_name: flow.name.clone(),
            state: State::Submitted,
            justification: format!("automatic flow {}", flow.name),
            duration_secs: None,
            starts_at: None,
            approval_deadline: None,
            granted_at: None,
            ends_at: None,
            extensions_used: 0,
            ends_by: String::new(),
            outcome: String::new(),
            policy: flow.snapshot.stored.clone(),
            created_at: now,
            updated_at: now,
            version: 0,
        };
        let detail = format!(
            "{} item(s) under the automatic flow {}, while the grantee matches it",
            items.len(),
            flow.name
        );
        let events = vec![
            self.note(&mut request, "submitted", AUTOMATIC_REQUESTER, &detail),
            self.apply(
                &mut request,
                Event::Approved,
                AUTOMATIC_REQUESTER,
                "the grantee matches the automatic flow",
            )?,
            self.apply(&mut request, Event::GrantStarted, AUTOMATIC_REQUESTER, "granting")?,
        ];
        self.open_holds(tx, &request, &mut items).await?;
        requests::insert_request(&**tx, &request).await?;
        requests::insert_items(&**tx, &items).await?;
        self.publish(tx, &request, &events).await?;
        if items.iter().all(|i| i.state == ItemState::Granted) {
            self.activate_if_granted(tx, &mut request).await?;
        }
        Ok(request)
    }

    /// Ends an automatic request: cancelled when not granting yet, otherwise revoked.
    async fn end_automatic(&self, tx: &Tx, request_id: &str, detail: &str) -> ServiceResult<()> {
        let mut request = self.load(&**tx, request_id).await?;
        self.end_any(tx, &mut request, detail).await?;
        Ok(())
    }

    /// Ends whatever state `request` is in; whether it did anything.
    async fn end_any(&self, tx: &Tx, request: &mut RequestRow, detail: &str) -> ServiceResult<bool> {
        match request.state {
            State::Granting | State::Active => {
                self.end(tx, request, false, AUTOMATIC_REQUESTER, detail).await?;
                Ok(true)
            }
            State::Submitted | State::AwaitingMfa | State::PendingApproval | State::Approved => {
                request.outcome = detail.to_string();
                self.transition(tx, request, Event::Cancelled, AUTOMATIC_REQUESTER, detail)
                    .await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// A user who is no longer active loses every access and every pending request.
    async fn end_everything(&self, tx: &Tx, grantee: &str) -> ServiceResult<usize> {
        let mut ended = 0;
        for mut request in requests::unfinished_for_grantee(&**tx, grantee).await? {
            if self
                .end_any(tx, &mut request, "the grantee is no longer an active user")
                .await?
            {
                ended += 1;
            }
        }
        Ok(ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(resource: &str, permission: &str) -> Item {
        Item {
            integration_id: "pg".into(),
            resource_id: resource.into(),
            permission: permission.into(),
        }
    }

    #[test]
    fn items_key_ignores_order_and_tells_items_apart() {
        let a = [item("orders", "read"), item("users", "read")];
        let b = [item("users", "read"), item("orders", "read")];
        assert_eq!(items_key(&a), items_key(&b));
        assert_ne!(items_key(&a), items_key(&[item("orders", "read")]));
        // Parts are delimited: ("ab","c") is not ("a","bc").
        assert_ne!(items_key(&[item("ab", "c")]), items_key(&[item("a", "bc")]));
    }
}
