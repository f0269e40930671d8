//! Against a real PostgreSQL: `LATCH_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) names a superuser. Every test makes its own
//! database and limits the connector to it (`databases`), so tests run in parallel without
//! seeing each other, and drops it (and the roles granted on it) when done, even on failure.
//!
//! The test server trusts local connections: a role connects without its password being
//! checked, so these tests prove what the role may do, not that the password is right. The
//! password verifier is checked against an independent computation in the unit tests.

use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use latch_connector_postgres::PostgresConnector;
use latch_connector_sdk::client::RemoteConnector;
use latch_connector_sdk::conformance::{self, ConformanceCase};
use latch_connector_sdk::{Config, Connector, ConnectorError, GrantOutcome, GrantRequest, Grantee};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn admin_url() -> String {
    std::env::var("LATCH_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

fn admin_options() -> PgConnectOptions {
    PgConnectOptions::from_str(&admin_url()).expect("LATCH_TEST_POSTGRES_URL is a postgres url")
}

/// The password in the url, if any: PgConnectOptions has no getter for it.
fn admin_password() -> Option<String> {
    let url = admin_url();
    let authority = url.split_once("://")?.1.split('/').next()?.to_string();
    let (credentials, _) = authority.rsplit_once('@')?;
    credentials.split_once(':').map(|(_, password)| password.to_string())
}

async fn admin_connection(database: &str) -> PgConnection {
    PgConnection::connect_with(&admin_options().database(database))
        .await
        .expect("connect as the test superuser")
}

async fn execute(connection: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(connection)
        .await
        .map(|_| ())
}

/// A fresh database with `public.orders` (serial id, one row), `public.customers` and
/// `sales.invoices` (identity id).
struct TestDatabase {
    name: String,
}

impl TestDatabase {
    async fn create() -> Self {
        let name = format!("latch_conn_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin_connection(&maintenance_database()).await;
        execute(&mut admin, &format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create database");
        admin.close().await.ok();

        let mut connection = admin_connection(&name).await;
        execute(
            &mut connection,
            "CREATE TABLE public.orders (id serial PRIMARY KEY, item text NOT NULL); \
             INSERT INTO public.orders (item) VALUES ('apple'); \
             CREATE TABLE public.customers (id int PRIMARY KEY, name text); \
             CREATE SCHEMA sales; \
             CREATE TABLE sales.invoices (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, total numeric)",
        )
        .await
        .expect("create tables");
        connection.close().await.ok();
        Self { name }
    }

    /// The connector's config: the test server, limited to this database.
    fn config(&self) -> Config {
        let options = admin_options();
        let mut config = Config::from([
            ("host".to_string(), options.get_host().to_string()),
            ("port".to_string(), options.get_port().to_string()),
            ("user".to_string(), options.get_username().to_string()),
            ("database".to_string(), maintenance_database()),
            ("databases".to_string(), self.name.clone()),
        ]);
        if let Some(password) = admin_password() {
            config.insert("password".to_string(), password);
        }
        config
    }

    fn grant_request(&self, grant_id: &str, resource_type: &str, resource_id: &str, permission: &str) -> GrantRequest {
        GrantRequest {
            grant_id: grant_id.to_string(),
            grantee: Grantee {
                user_id: "u-1".into(),
                user_name: "ada".into(),
                email: "ada@example.com".into(),
                attributes: Default::default(),
            },
            resource_type: resource_type.to_string(),
            resource_id: resource_id.to_string(),
            permission: permission.to_string(),
            expires_at: Some(Utc::now() + TimeDelta::hours(1)),
            context: Default::default(),
        }
    }

    fn table_id(&self, schema: &str, table: &str) -> String {
        format!("table:{}/{schema}/{table}", self.name)
    }
}

impl Drop for TestDatabase {
    /// Drops the database and every role granted on it, on a thread of its own because Drop
    /// cannot await; failures are ignored.
    fn drop(&mut self) {
        let name = self.name.clone();
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(async move {
                let Ok(mut admin) =
                    PgConnection::connect_with(&admin_options().database(&maintenance_database())).await
                else {
                    return;
                };
                let _ = execute(&mut admin, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                let roles: Vec<String> = sqlx::query_scalar(
                    "SELECT rolname FROM pg_roles WHERE rolname LIKE 'latch\\_%' \
                     AND shobj_description(oid, 'pg_authid') LIKE '%' || $1 || '%'",
                )
                .bind(format!("\"database\":\"{name}\""))
                .fetch_all(&mut admin)
                .await
                .unwrap_or_default();
                for role in roles {
                    let _ = execute(&mut admin, &format!("DROP ROLE IF EXISTS \"{role}\"")).await;
                }
                admin.close().await.ok();
            });
        });
        let _ = cleanup.join();
    }
}

fn maintenance_database() -> String {
    admin_options().get_database().unwrap_or("postgres").to_string()
}

/// A session as the granted role, with the credentials the grant returned.
async fn connect_as(outcome: &GrantOutcome) -> Result<PgConnection, sqlx::Error> {
    let credentials = &outcome.credentials;
    let options = PgConnectOptions::new_without_pgpass()
        .host(&credentials["host"])
        .port(credentials["port"].parse().expect("port is a number"))
        .username(&credentials["user"])
        .password(&credentials["password"])
        .database(&credentials["database"]);
    PgConnection::connect_with(&options).await
}

fn sqlstate(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(error) => error.code().map(|code| code.into_owned()),
        _ => None,
    }
}

const INSUFFICIENT_PRIVILEGE: &str = "42501";

async fn valid_until_epoch(role: &str) -> Option<f64> {
    let mut admin = admin_connection(&maintenance_database()).await;
    let epoch = sqlx::query_scalar("SELECT extract(epoch FROM rolvaliduntil)::float8 FROM pg_roles WHERE rolname = $1")
        .bind(role)
        .fetch_optional(&mut admin)
        .await
        .expect("read rolvaliduntil");
    admin.close().await.ok();
    epoch.flatten()
}

fn epoch(instant: DateTime<Utc>) -> f64 {
    instant.timestamp_micros() as f64 / 1e6
}

#[tokio::test]
async fn conformance_kit_passes() {
    let database = TestDatabase::create().await;
    let case = ConformanceCase::new(
        database.config(),
        "table",
        &database.table_id("public", "orders"),
        "read",
    );
    conformance::check(&PostgresConnector::new(), &case)
        .await
        .expect("conformance");
}

#[tokio::test]
async fn read_grant_can_select_but_not_insert() {
    let database = TestDatabase::create().await;
    let connector = PostgresConnector::new();
    let request = database.grant_request("read-1", "table", &database.table_id("public", "orders"), "read");
    let outcome = connector.grant(&database.config(), &request).await.expect("grant");

    assert!(outcome.account.starts_with("latch_"));
    assert_eq!(outcome.credentials["user"], outcome.account);
    assert_eq!(outcome.credentials["database"], database.name);
    assert!(outcome.credentials["password"].len() >= 24);

    let mut session = connect_as(&outcome).await.expect("the granted role connects");
    let items: Vec<String> = sqlx::query_scalar("SELECT item FROM public.orders")
        .fetch_all(&mut session)
        .await
        .expect("select");
    assert_eq!(items, vec!["apple".to_string()]);
    let insert = execute(&mut session, "INSERT INTO public.orders (item) VALUES ('pear')").await;
    assert_eq!(
        sqlstate(&insert.expect_err("insert must be denied")).as_deref(),
        Some(INSUFFICIENT_PRIVILEGE)
    );
    let other_table = execute(&mut session, "SELECT * FROM public.customers").await;
    assert_eq!(
        sqlstate(&other_table.expect_err("other tables stay closed")).as_deref(),
        Some(INSUFFICIENT_PRIVILEGE)
    );
    session.close().await.ok();

    connector.revoke(&database.config(), "read-1").await.expect("revoke");
}

#[tokio::test]
async fn write_grant_can_insert() {
    let database = TestDatabase::create().await;
    let connector = PostgresConnector::new();
    let request = database.grant_request("write-1", "table", &database.table_id("public", "orders"), "write");
    let outcome = connector.grant(&database.config(), &request).await.expect("grant");

    let mut session = connect_as(&outcome).await.expect("connect");
    // The serial id needs USAGE on the table's sequence, which write grants.
    execute(&mut session, "INSERT INTO public.orders (item) VALUES ('pear')")
        .await
        .expect("insert");
    execute(
        &mut session,
        "UPDATE public.orders SET item = 'plum' WHERE item = 'pear'",
    )
    .await
    .expect("update");
    execute(&mut session, "DELETE FROM public.orders WHERE item = 'plum'")
        .await
        .expect("delete");
    let truncate = execute(&mut session, "TRUNCATE public.orders").await;
    assert_eq!(
        sqlstate(&truncate.expect_err("truncate is admin")).as_deref(),
        Some(INSUFFICIENT_PRIVILEGE)
    );
    session.close().await.ok();

    connector.revoke(&database.config(), "write-1").await.expect("revoke");
}

#[tokio::test]
async fn schema_read_covers_every_table_in_the_schema() {
    let database = TestDatabase::create().await;
    let connector = PostgresConnector::new();
    let schema_id = format!("schema:{}/public", database.name);
    let outcome = connector
        .grant(
            &database.config(),
            &database.grant_request("schema-1", "schema", &schema_id, "read"),
        )
        .await
        .expect("grant");

    let mut session = connect_as(&outcome).await.expect("connect");
    execute(&mut session, "SELECT * FROM public.orders")
        .await
        .expect("orders");
    execute(&mut session, "SELECT * FROM public.customers")
        .await
        .expect("customers");
    let other_schema = execute(&mut session, "SELECT * FROM sales.invoices").await;
    assert_eq!(
        sqlstate(&other_schema.expect_err("sales stays closed")).as_deref(),
        Some(INSUFFICIENT_PRIVILEGE)
    );
    session.close().await.ok();

    connector.revoke(&database.config(), "schema-1").await.expect("revoke");
}

#[tokio::test]
async fn granting_again_returns_the_same_account_with_a_fresh_password() {
    let database = TestDatabase::create().await;
    let connector = PostgresConnector::new();
    let request = database.grant_request("again-1", "table", &database.table_id("sales", "invoices"), "write");
    let first = connector.grant(&database.config(), &request).await.expect("grant");
    let second = connector
        .grant(&database.config(), &request)
        .await
        .expect("grant again");
    assert_eq!(first.account, second.account);
    assert_ne!(first.credentials["password"], second.credentials["password"]);

    let held = connector.list_grants(&database.config()).await.expect("list grants");
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].grant_id, "again-1");
    assert_eq!(held[0].account, first.account);
    assert_eq!(held[0].permission, "write");

    // The same grant id for another resource is refused, not silently widened.
    let other = database.grant_request("again-1", "table", &database.table_id("public", "orders"), "write");
    match connector.grant(&database.config(), &other).await {
        Err(ConnectorError::FailedPrecondition(_)) => {}
        other => panic!("expected FailedPrecondition, got {other:?}"),
    }

    connector.revoke(&database.config(), "again-1").await.expect("revoke");
    assert!(
        connector
            .list_grants(&database.config())
            .await
            .expect("list grants")
            .is_empty()
    );
}

#[tokio::test]
async fn revoke_ends_live_sessions_and_login() {
    let database = TestDatabase::create().await;
    let connector = PostgresConnector::new();
    let request = database.grant_request("revoke-1", "table", &database.table_id("public", "orders"), "read");
    let outcome = connector.grant(&database.config(), &request).await.expect("grant");

    let mut open_session = connect_as(&outcome).await.expect("connect before revoke");
    execute(&mut open_session, "SELECT 1")
        .await
        .expect("the session works before revoke");

    connector.revoke(&database.config(), "revoke-1").await.expect("revoke");

    assert!(
        execute(&mut open_session, "SELECT 1").await.is_err(),
        "the session opened before revoke must be terminated"
    );
    assert!(
        connect_as(&outcome).await.is_err(),
        "the role must not connect after revoke"
    );
    assert_eq!(valid_until_epoch(&outcome.account).await, None);
    let mut admin = admin_connection(&maintenance_database()).await;
    let role_left: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
        .bind(&outcome.account)
        .fetch_one(&mut admin)
        .await
        .expect("look up role");
    assert!(!role_left, "the role must be dropped");
    admin.close().await.ok();

    connector
        .revoke(&database.config(), "revoke-1")
        .await
        .expect("revoking again succeeds");
}

#[tokio::test]
async fn revoking_an_admin_grant_keeps_what_the_role_created() {
    let database = TestDatabase::create().await;
    let connector = PostgresConnector::new();
    let schema_id = format!("schema:{}/sales", database.name);
    let outcome = connector
        .grant(
            &database.config(),
            &database.grant_request("admin-1", "schema", &schema_id, "admin"),
        )
        .await
        .expect("grant");

    let mut session = connect_as(&outcome).await.expect("connect");
    execute(&mut session, "CREATE TABLE sales.made_by_grantee (id int)")
        .await
        .expect("admin may create");
    session.close().await.ok();

    connector
        .revoke(&database.config(), "admin-1")
        .await
        .expect("revoke drops an owning role");

    let mut admin = admin_connection(&database.name).await;
    let owner: String =
        sqlx::query_scalar("SELECT tableowner::text FROM pg_tables WHERE tablename = 'made_by_grantee'")
            .fetch_one(&mut admin)
            .await
            .expect("the table survives");
    assert_eq!(owner, admin_options().get_username());
    admin.close().await.ok();
}

#[tokio::test]
async fn list_resources_lists_the_database_its_schemas_and_tables() {
    let database = TestDatabase::create().await;
    let resources = PostgresConnector::new()
        .list_resources(&database.config())
        .await
        .expect("list resources");
    let db = &database.name;
    let find = |id: &str| {
        resources
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("{id} missing from {resources:#?}"))
    };

    let database_resource = find(&format!("database:{db}"));
    assert_eq!(database_resource.resource_type, "database");
    assert_eq!(database_resource.parent_id, "");
    assert_eq!(database_resource.path, *db);
    assert_eq!(database_resource.name, *db);

    for schema in ["public", "sales"] {
        let resource = find(&format!("schema:{db}/{schema}"));
        assert_eq!(resource.resource_type, "schema");
        assert_eq!(resource.parent_id, format!("database:{db}"));
        assert_eq!(resource.tags["schema"], schema);
    }

    for (schema, table) in [("public", "orders"), ("public", "customers"), ("sales", "invoices")] {
        let resource = find(&format!("table:{db}/{schema}/{table}"));
        assert_eq!(resource.resource_type, "table");
        assert_eq!(resource.name, table);
        assert_eq!(resource.path, format!("{db}/{schema}/{table}"));
        assert_eq!(resource.parent_id, format!("schema:{db}/{schema}"));
        assert_eq!(resource.tags["database"], *db);
        assert_eq!(resource.tags["schema"], schema);
        assert_eq!(resource.tags["kind"], "table");
    }

    assert_eq!(
        resources.len(),
        1 + 2 + 3,
        "only this database is managed: {resources:#?}"
    );
    assert!(
        !resources
            .iter()
            .any(|r| r.id.contains("pg_catalog") || r.id.contains("information_schema")),
        "system schemas are skipped"
    );
}

#[tokio::test]
async fn extend_moves_valid_until() {
    let database = TestDatabase::create().await;
    let connector = PostgresConnector::new();
    let request = database.grant_request(
        "extend-1",
        "database",
        &format!("database:{}", database.name),
        "connect",
    );
    let first_expiry = request.expires_at.expect("the request expires");
    let outcome = connector.grant(&database.config(), &request).await.expect("grant");
    let valid_until = valid_until_epoch(&outcome.account).await.expect("valid until is set");
    assert!((valid_until - epoch(first_expiry)).abs() < 0.001, "{valid_until}");

    let later = Utc::now() + TimeDelta::hours(5);
    connector
        .extend(&database.config(), "extend-1", Some(later))
        .await
        .expect("extend");
    let valid_until = valid_until_epoch(&outcome.account).await.expect("valid until is set");
    assert!((valid_until - epoch(later)).abs() < 0.001, "{valid_until}");
    let held = connector.list_grants(&database.config()).await.expect("list grants");
    assert_eq!(held[0].expires_at.map(|t| t.timestamp()), Some(later.timestamp()));

    connector
        .extend(&database.config(), "extend-1", None)
        .await
        .expect("extend indefinitely");
    let valid_until = valid_until_epoch(&outcome.account).await.expect("valid until is set");
    assert!(valid_until.is_infinite(), "{valid_until}");

    match connector
        .extend(&database.config(), "extend-unknown", Some(later))
        .await
    {
        Err(ConnectorError::FailedPrecondition(_)) => {}
        other => panic!("extending an unknown grant must be FailedPrecondition, got {other:?}"),
    }
    connector.revoke(&database.config(), "extend-1").await.expect("revoke");
}

#[tokio::test]
async fn validate_reports_a_wrong_port_and_a_role_without_createrole() {
    let database = TestDatabase::create().await;
    let connector = PostgresConnector::new();
    assert_eq!(
        connector.validate_config(&database.config()).await.expect("validate"),
        Vec::<String>::new()
    );

    let mut wrong_port = database.config();
    wrong_port.insert("port".into(), "1".into());
    let problems = connector.validate_config(&wrong_port).await.expect("validate");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("cannot connect to"), "{problems:?}");
    assert!(problems[0].contains(":1/"), "{problems:?}");

    let weak_role = format!("latch_test_weak_{}", uuid::Uuid::new_v4().simple());
    let mut admin = admin_connection(&maintenance_database()).await;
    execute(&mut admin, &format!("CREATE ROLE \"{weak_role}\" LOGIN NOCREATEROLE"))
        .await
        .expect("create role");
    let mut weak = database.config();
    weak.insert("user".into(), weak_role.clone());
    weak.remove("password");
    let problems = connector.validate_config(&weak).await;
    let _ = execute(&mut admin, &format!("DROP ROLE IF EXISTS \"{weak_role}\"")).await;
    admin.close().await.ok();
    let problems = problems.expect("validate");
    assert!(
        problems
            .iter()
            .any(|p| p == &format!("role {weak_role} lacks CREATEROLE")),
        "{problems:?}"
    );

    let mut missing_host = database.config();
    missing_host.remove("host");
    let problems = connector.validate_config(&missing_host).await.expect("validate");
    assert_eq!(problems, vec!["host is required".to_string()]);
}

#[tokio::test]
async fn refusals_say_whether_retrying_helps() {
    let database = TestDatabase::create().await;
    let connector = PostgresConnector::new();

    let missing_table = database.grant_request("missing-1", "table", &database.table_id("public", "nope"), "read");
    match connector.grant(&database.config(), &missing_table).await {
        Err(error @ ConnectorError::FailedPrecondition(_)) => assert!(!error.is_retryable()),
        other => panic!("a missing table must be FailedPrecondition, got {other:?}"),
    }

    let unknown_permission = database.grant_request(
        "unknown-1",
        "table",
        &database.table_id("public", "orders"),
        "superpowers",
    );
    match connector.grant(&database.config(), &unknown_permission).await {
        Err(ConnectorError::InvalidArgument { field, .. }) => assert_eq!(field, "permission"),
        other => panic!("an unknown permission must be InvalidArgument, got {other:?}"),
    }

    let missing_database = database.grant_request("missing-2", "database", "database:latch_conn_gone", "connect");
    let mut config = database.config();
    config.insert("databases".into(), format!("{},latch_conn_gone", database.name));
    match connector.grant(&config, &missing_database).await {
        Err(error @ ConnectorError::FailedPrecondition(_)) => assert!(!error.is_retryable()),
        other => panic!("a missing database must be FailedPrecondition, got {other:?}"),
    }

    let mut unreachable = database.config();
    unreachable.insert("port".into(), "1".into());
    match connector.grant(&unreachable, &missing_table).await {
        Err(error @ ConnectorError::Unavailable(_)) => assert!(error.is_retryable()),
        other => panic!("an unreachable server must be Unavailable, got {other:?}"),
    }

    assert!(
        connector
            .list_grants(&database.config())
            .await
            .expect("list grants")
            .is_empty(),
        "nothing is left"
    );
}

#[tokio::test]
async fn conformance_kit_passes_over_grpc() {
    // What the binary does: serve the connector; Latch reaches it as a RemoteConnector.
    let database = TestDatabase::create().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(latch_connector_sdk::server::serve(
        std::sync::Arc::new(PostgresConnector::new()),
        listener,
        async {
            let _ = stopped.await;
        },
    ));
    let remote = RemoteConnector::connect(&endpoint).await.expect("reach the connector");
    let case = ConformanceCase::new(
        database.config(),
        "table",
        &database.table_id("sales", "invoices"),
        "write",
    );
    conformance::check(&remote, &case).await.expect("conformance over grpc");
    let _ = stop.send(());
    let _ = server.await;
}

#[tokio::test]
async fn an_admin_with_createrole_but_not_superuser_can_grant_and_revoke() {
    let database = TestDatabase::create().await;
    let admin_role = format!("latch_test_admin_{}", uuid::Uuid::new_v4().simple());
    let db = database.name.clone();
    let mut superuser = admin_connection(&database.name).await;
    execute(
        &mut superuser,
        &format!(
            "CREATE ROLE \"{admin_role}\" LOGIN CREATEROLE; \
             GRANT pg_signal_backend TO \"{admin_role}\"; \
             GRANT CONNECT ON DATABASE \"{db}\" TO \"{admin_role}\" WITH GRANT OPTION; \
             GRANT USAGE ON SCHEMA public TO \"{admin_role}\" WITH GRANT OPTION; \
             GRANT SELECT ON public.orders TO \"{admin_role}\" WITH GRANT OPTION; \
             GRANT SELECT ON public.customers TO \"{admin_role}\""
        ),
    )
    .await
    .expect("set up a createrole admin");
    let mut config = database.config();
    config.insert("user".into(), admin_role.clone());
    config.remove("password");

    let case = ConformanceCase::new(config.clone(), "table", &database.table_id("public", "orders"), "read");
    let result = conformance::check(&PostgresConnector::new(), &case).await;

    // The admin may read customers but not grant that: PostgreSQL only warns and grants
    // nothing, so the connector must notice on its own.
    let refused = PostgresConnector::new()
        .grant(
            &config,
            &database.grant_request("weak-1", "table", &database.table_id("public", "customers"), "read"),
        )
        .await;
    let revoked = PostgresConnector::new().revoke(&config, "weak-1").await;

    superuser.close().await.ok();
    drop(database);
    let mut maintenance = admin_connection(&maintenance_database()).await;
    let _ = execute(&mut maintenance, &format!("DROP ROLE IF EXISTS \"{admin_role}\"")).await;
    maintenance.close().await.ok();

    result.expect("conformance as a createrole admin");
    match refused {
        Err(ConnectorError::FailedPrecondition(message)) => assert!(message.contains("grant rights"), "{message}"),
        other => panic!("a grant the admin cannot give must be FailedPrecondition, got {other:?}"),
    }
    revoked.expect("revoking the half-made grant");
}

/// Many grants and revokes of different items for one grantee on one database at once, as a
/// multi-item request or an automatic flow sends them: each call succeeds the first time (no
/// "tuple concurrently updated" handed back for the job queue to retry after a backoff).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_grants_and_revokes_on_one_database_all_succeed_at_once() {
    const TABLES: usize = 12;
    let database = TestDatabase::create().await;
    let mut admin = admin_connection(&database.name).await;
    let tables: String = (0..TABLES)
        .map(|n| format!("CREATE TABLE public.t{n} (id int); INSERT INTO public.t{n} VALUES ({n});"))
        .collect();
    execute(&mut admin, &tables).await.expect("create tables");
    admin.close().await.ok();

    let connector = std::sync::Arc::new(PostgresConnector::new());
    let config = database.config();
    let grant_of = |n: usize| {
        database.grant_request(
            &format!("many-{n}"),
            "table",
            &database.table_id("public", &format!("t{n}")),
            "read",
        )
    };
    let whole_schema = database.grant_request(
        "many-schema",
        "schema",
        &format!("schema:{}/sales", database.name),
        "write",
    );
    let whole_database =
        database.grant_request("many-db", "database", &format!("database:{}", database.name), "connect");

    // Round one: the first half of the tables, the schema and the database, all at once.
    let mut first_round: Vec<GrantRequest> = (0..TABLES / 2).map(grant_of).collect();
    first_round.push(whole_schema);
    first_round.push(whole_database);
    let mut tasks = Vec::new();
    for request in first_round {
        let (connector, config) = (connector.clone(), config.clone());
        tasks.push(tokio::spawn(async move {
            let result = connector.grant(&config, &request).await;
            (request.grant_id, result)
        }));
    }
    let mut outcomes = std::collections::BTreeMap::new();
    for task in tasks {
        let (grant_id, result) = task.await.expect("task");
        outcomes.insert(
            grant_id.clone(),
            result.unwrap_or_else(|e| panic!("grant {grant_id} failed: {e}")),
        );
    }

    // Round two: revoke the first half of the tables while granting the second half.
    let mut revokes = Vec::new();
    for n in 0..TABLES / 2 {
        let (connector, config) = (connector.clone(), config.clone());
        revokes.push(tokio::spawn(async move {
            let grant_id = format!("many-{n}");
            let result = connector.revoke(&config, &grant_id).await;
            (grant_id, result)
        }));
    }
    let mut grants = Vec::new();
    for n in TABLES / 2..TABLES {
        let (connector, config, request) = (connector.clone(), config.clone(), grant_of(n));
        grants.push(tokio::spawn(async move {
            let result = connector.grant(&config, &request).await;
            (request.grant_id, result)
        }));
    }
    for task in revokes {
        let (grant_id, result) = task.await.expect("task");
        result.unwrap_or_else(|e| panic!("revoke {grant_id} failed: {e}"));
    }
    let mut revoked = Vec::new();
    for n in 0..TABLES / 2 {
        revoked.push(outcomes.remove(&format!("many-{n}")).expect("granted in round one"));
    }
    for task in grants {
        let (grant_id, result) = task.await.expect("task");
        outcomes.insert(
            grant_id.clone(),
            result.unwrap_or_else(|e| panic!("grant {grant_id} failed: {e}")),
        );
    }

    // The end state: exactly the held grants, each working, the revoked ones gone.
    let held: Vec<String> = connector
        .list_grants(&config)
        .await
        .expect("list grants")
        .into_iter()
        .map(|g| g.grant_id)
        .collect();
    let expected: Vec<String> = outcomes.keys().cloned().collect();
    let mut held_sorted = held.clone();
    held_sorted.sort();
    assert_eq!(held_sorted, expected);
    for n in TABLES / 2..TABLES {
        let outcome = &outcomes[&format!("many-{n}")];
        let mut session = connect_as(outcome).await.expect("a granted role logs in");
        let value: i32 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT id FROM public.t{n}")))
            .fetch_one(&mut session)
            .await
            .expect("select the granted table");
        assert_eq!(value, n as i32);
        session.close().await.ok();
    }
    for outcome in &revoked {
        assert!(connect_as(outcome).await.is_err(), "a revoked role must not log in");
    }
    for grant_id in expected {
        connector.revoke(&config, &grant_id).await.expect("clean up");
    }
}
