//! Automatic flows on this machine.
//!
//! `scim` (default): a whole Latch in-process (SQLite, or PostgreSQL with
//! `LATCH_BENCH_DATABASE_URL`), 300 users provisioned over SCIM, an automatic flow giving the
//! `on-call` group read on the three production demo tables. Measured from sending the SCIM
//! PATCH that adds a user to the group to the connector's third grant call for that user (all
//! of the user's access issued):
//!   1. one user at a time, 300 times: p50/p99/max;
//!   2. a burst: one PATCH adding 300 more users at once: p50/p99/max per user, and the total.
//!
//! Budget: p99 ≤ 1 s.
//!
//! `reconcile`: 100,000 users (departments d0…d9999) against 1,000 automatic flows (flow i
//! gives department d{i} read on one generated table), so 10,000 users match. Measured with
//! the workers off, calling the reconciler's full pass directly: the first pass (10,000
//! requests written, each with its grant job), then a pass with nothing to change (the
//! periodic safety net), and resident memory.
//!
//! Run: `cargo bench -p latchd --bench automatic [-- scim|reconcile]`.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use latch_connector_demo::DemoConnector;
use latch_connector_sdk::GrantRequest;
use latch_runtime::LatchConfig;
use latchd::{App, AppOptions};
use support::scim::Scim;
use support::watched::{Watch, Watched};
use support::{Setup, admin_caller, report, serve, setup};

/// The demo connector, described as `timed`, noting when each grantee's grant calls come.
type Timed = Watched<DemoConnector, GrantTimes>;

/// When each grantee's grant calls came.
#[derive(Default)]
struct GrantTimes {
    calls: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Watch for GrantTimes {
    fn granting(&self, request: &GrantRequest) {
        self.calls
            .lock()
            .unwrap()
            .entry(request.grantee.user_name.clone())
            .or_default()
            .push(Instant::now());
    }
}

impl GrantTimes {
    /// When `user`'s `n`th grant call came, if it has.
    fn nth_call(&self, user: &str, n: usize) -> Option<Instant> {
        self.calls.lock().unwrap().get(user).and_then(|c| c.get(n - 1).copied())
    }
}

async fn start(setup: &Setup, connector: Arc<Timed>, no_workers: bool) -> App {
    let config = LatchConfig {
        audit: support::signed_audit(),
        ..support::config(setup)
    };
    let options = AppOptions {
        connectors: vec![connector],
        no_workers,
        ..AppOptions::default()
    };
    App::build(config, options).await.expect("latch starts")
}

async fn integration(app: &App, resource_count: Option<usize>) {
    let catalog = app.catalog().expect("catalog");
    let caller = admin_caller(app);
    let actor = latch_catalog::service::Actor::from_caller(&caller);
    let mut config = std::collections::BTreeMap::new();
    if let Some(count) = resource_count {
        config.insert("resource_count".to_string(), count.to_string());
    }
    catalog
        .create_integration(
            &actor,
            latch_catalog::service::IntegrationDraft {
                name: "demo".into(),
                connector: "timed".into(),
                config,
                ..Default::default()
            },
            "",
        )
        .await
        .expect("integration");
    catalog.sync_integration(&actor, "demo").await.expect("sync");
}

fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse::<u64>().unwrap_or(0) / 1024)
            .unwrap_or(0)
    };
    format!("RSS {} MB (peak {} MB)", field("VmRSS:"), field("VmHWM:"))
}

const ONCALL_FLOW: &str = r#"
name: on-call reads production
kind: automatic
requestors: { rows: [ { attribute: group, operator: is, values: [on-call] } ] }
targets:
  - integration: { integration: demo, resource_type: table, permissions: [read], mode: include, tags: [{ key: env, values: [prod] }] }
grant_for: indefinite
"#;

async fn scim_bench() {
    let setup = setup().await;
    let connector = Arc::new(Timed::new("timed"));
    let app = start(&setup, connector.clone(), false).await;
    integration(&app, None).await;
    let flow = app.flow().expect("flow").clone();
    let caller = admin_caller(&app);
    let scim = Scim::new(&app, &caller).await;
    let (stop, task) = serve(app);
    let total = 600;
    let ids = scim.create_users(total).await;
    let group_id = scim.create_group("on-call").await;
    flow.create(&caller, ONCALL_FLOW, "").await.expect("flow");
    let wait_granted = |user: String, from: Instant| {
        let connector = connector.clone();
        async move {
            loop {
                if let Some(at) = connector.watch.nth_call(&user, 3) {
                    return at.duration_since(from);
                }
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
        }
    };
    println!("automatic flow, SCIM group add → connector grant calls (3 tables per user)");
    let mut one_by_one = Vec::new();
    for (n, id) in ids.iter().enumerate().take(total / 2) {
        let sent = Instant::now();
        scim.patch_group(
            &group_id,
            serde_json::json!([{ "op": "add", "path": "members", "value": [{ "value": id }] }]),
        )
        .await;
        one_by_one.push(wait_granted(format!("u{n}@bench.example"), sent).await);
    }
    report("  one user at a time", one_by_one);
    let burst: Vec<serde_json::Value> = ids[total / 2..]
        .iter()
        .map(|id| serde_json::json!({ "value": id }))
        .collect();
    let sent = Instant::now();
    scim.patch_group(
        &group_id,
        serde_json::json!([{ "op": "add", "path": "members", "value": burst }]),
    )
    .await;
    let mut burst_latency = Vec::new();
    for n in total / 2..total {
        burst_latency.push(wait_granted(format!("u{n}@bench.example"), sent).await);
    }
    let all = burst_latency.iter().max().copied().unwrap_or_default();
    report(&format!("  burst of {} users in one PATCH", total / 2), burst_latency);
    println!("  burst: every grant issued after {:.1} ms", all.as_secs_f64() * 1e3);
    let _ = stop.send(());
    let _ = task.await;
    setup.teardown().await;
}

async fn reconcile_bench() {
    const USERS: usize = 100_000;
    const FLOWS: usize = 1_000;
    const DEPARTMENTS: usize = 10_000;
    let setup = setup().await;
    let connector = Arc::new(Timed::new("timed"));
    let app = start(&setup, connector, true).await;
    integration(&app, Some(FLOWS)).await;
    let caller = admin_caller(&app);
    println!(
        "full reconcile: {USERS} users, {FLOWS} automatic flows ({} users match)",
        USERS * FLOWS / DEPARTMENTS
    );
    let started = Instant::now();
    let mut document = String::from("users:\n");
    for n in 0..USERS {
        document.push_str(&format!(
            "  - user_name: p{n}\n    attributes: {{ department: d{} }}\n",
            n % DEPARTMENTS
        ));
    }
    let document = latch_identity::service::parse_import_document(&document).expect("directory");
    app.identity()
        .expect("identity runs here")
        .import_directory("bench", &document, false)
        .await
        .expect("import");
    println!(
        "  directory of {USERS} users imported in {:.1} s; {}",
        started.elapsed().as_secs_f64(),
        memory()
    );
    let mut flows = String::new();
    for i in 0..FLOWS {
        flows.push_str(&format!(
            "- name: auto {i}\n  kind: automatic\n  requestors: {{ rows: [ {{ attribute: department, operator: is, values: [d{i}] }} ] }}\n  targets:\n    - integration: {{ integration: demo, resource_type: table, permissions: [read], mode: include, resource_ids: [\"table:db-{}/t-{i}\"] }}\n  grant_for: indefinite\n",
            i % 100
        ));
    }
    let started = Instant::now();
    app.flow()
        .expect("flow")
        .apply(&caller, &flows, None, false, false)
        .await
        .expect("flows");
    println!("  {FLOWS} flows applied in {:.1} s", started.elapsed().as_secs_f64());
    let request = app.request().expect("request").clone();
    let started = Instant::now();
    let planned = request.users_out_of_line().await.expect("plan");
    println!(
        "  planning (who differs): {} users in {:.2} s; {}",
        planned.len(),
        started.elapsed().as_secs_f64(),
        memory()
    );
    let started = Instant::now();
    let first = request.reconcile_all().await.expect("first pass");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "  first pass: {} requests granted in {seconds:.1} s ({:.0}/s); {}",
        first.granted,
        first.granted as f64 / seconds,
        memory()
    );
    let started = Instant::now();
    let steady = request.reconcile_all().await.expect("steady pass");
    println!(
        "  pass with nothing to change: {} users touched in {:.2} s; {}",
        steady.users,
        started.elapsed().as_secs_f64(),
        memory()
    );
    drop(app);
    setup.teardown().await;
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let which = args.first().map(String::as_str).unwrap_or("scim");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        match which {
            "scim" => scim_bench().await,
            "reconcile" => reconcile_bench().await,
            other => eprintln!("unknown bench {other:?}: scim or reconcile"),
        }
    });
}
