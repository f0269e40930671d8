//! Many calls at once on one database, as a multi-item request or an automatic flow makes
//! them.

use latch_connector_postgres::PostgresConnector;
use latch_connector_sdk::{Connector, GrantRequest};
use sqlx::Connection;

use crate::support::*;

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
