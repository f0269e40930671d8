//! Grants, revokes, extends, resources and validation against a real server.

use chrono::{TimeDelta, Utc};
use latch_connector_postgres::PostgresConnector;
use latch_connector_sdk::client::RemoteConnector;
use latch_connector_sdk::conformance::{self, ConformanceCase};
use latch_connector_sdk::{Connector, ConnectorError};
use sqlx::Connection;

use crate::scratch_cluster::SUPERUSER;
use crate::support::*;

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
    let mut admin = admin_connection(MAINTENANCE_DATABASE).await;
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
    assert_eq!(owner, SUPERUSER);
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
        // A grant the server does not hold is drift: NOT_FOUND, so Latch gives it again.
        Err(ConnectorError::NotFound(_)) => {}
        other => panic!("extending an unknown grant must be NotFound, got {other:?}"),
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
    let mut admin = admin_connection(MAINTENANCE_DATABASE).await;
    execute(
        &mut admin,
        &format!("CREATE ROLE \"{weak_role}\" LOGIN NOCREATEROLE PASSWORD 'weak-password'"),
    )
    .await
    .expect("create role");
    let mut weak = database.config();
    weak.insert("user".into(), weak_role.clone());
    weak.insert("password".into(), "weak-password".into());
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
    let served = latch_connector_sdk::testing::serve_on_loopback(std::sync::Arc::new(PostgresConnector::new())).await;
    let remote = RemoteConnector::connect(&served.endpoint, &served.callers.catalog_dialer())
        .await
        .expect("reach the connector");
    let case = ConformanceCase::new(
        database.config(),
        "table",
        &database.table_id("sales", "invoices"),
        "write",
    );
    conformance::check(&remote, &case).await.expect("conformance over grpc");
    conformance::check_caller_authentication(&served.endpoint, &served.callers.strangers(), &remote, &case)
        .await
        .expect("only the catalog may call");
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
            "CREATE ROLE \"{admin_role}\" LOGIN CREATEROLE PASSWORD 'createrole-password'; \
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
    config.insert("password".into(), "createrole-password".into());

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
    let mut maintenance = admin_connection(MAINTENANCE_DATABASE).await;
    let _ = execute(&mut maintenance, &format!("DROP ROLE IF EXISTS \"{admin_role}\"")).await;
    maintenance.close().await.ok();

    result.expect("conformance as a createrole admin");
    match refused {
        Err(ConnectorError::FailedPrecondition(message)) => assert!(message.contains("grant rights"), "{message}"),
        other => panic!("a grant the admin cannot give must be FailedPrecondition, got {other:?}"),
    }
    revoked.expect("revoking the half-made grant");
}
