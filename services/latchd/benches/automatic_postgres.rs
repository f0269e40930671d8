//! An automatic flow on the real PostgreSQL connector, end to end on this machine.
//!
//! A whole Latch in-process (SQLite, or PostgreSQL with `LATCH_BENCH_DATABASE_URL`), users
//! provisioned over SCIM, and an automatic flow giving the `on-call` group read on several
//! tables of a fresh database on the target server (`LATCH_BENCH_TARGET_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, a superuser): one request of several items
//! per user, granted and revoked at once. One user at a time, measured in the target database
//! itself, not from Latch's records:
//!   1. SCIM PATCH adding the user to the group → working access: a login role of the user's
//!      can connect to the database and holds SELECT on every table;
//!   2. SCIM PATCH removing the user → access gone: no role of the user's can log in or holds
//!      a privilege on any of the tables (login disabled, sessions ended, roles dropped).
//!
//! After each grant (not timed) the bench logs in over TCP with the credentials Latch hands the
//! user and reads every table, so what was measured is access that works. Also counted:
//! connector calls that failed (each would go back to the job queue and wait out
//! its backoff of seconds).
//!
//! Budget: p99 ≤ 1 s for both.
//!
//! Run: `cargo bench -p latchd --bench automatic_postgres [-- USERS]` (default 40 users).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use latch_connector_postgres::PostgresConnector;
use latch_connector_sdk::ConnectorResult;
use latch_proto::common::v1::Role;
use latch_request::RequestService;
use latch_request::domain::lifecycle::State;
use latch_runtime::{Caller, TokenScope};
use latchd::{App, AppOptions};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use support::scim::Scim;
use support::watched::{Watch, Watched};
use support::{Setup, admin_caller, report, serve, setup};
const DEFAULT_TARGET_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Tables the flow grants: one request of this many items per user.
const TABLES: usize = 4;
const POLL: Duration = Duration::from_millis(2);

/// The real PostgreSQL connector, described as `postgres-counted`, counting the calls that
/// failed.
type Counted = Watched<PostgresConnector, Calls>;

/// How many grant, extend and revoke calls there were, and how many failed.
#[derive(Default)]
struct Calls {
    failed: AtomicU64,
    calls: AtomicU64,
}

impl Watch for Calls {
    fn answered<T>(&self, result: ConnectorResult<T>) -> ConnectorResult<T> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = &result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            eprintln!("  connector call failed: {error}");
        }
        result
    }
}

/// A fresh database on the target server with the flow's tables; dropped with its roles after.
struct Target {
    server: PgConnectOptions,
    password: Option<String>,
    database: String,
}

impl Target {
    async fn create() -> Self {
        let url = std::env::var("LATCH_BENCH_TARGET_URL").unwrap_or_else(|_| DEFAULT_TARGET_URL.into());
        let server: PgConnectOptions = url.parse().expect("LATCH_BENCH_TARGET_URL is a postgres url");
        let password = url
            .split_once("://")
            .and_then(|(_, rest)| rest.split('/').next())
            .and_then(|authority| authority.rsplit_once('@'))
            .and_then(|(credentials, _)| credentials.split_once(':'))
            .map(|(_, password)| password.to_string());
        let database = format!("latch_bench_target_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect_with(&server)
            .await
            .expect("reach the target server");
        execute(&mut admin, &format!("CREATE DATABASE \"{database}\"")).await;
        admin.close().await.ok();
        let mut connection = PgConnection::connect_with(&server.clone().database(&database))
            .await
            .expect("reach the target database");
        let tables: String = (0..TABLES)
            .map(|n| format!("CREATE TABLE public.t{n} (id int); INSERT INTO public.t{n} VALUES ({n});"))
            .collect();
        execute(&mut connection, &tables).await;
        connection.close().await.ok();
        Self {
            server,
            password,
            database,
        }
    }

    async fn connection(&self) -> PgConnection {
        PgConnection::connect_with(&self.server.clone().database(&self.database))
            .await
            .expect("reach the target database")
    }

    fn table_ids(&self) -> Vec<String> {
        (0..TABLES)
            .map(|n| format!("\"table:{}/public/t{n}\"", self.database))
            .collect()
    }

    /// How many of the tables `user` can read through a role that may log in (and connect),
    /// and whether any role of the user's still may log in or holds a privilege there.
    async fn access(&self, connection: &mut PgConnection, user: &str) -> (i64, bool) {
        sqlx::query_as(
            "WITH mine AS ( \
               SELECT r.oid, r.rolcanlogin AND coalesce(r.rolvaliduntil > now(), true) \
                        AND has_database_privilege(r.oid, current_database(), 'CONNECT') AS can_log_in \
               FROM pg_roles r \
               WHERE r.rolname LIKE 'latch\\_%' \
                 AND shobj_description(r.oid, 'pg_authid') LIKE '%\"grantee\":' || to_json($1::text)::text || '%'), \
             tables AS (SELECT c.oid FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r') \
             SELECT \
               (SELECT count(DISTINCT t.oid) FROM mine m, tables t \
                 WHERE m.can_log_in AND has_table_privilege(m.oid, t.oid, 'SELECT')), \
               EXISTS (SELECT 1 FROM mine m WHERE m.can_log_in \
                        OR EXISTS (SELECT 1 FROM tables t WHERE has_table_privilege(m.oid, t.oid, 'SELECT')))",
        )
        .bind(user)
        .fetch_one(connection)
        .await
        .expect("read the user's access")
    }

    async fn drop(self) {
        let Ok(mut admin) = PgConnection::connect_with(&self.server).await else {
            return;
        };
        let roles: Vec<String> = sqlx::query_scalar(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE 'latch\\_%' \
             AND shobj_description(oid, 'pg_authid') LIKE '%\"database\":' || to_json($1::text)::text || '%'",
        )
        .bind(&self.database)
        .fetch_all(&mut admin)
        .await
        .unwrap_or_default();
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.database);
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await;
        for role in roles {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS \"{role}\"")))
                .execute(&mut admin)
                .await;
        }
        admin.close().await.ok();
    }
}

async fn execute(connection: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(connection)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
}

async fn start(setup: &Setup, connector: Arc<Counted>) -> App {
    let config = support::config(setup);
    let options = AppOptions {
        connectors: vec![connector],
        ..AppOptions::default()
    };
    App::build(config, options).await.expect("latch starts")
}

async fn integration(app: &App, target: &Target) {
    let catalog = app.catalog().expect("catalog");
    let actor = latch_catalog::service::Actor::from_caller(&admin_caller(app));
    let config = std::collections::BTreeMap::from([
        ("host".to_string(), target.server.get_host().to_string()),
        ("port".to_string(), target.server.get_port().to_string()),
        ("user".to_string(), target.server.get_username().to_string()),
        (
            "database".to_string(),
            target.server.get_database().unwrap_or("postgres").to_string(),
        ),
        ("databases".to_string(), target.database.clone()),
    ]);
    let secrets = target
        .password
        .iter()
        .map(|password| ("password".to_string(), password.clone()))
        .collect();
    catalog
        .create_integration(
            &actor,
            latch_catalog::service::IntegrationDraft {
                name: "pg".into(),
                connector: "postgres-counted".into(),
                config,
                secrets,
                ..Default::default()
            },
            "",
        )
        .await
        .expect("integration");
    catalog.sync_integration(&actor, "pg").await.expect("sync");
}

/// Logs in as `user` with each credential Latch hands them for their active request and reads
/// the item's table; returns how many tables were read.
async fn prove_login(requests: &RequestService, user_id: &str, user_name: &str) -> usize {
    let caller = Caller {
        user_id: user_id.to_string(),
        user_name: user_name.to_string(),
        token_id: String::new(),
        roles: vec![Role::User],
        scope: TokenScope::Api,
        source: "bench".into(),
    };
    // The request turns active just after its last grant lands.
    let request = loop {
        let active = requests
            .list(&caller, false, vec![State::Active], Default::default(), 10, None)
            .await
            .expect("list the user's requests");
        if let Some(request) = active.into_iter().next() {
            break request;
        }
        tokio::time::sleep(POLL).await;
    };
    let mut read = 0;
    for view in requests
        .credentials(&caller, &request.request.id)
        .await
        .expect("credentials")
    {
        let credentials = &view.credentials;
        let options = PgConnectOptions::new_without_pgpass()
            .host(&credentials["host"])
            .port(credentials["port"].parse().expect("port"))
            .username(&credentials["user"])
            .password(&credentials["password"])
            .database(&credentials["database"]);
        let mut session = PgConnection::connect_with(&options)
            .await
            .expect("log in with the credentials latch handed out");
        let table = view
            .item
            .resource_id
            .rsplit('/')
            .next()
            .expect("a table id")
            .to_string();
        let _: i32 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT id FROM public.{table}")))
            .fetch_one(&mut session)
            .await
            .expect("read the granted table");
        session.close().await.ok();
        read += 1;
    }
    read
}

async fn bench(users: usize) {
    let setup = setup().await;
    let target = Target::create().await;
    let connector = Arc::new(Counted::new("postgres-counted"));
    let app = start(&setup, connector.clone()).await;
    integration(&app, &target).await;
    let flow = app.flow().expect("flow").clone();
    let requests = app.request().expect("request").clone();
    let caller = admin_caller(&app);
    let scim = Scim::new(&app, &caller).await;
    let (stop, task) = serve(app);
    let ids = scim.create_users(users).await;
    let group_id = scim.create_group("on-call").await;
    let document = format!(
        "name: on-call reads the bench tables\nkind: automatic\n\
         requestors: {{ rows: [ {{ attribute: group, operator: is, values: [on-call] }} ] }}\n\
         targets:\n  - integration: {{ integration: pg, resource_type: table, permissions: [read], mode: include, resource_ids: [{}] }}\n\
         grant_for: indefinite\n",
        target.table_ids().join(", ")
    );
    flow.create(&caller, &document, "").await.expect("flow");

    let mut watcher = target.connection().await;
    println!(
        "automatic flow on the real postgres connector: {TABLES} tables per user (one request of {TABLES} items), one user at a time"
    );
    let (mut granted, mut revoked, mut proven) = (Vec::new(), Vec::new(), 0);
    for (n, id) in ids.iter().enumerate() {
        let user = format!("u{n}@bench.example");
        let sent = Instant::now();
        let add = serde_json::json!([{ "op": "add", "path": "members", "value": [{ "value": id }] }]);
        scim.patch_group(&group_id, add).await;
        loop {
            if target.access(&mut watcher, &user).await.0 == TABLES as i64 {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        granted.push(sent.elapsed());
        proven += prove_login(&requests, id, &user).await;
        let sent = Instant::now();
        let remove = serde_json::json!([{ "op": "remove", "path": format!("members[value eq \"{id}\"]") }]);
        scim.patch_group(&group_id, remove).await;
        loop {
            if !target.access(&mut watcher, &user).await.1 {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        revoked.push(sent.elapsed());
    }
    report("  SCIM add → working access on every table", granted);
    report("  SCIM remove → access gone", revoked);
    println!(
        "  logged in with the issued credentials and read the table: {proven} of {} items",
        users * TABLES
    );
    println!(
        "  connector calls: {}, failed (sent back to the job queue): {}",
        connector.watch.calls.load(Ordering::Relaxed),
        connector.watch.failed.load(Ordering::Relaxed)
    );
    watcher.close().await.ok();
    let _ = stop.send(());
    let _ = task.await;
    target.drop().await;
    setup.teardown().await;
}

fn main() {
    let users = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(40);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(users));
}
