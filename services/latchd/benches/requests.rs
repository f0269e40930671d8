//! The request path end to end, on this machine.
//!
//! `throughput` (default): a whole Latch in-process on free ports, the demo connector with
//! 1,000 generated tables, 200 users with their own tokens, one self-serve flow with automatic
//! approval; every request is one user's first for its table, so each opens its own connector
//! grant. Clients submit over real gRPC (loopback); `WhoAmI` at the same concurrency shows the
//! floor of an authenticated call:
//!   1. closed loop, 64 in flight, 20,000 requests: submits per second, then how long until every
//!      request is ACTIVE (the grants done by the workers, so the rate is sustained, not queued);
//!   2. open loop at 1,000 submits per second for 10 s: p50/p99/max latency of SubmitRequest.
//!      Budgets: ≥ 2,000 requests/s; p99 ≤ 25 ms at 1,000/s.
//!
//! `expiry`: 100,000 active grants (100 users × 1,000 tables, each its own connector grant)
//! whose ends are spread over ten minutes, with the system clock. Measured per grant: when Latch
//! recorded the connector's revoke confirmation minus the end time (lateness), and grants never
//! revoked (missed). With `--kill`, the server is dropped (workers aborted mid-job, no drain)
//! halfway through the expiries and started again on the same database. Budget: every revoke
//! ≤ 1 s late, none missed.
//!
//! `split` (PostgreSQL only): `throughput` through the gateway of a split deployment (each
//! context its own `latchd --services X` process of this build), and WhoAmI one call at a time
//! straight to identity and through the gateway: the cost of one hop.
//!
//! Run: `cargo bench -p latchd --bench requests [-- throughput|split|expiry [--kill]]`; set
//! `LATCH_BENCH_DATABASE_URL=postgres://…/postgres` to run on a fresh PostgreSQL database
//! instead of SQLite.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use latch_proto::catalog::v1 as catalog;
use latch_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use latch_proto::common::v1::Role;
use latch_proto::flow::v1 as flow;
use latch_proto::flow::v1::flow_service_client::FlowServiceClient;
use latch_proto::identity::v1 as identity;
use latch_proto::identity::v1::identity_service_client::IdentityServiceClient;
use latch_proto::request::v1 as pb;
use latch_proto::request::v1::request_service_client::RequestServiceClient;
use latch_runtime::{Caller, LatchConfig, TokenScope};
use latchd::{App, AppOptions};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use support::{ADMIN, Setup, serve, setup};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

const TABLES: usize = 1_000;

#[derive(Clone)]
struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

type Requests = RequestServiceClient<InterceptedService<Channel, Bearer>>;

async fn channel(addr: std::net::SocketAddr, token: &str) -> (Channel, Bearer) {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    (channel, Bearer(format!("Bearer {token}").parse().unwrap()))
}

fn flow_document() -> String {
    r#"
name: bench tables
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: demo, resource_type: table, permissions: [read], mode: any }
grant_for: { custom: 1h }
settings: { require_justification: false }
"#
    .into()
}

async fn start(setup: &Setup) -> App {
    let config = LatchConfig {
        audit: support::signed_audit(),
        ..support::config(setup)
    };
    let options = AppOptions {
        no_workers: std::env::var("BENCH_NO_WORKERS").is_ok(),
        ..AppOptions::default()
    };
    App::build(config, options).await.expect("latch starts")
}

/// The integration, the flow and `users` Engineering users with tokens: (id, name, token).
async fn world(addr: std::net::SocketAddr, users: usize) -> Vec<(String, String, String)> {
    let (ch, auth) = channel(addr, ADMIN).await;
    let mut catalog_client = CatalogServiceClient::with_interceptor(ch.clone(), auth.clone());
    catalog_client
        .create_integration(catalog::CreateIntegrationRequest {
            integration: Some(catalog::Integration {
                display_name: "demo".into(),
                connector: "demo".into(),
                config: [("resource_count".to_string(), TABLES.to_string())].into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    catalog_client
        .sync_integration(catalog::SyncIntegrationRequest { id: "demo".into() })
        .await
        .unwrap();
    FlowServiceClient::with_interceptor(ch.clone(), auth.clone())
        .create_flow(flow::CreateFlowRequest {
            definition: flow_document(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut identity_client = IdentityServiceClient::with_interceptor(ch, auth);
    let mut out = Vec::with_capacity(users);
    for n in 0..users {
        let user = identity_client
            .create_user(identity::CreateUserRequest {
                user: Some(identity::User {
                    user_name: format!("eng{n}"),
                    active: true,
                    attributes: vec![latch_proto::common::v1::Attribute {
                        key: "department".into(),
                        values: vec!["Engineering".into()],
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        let token = identity_client
            .create_token(identity::CreateTokenRequest {
                user_id: user.id.clone(),
                description: "bench".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .secret;
        out.push((user.id, user.user_name, token));
    }
    out
}

fn table_id(n: usize) -> String {
    format!("table:db-{}/t-{n}", n % 100)
}

/// Request `n` is made by user `n % 200` (the client it is sent with) for a table no earlier
/// request of that user asked for, so each request opens a connector grant of its own.
fn submission(n: usize, duration: &str) -> pb::SubmitRequestRequest {
    pb::SubmitRequestRequest {
        items: vec![pb::RequestedItem {
            integration: "demo".into(),
            resource_id: table_id((n / 200) % TABLES),
            permission: "read".into(),
        }],
        duration: duration.into(),
        ..Default::default()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn backend_name(setup: &Setup) -> &'static str {
    if setup.database_url.is_empty() {
        "SQLite"
    } else {
        "PostgreSQL"
    }
}

async fn throughput() {
    let setup = setup().await;
    let app = start(&setup).await;
    let addr = app.grpc_addr();
    let probe = app.request().unwrap().clone();
    let (stop, task) = serve(app);
    let db = probe.db().clone();
    load(addr, backend_name(&setup), db).await;
    let _ = stop.send(());
    let _ = task.await;
    drop(probe);
    setup.teardown().await;
}

/// Every context its own `latchd --services X` process of this build, a gateway in front,
/// all on one PostgreSQL (a schema each); the load goes through the gateway. Also the cost of
/// the gateway's hop: WhoAmI one at a time, straight to identity and through the gateway.
async fn split() {
    let setup = setup().await;
    assert!(
        !setup.database_url.is_empty(),
        "the split bench runs on PostgreSQL: set LATCH_BENCH_DATABASE_URL"
    );
    let deployment = support::split::Deployment::start(&setup).await;
    let gateway = deployment.gateway();
    let identity = deployment.grpc("identity");
    for (label, addr) in [("straight to identity", identity), ("through the gateway", gateway)] {
        let (ch, auth) = channel(addr, ADMIN).await;
        let mut client = IdentityServiceClient::with_interceptor(ch, auth);
        let mut latencies = Vec::with_capacity(2_000);
        for _ in 0..2_000 {
            let sent = Instant::now();
            client.who_am_i(identity::WhoAmIRequest {}).await.expect("whoami");
            latencies.push(sent.elapsed());
        }
        support::report(&format!("WhoAmI one at a time, {label}"), latencies);
    }
    let db = sea_orm::Database::connect(format!("{}?options=-c%20search_path%3Drequest", setup.database_url))
        .await
        .expect("the request schema");
    load(gateway, "PostgreSQL, split into five processes", db).await;
    drop(deployment);
    setup.teardown().await;
}

/// The phases of the throughput bench against a running Latch at `addr`; `db` is the request
/// context's database, to count ACTIVE requests.
async fn load(addr: std::net::SocketAddr, backend: &str, db: sea_orm::DatabaseConnection) {
    let users = world(addr, 200).await;
    let mut clients: Vec<Requests> = Vec::new();
    for (_, _, token) in &users {
        let (ch, auth) = channel(addr, token).await;
        clients.push(RequestServiceClient::with_interceptor(ch, auth));
    }
    let clients = Arc::new(clients);
    println!("request bench on {backend} ({} users, {TABLES} tables)", users.len());

    // 0. The floor: an authenticated RPC that touches no request table (WhoAmI), same loop.
    {
        let mut whoami = Vec::new();
        for (_, _, token) in users.iter().take(64) {
            let (ch, auth) = channel(addr, token).await;
            whoami.push(IdentityServiceClient::with_interceptor(ch, auth));
        }
        let started = Instant::now();
        let mut tasks = Vec::new();
        for mut client in whoami {
            tasks.push(tokio::spawn(async move {
                for _ in 0..200 {
                    client.who_am_i(identity::WhoAmIRequest {}).await.expect("whoami");
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let elapsed = started.elapsed();
        println!(
            "floor: 12800 WhoAmI calls, 64 in flight: {:.0} calls/s",
            12_800.0 / elapsed.as_secs_f64()
        );
    }

    // 1. Closed loop.
    const TOTAL: usize = 20_000;
    const IN_FLIGHT: usize = 64;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (clients, next) = (clients.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= TOTAL {
                    break;
                }
                let mut client = clients[n % clients.len()].clone();
                client.submit_request(submission(n, "30m")).await.expect("submit");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let submitted = started.elapsed();
    println!(
        "closed loop, {IN_FLIGHT} in flight: {TOTAL} submits in {:.2} s = {:.0} submits/s",
        submitted.as_secs_f64(),
        TOTAL as f64 / submitted.as_secs_f64()
    );
    let drained = {
        let started = Instant::now();
        while scalar_on::<i64>(&db, "SELECT count(*) FROM requests WHERE state = 'active'").await < TOTAL as i64 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        started.elapsed()
    };
    let all_active = submitted + drained;
    println!(
        "all {TOTAL} ACTIVE {:.2} s after the first submit = {:.0} requests/s granted",
        all_active.as_secs_f64(),
        TOTAL as f64 / all_active.as_secs_f64()
    );

    // 2. Open loop at 1,000/s.
    const RATE: u64 = 1_000;
    const SECONDS: u64 = 10;
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    for n in 0..(RATE * SECONDS) as usize {
        ticker.tick().await;
        let mut client = clients[n % clients.len()].clone();
        let sender = sender.clone();
        tokio::spawn(async move {
            let sent = Instant::now();
            client
                .submit_request(submission(TOTAL + n, "30m"))
                .await
                .expect("submit");
            let _ = sender.send(sent.elapsed());
        });
    }
    drop(sender);
    let mut latencies = Vec::new();
    while let Some(latency) = receiver.recv().await {
        latencies.push(latency);
    }
    let offered = started.elapsed();
    latencies.sort();
    println!(
        "open loop at {RATE}/s for {SECONDS} s ({} submits in {:.2} s): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        offered.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn expiry(kill: bool) {
    // Smaller or faster runs for a quick check: BENCH_USERS, BENCH_OFFSET_SECS, BENCH_SPREAD_SECS.
    let users_count = env_number("BENCH_USERS", 100);
    let offset = env_number("BENCH_OFFSET_SECS", 300);
    let spread = env_number("BENCH_SPREAD_SECS", 600);
    let grants = users_count * TABLES;
    let setup = setup().await;
    let app = start(&setup).await;
    let addr = app.grpc_addr();
    let service = app.request().unwrap().clone();
    let (stop, task) = serve(app);
    let users = world(addr, users_count).await;
    println!(
        "expiry bench on {}: {grants} grants ending {offset}–{} s after they are made",
        backend_name(&setup),
        offset + spread
    );

    // Ends spread over ten minutes, five minutes after each grant at the earliest.
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let users = Arc::new(users);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (service, next, users) = (service.clone(), next.clone(), users.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= grants {
                    break;
                }
                let (user_id, user_name, _) = &users[n / TABLES];
                let caller = Caller {
                    user_id: user_id.clone(),
                    user_name: user_name.clone(),
                    token_id: String::new(),
                    roles: vec![Role::User],
                    scope: TokenScope::Api,
                    source: String::new(),
                };
                let seconds = (offset + n * spread / grants) as u64;
                let submission = latch_request::service::Submission {
                    asked: latch_request::domain::flows::Asked {
                        items: vec![latch_request::domain::flows::Item {
                            integration_id: "demo".into(),
                            resource_id: table_id(n % TABLES),
                            permission: "read".into(),
                        }],
                        ..Default::default()
                    },
                    duration: latch_flow::domain::duration::Span::seconds(seconds),
                    ..Default::default()
                };
                service.submit(&caller, submission).await.expect("submit");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!("submitted {grants} in {:.1} s", started.elapsed().as_secs_f64());
    loop {
        let active = scalar::<i64>(&service, "SELECT count(*) FROM requests WHERE state = 'active'").await;
        if active >= grants as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("all {grants} active after {:.1} s", started.elapsed().as_secs_f64());

    let (mut stop, mut task) = (stop, task);
    if kill {
        // Halfway through the expiries.
        let first_end = scalar::<String>(&service, "SELECT min(ends_at) FROM holds").await;
        let first_end = chrono::DateTime::parse_from_rfc3339(&first_end)
            .unwrap()
            .with_timezone(&chrono::Utc);
        let halfway = first_end + chrono::TimeDelta::seconds(spread as i64 / 2);
        let wait = (halfway - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
        task.abort();
        let _ = task.await;
        drop(stop);
        let restarted = Instant::now();
        let app = start(&setup).await;
        println!(
            "killed at {}; restarted in {:.2} s",
            chrono::Utc::now(),
            restarted.elapsed().as_secs_f64()
        );
        (stop, task) = serve(app);
    }
    loop {
        let left = scalar::<i64>(&service, "SELECT count(*) FROM holds WHERE state <> 'revoked'").await;
        if left == 0 {
            break;
        }
        let last_end = scalar::<String>(&service, "SELECT max(ends_at) FROM holds").await;
        let last_end = chrono::DateTime::parse_from_rfc3339(&last_end)
            .unwrap()
            .with_timezone(&chrono::Utc);
        if chrono::Utc::now() > last_end + chrono::TimeDelta::minutes(2) {
            println!("{left} grants not revoked two minutes after the last end");
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let rows = service
        .db()
        .query_all_raw(Statement::from_string(
            service.db().get_database_backend(),
            "SELECT ends_at, revoked_at FROM holds".to_string(),
        ))
        .await
        .unwrap();
    let mut lateness = Vec::with_capacity(rows.len());
    let mut missed = 0;
    for row in rows {
        let ends: String = row.try_get("", "ends_at").unwrap();
        let revoked: Option<String> = row.try_get("", "revoked_at").unwrap();
        let Some(revoked) = revoked else {
            missed += 1;
            continue;
        };
        let ends = chrono::DateTime::parse_from_rfc3339(&ends).unwrap();
        let revoked = chrono::DateTime::parse_from_rfc3339(&revoked).unwrap();
        lateness.push((revoked - ends).to_std().unwrap_or_default());
    }
    lateness.sort();
    let over = lateness.iter().filter(|l| **l > Duration::from_secs(1)).count();
    println!(
        "revoke lateness over {} grants{}: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; {over} later than 1 s; {missed} missed",
        lateness.len(),
        if kill { " (killed and restarted halfway)" } else { "" },
        percentile(&lateness, 0.50).as_secs_f64() * 1e3,
        percentile(&lateness, 0.99).as_secs_f64() * 1e3,
        lateness.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    let _ = stop.send(());
    let _ = task.await;
    drop(service);
    setup.teardown().await;
}

/// One value of a one-row query on the request database.
async fn scalar<T: sea_orm::TryGetable>(service: &latch_request::RequestService, sql: &str) -> T {
    scalar_on(service.db(), sql).await
}

async fn scalar_on<T: sea_orm::TryGetable>(db: &sea_orm::DatabaseConnection, sql: &str) -> T {
    let backend: DbBackend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(backend, sql.to_string()))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<T>(0).unwrap()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--bench")).collect();
    match args.first().map(String::as_str) {
        Some("expiry") => expiry(args.iter().any(|a| a == "--kill")).await,
        Some("split") => split().await,
        _ => throughput().await,
    }
}
