//! A split deployment under SIGKILL: while a burst of requests is submitted (through the gateway),
//! granted and revoked through a flaky remote connector, each process — identity, catalog, flow,
//! request, gateway — is killed in turn and started again on its data. In the end no request is
//! lost, stuck or made twice, no access was granted twice at once, every grant is revoked at the
//! target, and the audit chain verifies.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use latch_proto::catalog::v1 as catalog;
use latch_proto::flow::v1 as flow;
use latch_proto::identity::v1 as identity;
use latch_proto::request::v1 as pb;
use rand::Rng;
use tonic::{Code, Status};

use crate::crash::{TABLES, Target, retried};
use crate::harness::ADMIN_TOKEN;
use crate::request_support::automatic_flow;
use crate::split_harness::SplitDeployment;

/// The whole test, kills and restarts included, stays within this.
const BUDGET: Duration = Duration::from_secs(150);
/// Killed in turn, one at a time.
const VICTIMS: [&str; 5] = ["identity", "catalog", "flow", "request", "gateway"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_processes_killed_in_turn_during_a_burst_lose_stall_and_double_nothing() {
    let deadline = Instant::now() + BUDGET;
    let target = Arc::new(Target::default());
    let connector_endpoint = crate::test_pki::serve_connector(target.clone()).await;
    let deployment = SplitDeployment::start().await;
    let _logs = deployment.logs_on_panic();

    // The world, through the gateway: a remote integration on the flaky target, a flow that
    // approves at once, three engineers.
    let mut catalog_client = deployment.catalog(ADMIN_TOKEN);
    retried!("integration", deadline, {
        catalog_client.create_integration(catalog::CreateIntegrationRequest {
            integration: Some(catalog::Integration {
                display_name: "target".into(),
                connector: "remote".into(),
                endpoint: connector_endpoint.clone(),
                config: [("failure_rate".to_string(), "0.2".to_string())].into(),
                ..Default::default()
            }),
            request_id: "split-crash-integration".into(),
            ..Default::default()
        })
    });
    retried!("sync", deadline, {
        catalog_client.sync_integration(catalog::SyncIntegrationRequest { id: "target".into() })
    });
    let mut flows = deployment.flows(ADMIN_TOKEN);
    retried!("flow", deadline, {
        flows.create_flow(flow::CreateFlowRequest {
            definition: automatic_flow("prod tables", "target"),
            ..Default::default()
        })
    });
    let mut admin = deployment.identity(ADMIN_TOKEN);
    let mut people = Vec::new();
    for n in 0..3 {
        let user =
            crate::harness::create_user(&mut admin, &format!("eng{n}"), &[("department", "Engineering")], "").await;
        let token = admin
            .create_token(identity::CreateTokenRequest {
                user_id: user.id.clone(),
                description: "split crash test".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .secret;
        people.push(token);
    }
    let clients = |token: &str| deployment.requests(token);
    let mut requests_of: Vec<_> = people.iter().map(|t| clients(t)).collect();
    let mut requests = deployment.requests(ADMIN_TOKEN);
    let mut audit = deployment.audit(ADMIN_TOKEN);

    // The killer: each process in turn, SIGKILL, a moment down, started again and ready.
    let deployment = Arc::new(tokio::sync::Mutex::new(deployment));
    let cycles = Arc::new(AtomicUsize::new(0));
    let (stop_killing, mut stopped) = tokio::sync::watch::channel(false);
    let killer = {
        let deployment = deployment.clone();
        let cycles = cycles.clone();
        tokio::spawn(async move {
            let mut kills: BTreeMap<&'static str, u32> = BTreeMap::new();
            loop {
                for victim in VICTIMS {
                    let pause = Duration::from_millis(rand::rng().random_range(200..700));
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = stopped.wait_for(|stop| *stop) => return kills,
                    }
                    let mut deployment = deployment.lock().await;
                    deployment.kill(victim);
                    *kills.entry(victim).or_default() += 1;
                    let down = Duration::from_millis(rand::rng().random_range(0..300));
                    tokio::time::sleep(down).await;
                    deployment.start_process(victim).await;
                }
                cycles.fetch_add(1, Ordering::SeqCst);
            }
        })
    };

    // The burst: rounds of one request per person and table (read and write, sharing grants
    // with the rounds before), until every process has been killed once during it.
    let mut ids = BTreeSet::new();
    let mut rounds = 0;
    while rounds < 2 || (cycles.load(Ordering::SeqCst) == 0 && rounds < 40) {
        if rounds >= 2 {
            // Paced, so the rounds span a whole cycle of kills however fast they are served.
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        for (person, client) in requests_of.iter_mut().enumerate() {
            for table in TABLES {
                let request_id = format!("split-crash-{person}-{table}-{rounds}");
                let submitted = retried!("submit", deadline, {
                    client.submit_request(crate::crash::read_and_write(&request_id, table, "split crash test"))
                })
                .expect("answered");
                ids.insert(submitted.id);
            }
        }
        rounds += 1;
    }
    assert_eq!(
        ids.len(),
        rounds * people.len() * TABLES.len(),
        "one request per client request id, whatever the kills"
    );
    assert!(
        cycles.load(Ordering::SeqCst) >= 1,
        "the burst ended before every process was killed once"
    );

    let settle = async |requests: &mut crate::harness::RequestClient, wanted: &[&str]| loop {
        let mut states = BTreeMap::new();
        for id in &ids {
            let request = retried!(
                "get",
                deadline,
                requests.get_request(pb::GetRequestRequest { id: id.clone() })
            )
            .expect("answered");
            states.insert(id.clone(), request.state);
        }
        if states.values().all(|state| wanted.contains(&state.as_str())) {
            return states;
        }
        assert!(Instant::now() < deadline, "requests stuck: {states:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let granted = settle(&mut requests, &["active", "failed"]).await;
    assert!(
        granted.values().any(|state| state == "active"),
        "grants get through the kills: {granted:?}"
    );
    for (id, state) in &granted {
        if state != "active" {
            continue;
        }
        // A revoke whose answer the crash swallowed finds the request already ending.
        retried!(
            "revoke",
            deadline,
            requests.revoke_request(pb::EndRequest {
                id: id.clone(),
                reason: "split crash test over".into(),
            }),
            |status: &Status| status.code() == Code::FailedPrecondition
        );
    }
    let ended = settle(&mut requests, &["revoked", "failed"]).await;
    let _ = stop_killing.send(true);
    let kills = killer.await.expect("the killer");
    for victim in VICTIMS {
        assert!(
            kills.get(victim).copied().unwrap_or(0) >= 1,
            "{victim} never killed: {kills:?}"
        );
    }

    // Every revoke reached the target: it holds nothing, and never held one access twice.
    loop {
        let live = target.held.lock().unwrap().live.len();
        if live == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{live} grant(s) never revoked: {:?}",
            target.held.lock().unwrap().live
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        target.held.lock().unwrap().doubled.is_empty(),
        "an access granted twice at once: {:?}",
        target.held.lock().unwrap().doubled
    );
    let listed = retried!(
        "list",
        deadline,
        requests.list_requests(pb::ListRequestsRequest {
            all: true,
            page_size: 500,
            ..Default::default()
        })
    )
    .expect("answered");
    let listed: BTreeSet<String> = listed.requests.into_iter().map(|r| r.id).collect();
    assert_eq!(listed, ids, "no request lost or made twice");
    let verified = retried!(
        "verify",
        deadline,
        audit.verify_audit_log(pb::VerifyAuditLogRequest::default())
    )
    .expect("answered");
    assert!(verified.intact, "audit chain broken after {kills:?}: {verified:?}");
    let mut counts = BTreeMap::new();
    for state in ended.values() {
        *counts.entry(state.clone()).or_insert(0) += 1;
    }
    eprintln!("split crash test: kills {kills:?}, {rounds} rounds, requests ended {counts:?}");
}
