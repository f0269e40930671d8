//! What the request tests share: a scripted connector around the demo one (counts calls, can
//! refuse for good, can hang mid-grant like a crashing worker), a small world, and waiting for
//! the workers with a controlled clock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use latch_connector_demo::DemoConnector;
use latch_connector_sdk::{
    Config, Connector, ConnectorError, ConnectorResult, Description, GrantOutcome, GrantRecord, GrantRequest, Resource,
};
use latch_proto::catalog::v1 as catalog;
use latch_proto::flow::v1 as flow;
use latch_proto::request::v1 as pb;

use crate::harness::{RequestClient, TestServer};

/// The demo connector under another name, recording every call.
#[derive(Default)]
pub struct Scripted {
    inner: DemoConnector,
    state: Mutex<ScriptState>,
    hang: tokio::sync::Notify,
}

#[derive(Default)]
struct ScriptState {
    /// Grant calls that succeeded, per grant id.
    granted: BTreeMap<String, u32>,
    /// Extend calls made, per grant id (whatever they answered).
    extended: BTreeMap<String, u32>,
    revoked: BTreeSet<String>,
    /// The grantee's user name per grant id.
    grantee_of: BTreeMap<String, String>,
    /// Resource ids the connector refuses for good.
    refuse: BTreeSet<String>,
    /// Extend calls are refused for good (the system cannot move expiries today).
    refuse_extend: bool,
    /// Grant calls on these resources grant, then never answer (the worker "crashes").
    hang_after_grant: BTreeSet<String>,
    /// Grant calls on these resources grant, then answer with a permanent error (a
    /// half-made grant).
    fail_after_grant: BTreeSet<String>,
}

impl Scripted {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn refuse(&self, resource_id: &str) {
        self.state.lock().unwrap().refuse.insert(resource_id.into());
    }

    pub fn refuse_extend(&self) {
        self.state.lock().unwrap().refuse_extend = true;
    }

    pub fn hang_after_grant(&self, resource_id: &str, hang: bool) {
        let mut state = self.state.lock().unwrap();
        if hang {
            state.hang_after_grant.insert(resource_id.into());
        } else {
            state.hang_after_grant.remove(resource_id);
        }
    }

    pub fn fail_after_grant(&self, resource_id: &str) {
        self.state.lock().unwrap().fail_after_grant.insert(resource_id.into());
    }

    /// Lets grant calls that hang answer now.
    pub fn release_hung(&self) {
        self.hang.notify_waiters();
    }

    /// Successful grant calls per grant id.
    pub fn grant_calls(&self) -> BTreeMap<String, u32> {
        self.state.lock().unwrap().granted.clone()
    }

    /// Extend calls made per grant id.
    pub fn extend_calls(&self) -> BTreeMap<String, u32> {
        self.state.lock().unwrap().extended.clone()
    }

    /// The target system loses every grant behind Latch's back (restored from a backup, or the
    /// demo system restarted): the grants are gone, and Latch is not told.
    pub async fn forget_all(&self) {
        for grant in self.live().await {
            self.inner
                .revoke(&Config::new(), &grant.grant_id)
                .await
                .expect("forget a grant");
        }
    }

    /// Grants that exist at the target system now.
    pub async fn live(&self) -> Vec<GrantRecord> {
        self.inner.list_grants(&Config::new()).await.expect("list grants")
    }

    /// (resource id, permission) of the grants `user_name` has at the target system now.
    pub async fn live_for(&self, user_name: &str) -> BTreeSet<(String, String)> {
        let live = self.live().await;
        let state = self.state.lock().unwrap();
        live.into_iter()
            .filter(|g| state.grantee_of.get(&g.grant_id).map(String::as_str) == Some(user_name))
            .map(|g| (g.resource_id, g.permission))
            .collect()
    }
}

#[async_trait::async_trait]
impl Connector for Scripted {
    fn describe(&self) -> Description {
        Description {
            name: "scripted".into(),
            ..self.inner.describe()
        }
    }

    async fn validate_config(&self, config: &Config) -> ConnectorResult<Vec<String>> {
        self.inner.validate_config(config).await
    }

    async fn list_resources(&self, config: &Config) -> ConnectorResult<Vec<Resource>> {
        self.inner.list_resources(config).await
    }

    async fn grant(&self, config: &Config, request: &GrantRequest) -> ConnectorResult<GrantOutcome> {
        if self.state.lock().unwrap().refuse.contains(&request.resource_id) {
            return Err(ConnectorError::FailedPrecondition(format!(
                "scripted: {} is read-only today",
                request.resource_id
            )));
        }
        let outcome = self.inner.grant(config, request).await?;
        let (hang, fail) = {
            let mut state = self.state.lock().unwrap();
            *state.granted.entry(request.grant_id.clone()).or_default() += 1;
            state
                .grantee_of
                .insert(request.grant_id.clone(), request.grantee.user_name.clone());
            (
                state.hang_after_grant.contains(&request.resource_id),
                state.fail_after_grant.contains(&request.resource_id),
            )
        };
        if hang {
            self.hang.notified().await;
        }
        if fail {
            return Err(ConnectorError::FailedPrecondition(format!(
                "scripted: {} half granted",
                request.resource_id
            )));
        }
        Ok(outcome)
    }

    async fn extend(&self, config: &Config, grant_id: &str, expires_at: Option<DateTime<Utc>>) -> ConnectorResult<()> {
        {
            let mut state = self.state.lock().unwrap();
            *state.extended.entry(grant_id.into()).or_default() += 1;
            if state.refuse_extend {
                return Err(ConnectorError::FailedPrecondition(
                    "scripted: expiries are frozen today".into(),
                ));
            }
        }
        self.inner.extend(config, grant_id, expires_at).await
    }

    async fn revoke(&self, config: &Config, grant_id: &str) -> ConnectorResult<()> {
        self.inner.revoke(config, grant_id).await?;
        self.state.lock().unwrap().revoked.insert(grant_id.into());
        Ok(())
    }

    async fn list_grants(&self, config: &Config) -> ConnectorResult<Vec<GrantRecord>> {
        self.inner.list_grants(config).await
    }
}

/// An integration named `name` on `connector`, synced.
pub async fn integration(server: &TestServer, name: &str, connector: &str, config: &[(&str, &str)]) {
    let mut admin = server.catalog_admin().await;
    admin
        .create_integration(catalog::CreateIntegrationRequest {
            integration: Some(catalog::Integration {
                display_name: name.into(),
                connector: connector.into(),
                config: config
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<HashMap<_, _>>(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("create integration");
    admin
        .sync_integration(catalog::SyncIntegrationRequest { id: name.into() })
        .await
        .expect("sync integration");
}

pub async fn create_flow(server: &TestServer, definition: &str) -> flow::Flow {
    server
        .flows_with(Some(crate::harness::ADMIN_TOKEN))
        .await
        .create_flow(flow::CreateFlowRequest {
            definition: definition.into(),
            ..Default::default()
        })
        .await
        .expect("create flow")
        .into_inner()
}

pub fn item(integration: &str, resource: &str, permission: &str) -> pb::RequestedItem {
    pb::RequestedItem {
        integration: integration.into(),
        resource_id: resource.into(),
        permission: permission.into(),
    }
}

pub fn ask(items: Vec<pb::RequestedItem>, duration: &str) -> pb::SubmitRequestRequest {
    pb::SubmitRequestRequest {
        items,
        duration: duration.into(),
        justification: "ticket OPS-1".into(),
        ..Default::default()
    }
}

pub async fn get(client: &mut RequestClient, id: &str) -> pb::AccessRequest {
    client
        .get_request(pb::GetRequestRequest { id: id.into() })
        .await
        .expect("get request")
        .into_inner()
}

/// Lets the workers run (real time) while the controlled clock moves `step` per round, until
/// `done` holds for the request states, or fails after `rounds`.
pub async fn drive<F>(
    server: &TestServer,
    client: &mut RequestClient,
    ids: &[String],
    step: TimeDelta,
    rounds: u32,
    done: F,
) -> Vec<pb::AccessRequest>
where
    F: Fn(&[pb::AccessRequest]) -> bool,
{
    let mut last = Vec::new();
    for _ in 0..rounds {
        last.clear();
        for id in ids {
            last.push(get(client, id).await);
        }
        if done(&last) {
            return last;
        }
        server.clock.advance(step);
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    panic!(
        "requests did not converge: {:?}",
        last.iter().map(|r| (&r.state, &r.waiting)).collect::<Vec<_>>()
    );
}

/// Lets the workers run, the clock moving `step` per round, until the connector holds no grant.
pub async fn until_nothing_live(
    server: &TestServer,
    client: &mut RequestClient,
    ids: &[String],
    step: TimeDelta,
    connector: &Scripted,
) {
    drive(server, client, ids, step, 200, |_| {
        futures::executor::block_on(connector.live()).is_empty()
    })
    .await;
}

/// Waits (clock still) until every request is in one of `states`.
pub async fn wait_states(
    server: &TestServer,
    client: &mut RequestClient,
    ids: &[String],
    states: &[&str],
) -> Vec<pb::AccessRequest> {
    drive(server, client, ids, TimeDelta::zero(), 250, |all| {
        all.iter().all(|r| states.contains(&r.state.as_str()))
    })
    .await
}

/// A user with attributes and a manager, and an API token of their own.
pub async fn person(
    server: &TestServer,
    name: &str,
    department: &str,
    manager_id: &str,
) -> (latch_proto::identity::v1::User, String) {
    let mut admin = server.admin().await;
    let user = crate::harness::create_user(&mut admin, name, &[("department", department)], manager_id).await;
    let secret = admin
        .create_token(latch_proto::identity::v1::CreateTokenRequest {
            user_id: user.id.clone(),
            description: "test".into(),
            ..Default::default()
        })
        .await
        .expect("create token")
        .into_inner()
        .secret;
    (user, secret)
}

/// Gives a user the auditor role.
pub async fn make_auditor(server: &TestServer, user_id: &str) {
    server
        .admin()
        .await
        .grant_role(latch_proto::identity::v1::GrantRoleRequest {
            user_id: user_id.into(),
            role: latch_proto::common::v1::Role::Auditor as i32,
        })
        .await
        .expect("grant auditor");
}

/// A self-serve flow over `shop`'s prod tables (read) that the grantee's manager approves.
pub const MANAGER_FLOW: &str = r#"
name: orders by the manager
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: shop, resource_type: table, permissions: [read], mode: include, tags: [{ key: env, values: [prod] }] }
grant_for: { custom: 2h }
approval:
  approval_of:
    groups:
      - rows: [ manager ]
settings:
  require_justification: false
"#;

/// Every request id the caller may approve, sorted, read page by page (`size` per page).
pub async fn approvable(client: &mut RequestClient, size: i32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut page_token = String::new();
    for _ in 0..50 {
        let page = client
            .list_approvals(pb::ListApprovalsRequest {
                page_size: size,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.requests.len() <= size as usize, "a page holds at most page_size");
        ids.extend(page.requests.into_iter().map(|r| r.id));
        if page.next_page_token.is_empty() {
            ids.sort();
            return ids;
        }
        page_token = page.next_page_token;
    }
    panic!("paging did not end");
}

/// A self-serve flow over every table of `integration` tagged env=prod, automatic approval.
pub fn automatic_flow(name: &str, integration: &str) -> String {
    format!(
        r#"
name: {name}
kind: self_serve
requestors: {{ rows: [ {{ attribute: department, operator: is, values: [Engineering] }} ] }}
targets:
  - integration: {{ integration: {integration}, resource_type: table, permissions: [read, write], mode: include, tags: [{{ key: env, values: [prod] }}] }}
grant_for: {{ custom: 2h }}
settings: {{ require_justification: false }}
"#
    )
}

/// Moves a server's controlled clock along with real time while it lives: time passes between
/// planning work and doing it, as in production (the suite's clock is otherwise frozen).
pub struct MovingClock(tokio::task::JoinHandle<()>);

impl MovingClock {
    pub fn start(clock: Arc<latch_runtime::clock::ManualClock>) -> Self {
        Self(tokio::spawn(async move {
            let mut last = std::time::Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(2)).await;
                let now = std::time::Instant::now();
                clock.advance(TimeDelta::from_std(now - last).unwrap_or_default());
                last = now;
            }
        }))
    }
}

impl Drop for MovingClock {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The connector work the workers have to do now (grant, extend, revoke), as pending jobs.
pub async fn connector_jobs(server: &TestServer) -> Vec<pb::Job> {
    let mut admin = server.requests_with(Some(crate::harness::ADMIN_TOKEN)).await;
    admin
        .list_pending_jobs(pb::ListPendingJobsRequest {})
        .await
        .expect("list pending jobs")
        .into_inner()
        .jobs
        .into_iter()
        .filter(|j| {
            matches!(
                j.kind.as_str(),
                "start" | "grant" | "extend" | "revoke" | "revoke_stale"
            )
        })
        .collect()
}

/// Waits (real time) until the workers have no connector work left.
pub async fn settled(server: &TestServer) {
    let mut left = Vec::new();
    for _ in 0..250 {
        left = connector_jobs(server).await;
        if left.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("connector work left: {left:?}");
}
