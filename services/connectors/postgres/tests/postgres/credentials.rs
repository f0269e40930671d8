//! The credentials a grant returns, proven by logging in over TCP to a cluster that checks
//! passwords (scram-sha-256): the issued password works, and nothing else does.

use chrono::{TimeDelta, Utc};
use latch_connector_postgres::PostgresConnector;
use latch_connector_sdk::Connector;
use sqlx::{Connection, PgConnection};

use crate::support::*;

#[tokio::test]
async fn the_scratch_cluster_checks_passwords() {
    // Without this, every test below could pass against a server that trusts everyone.
    let wrong = admin_options().password("not-the-password");
    assert_login_refused(
        PgConnection::connect_with(&wrong).await,
        "the superuser with a wrong password",
    );
    admin_connection(MAINTENANCE_DATABASE).await.close().await.ok();
}

#[tokio::test]
async fn the_issued_password_logs_in_and_a_wrong_one_does_not() {
    let database = TestDatabase::create().await;
    let connector = PostgresConnector::new();
    let request = database.grant_request("login-1", "table", &database.table_id("public", "orders"), "read");
    let outcome = connector.grant(&database.config(), &request).await.expect("grant");

    let mut session = connect_as(&outcome).await.expect("the issued password logs in");
    let items: Vec<String> = sqlx::query_scalar("SELECT item FROM public.orders")
        .fetch_all(&mut session)
        .await
        .expect("select with the issued credentials");
    assert_eq!(items, vec!["apple".to_string()]);
    session.close().await.ok();

    assert_login_refused(
        connect_with_password(&outcome, "not-the-password").await,
        "a wrong password",
    );
    let mut almost = outcome.credentials["password"].clone();
    almost.pop();
    assert_login_refused(connect_with_password(&outcome, &almost).await, "a truncated password");

    connector.revoke(&database.config(), "login-1").await.expect("revoke");
}

#[tokio::test]
async fn a_password_stops_working_when_replaced_expired_or_revoked() {
    let database = TestDatabase::create().await;
    let connector = PostgresConnector::new();
    let config = database.config();
    let request = database.grant_request("stale-1", "table", &database.table_id("public", "orders"), "read");
    let first = connector.grant(&config, &request).await.expect("grant");
    let second = connector.grant(&config, &request).await.expect("grant again");
    assert_login_refused(connect_as(&first).await, "the password replaced by granting again");
    connect_as(&second)
        .await
        .expect("the latest password logs in")
        .close()
        .await
        .ok();

    connector
        .extend(&config, "stale-1", Some(Utc::now() - TimeDelta::minutes(1)))
        .await
        .expect("move the expiry into the past");
    assert_login_refused(connect_as(&second).await, "a password past its expiry");
    connector
        .extend(&config, "stale-1", Some(Utc::now() + TimeDelta::hours(1)))
        .await
        .expect("extend");
    connect_as(&second)
        .await
        .expect("the password works again once extended")
        .close()
        .await
        .ok();

    connector.revoke(&config, "stale-1").await.expect("revoke");
    assert!(
        connect_as(&second).await.is_err(),
        "the role must not log in after revoke"
    );
}
