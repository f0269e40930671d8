//! The whole story with `latchd`, the real PostgreSQL connector and the `latch` CLI: a
//! requester asks for read access to a table for 30 minutes under a flow that needs the
//! manager's approval and MFA; the manager approves with a reason; the grantee's credentials
//! work (read, not write); one extension; at expiry the role is gone and the open session ends.

use std::collections::HashMap;

use chrono::TimeDelta;
use latch_identity::domain::totp::{TotpSecret, code_at_step, time_step};
use latch_proto::catalog::v1 as catalog;
use latch_proto::identity::v1 as identity;
use latch_runtime::Clock;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};
use sea_orm::sqlx::{Connection, Executor};

use crate::cli::{Cli, stderr, stdout};
use crate::harness::TestServer;
use crate::postgres_catalog::{ScratchDatabase, server_url, url_parts};
use crate::request_support::{create_flow, drive, person};

fn flow(database: &str) -> String {
    format!(
        r#"
name: orders read
kind: self_serve
requestors: {{ rows: [ {{ attribute: department, operator: is, values: [Engineering] }} ] }}
targets:
  - integration: {{ integration: local-pg, resource_type: table, permissions: [read], mode: include, resource_ids: ["table:{database}/public/orders"] }}
grant_for: {{ custom: 1h }}
approval:
  approval_of:
    groups:
      - rows: [ manager ]
settings:
  require_mfa: true
  require_approver_reason: true
  no_self_approval: true
  require_duration: true
  extensions: {{ max_count: 1, extend_by: 30m }}
"#
    )
}

pub(crate) async fn connect(credentials: &serde_json::Value) -> Result<PgConnection, sea_orm::sqlx::Error> {
    let text = |key: &str| credentials[key].as_str().unwrap_or_default().to_string();
    let options = PgConnectOptions::new_without_pgpass()
        .host(&text("host"))
        .port(text("port").parse().unwrap_or(5432))
        .username(&text("user"))
        .password(&text("password"))
        .database(&text("database"));
    PgConnection::connect_with(&options).await
}

fn json(output: &std::process::Output) -> serde_json::Value {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    serde_json::from_str(&stdout(output)).unwrap_or_else(|e| panic!("{e}: {}", stdout(output)))
}

#[tokio::test]
async fn read_access_to_a_table_with_approval_mfa_extension_and_expiry_through_the_cli() {
    let scratch = ScratchDatabase::create().await;
    let server = TestServer::start().await;
    let (host, port, user) = url_parts(&server_url());
    let mut admin = server.catalog_admin().await;
    admin
        .create_integration(catalog::CreateIntegrationRequest {
            integration: Some(catalog::Integration {
                display_name: "local-pg".into(),
                connector: "postgres".into(),
                config: HashMap::from([
                    ("host".into(), host),
                    ("port".into(), port),
                    ("user".into(), user),
                    ("databases".into(), scratch.name.clone()),
                ]),
                ..Default::default()
            }),
            secrets: HashMap::from([("password".into(), "not-checked-under-trust-auth".into())]),
            request_id: String::new(),
        })
        .await
        .expect("create the integration");
    admin
        .sync_integration(catalog::SyncIntegrationRequest { id: "local-pg".into() })
        .await
        .unwrap();
    let (boss, boss_token) = person(&server, "boss", "Engineering", "").await;
    let (_ada, ada_token) = person(&server, "ada", "Engineering", &boss.id).await;
    create_flow(&server, &flow(&scratch.name)).await;
    let enrolled = server
        .client_with(Some(&ada_token))
        .await
        .enroll_mfa(identity::EnrollMfaRequest::default())
        .await
        .unwrap()
        .into_inner();
    let secret = TotpSecret::from_base32(&enrolled.secret).unwrap();
    let cli = Cli::new(&server);
    let ada = Some(ada_token.as_str());
    let boss = Some(boss_token.as_str());

    // Ask.
    let item = format!("local-pg/table:{}/public/orders:read", scratch.name);
    let asked = json(
        &cli.run(
            ada,
            &[
                "-o",
                "json",
                "request",
                "--item",
                &item,
                "--duration",
                "30m",
                "-j",
                "INC-7 refund check",
            ],
        )
        .await,
    );
    assert_eq!(asked["state"], "awaiting_mfa", "{asked}");
    let id = asked["id"].as_str().unwrap().to_string();
    assert!(asked["waiting"][0].as_str().unwrap().contains("verify MFA"));

    // MFA by the grantee.
    server.clock.advance(TimeDelta::seconds(30));
    let code = code_at_step(&secret, time_step(server.clock.now())).unwrap();
    let verified = json(
        &cli.run(ada, &["-o", "json", "requests", "verify", &id, "--code", &code])
            .await,
    );
    assert_eq!(verified["state"], "pending_approval");

    // The manager sees what they decide on, and approves with a reason.
    let waiting = cli.run(boss, &["approvals"]).await;
    let text = stdout(&waiting);
    for expected in ["30m", "INC-7 refund check", "orders", "orders read", "--reason TEXT"] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
    let without_reason = cli.run(boss, &["requests", "approve", &id]).await;
    assert_eq!(without_reason.status.code(), Some(3), "{}", stderr(&without_reason));
    let approved = cli
        .run(
            boss,
            &["-o", "json", "requests", "approve", &id, "--reason", "refund audit"],
        )
        .await;
    let approved = json(&approved);
    assert!(
        matches!(approved["state"].as_str(), Some("approved" | "granting" | "active")),
        "{approved}"
    );

    let ids = [id.clone()];
    let mut requests = server.requests_with(ada).await;
    drive(&server, &mut requests, &ids, TimeDelta::zero(), 250, |r| {
        r[0].state == "active"
    })
    .await;

    // Credentials for the grantee; they read, they cannot write.
    let credentials = json(&cli.run(ada, &["-o", "json", "requests", "credentials", &id]).await);
    let credentials = credentials[0]["credentials"].clone();
    let mut session = connect(&credentials).await.expect("the grantee connects");
    session
        .execute("SELECT * FROM public.orders")
        .await
        .expect("read works");
    assert!(
        session
            .execute("INSERT INTO public.orders (total) VALUES (1)")
            .await
            .is_err(),
        "read access cannot write"
    );
    let denied = cli.run(boss, &["requests", "credentials", &id]).await;
    assert_eq!(denied.status.code(), Some(6), "only the grantee sees credentials");

    // One extension; the second is refused with the reason.
    let extended = json(&cli.run(ada, &["-o", "json", "requests", "extend", &id]).await);
    assert_eq!(extended["extensions_used"], 1);
    let refused = cli.run(ada, &["requests", "extend", &id]).await;
    assert_eq!(refused.status.code(), Some(5));
    assert!(
        stderr(&refused).contains("already extended 1 of 1"),
        "{}",
        stderr(&refused)
    );
    let mut still = connect(&credentials).await.expect("same credentials after extension");
    still.execute("SELECT 1").await.unwrap();
    still.close().await.ok();

    // Expiry: the role is gone and the open session is terminated.
    server.clock.advance(TimeDelta::minutes(61));
    drive(&server, &mut requests, &ids, TimeDelta::seconds(10), 200, |r| {
        r[0].state == "expired"
    })
    .await;
    assert_access_gone(&mut session, &credentials).await;

    // Every step is visible in the CLI.
    let shown = stdout(&cli.run(ada, &["requests", "show", &id]).await);
    assert_every_step_shown(&shown);
    let listed = stdout(&cli.run(ada, &["requests", "list"]).await);
    assert!(listed.contains(&id) && listed.contains("expired"), "{listed}");
}

/// After the end: the grantee's open session is cut, the credentials no longer log in and the
/// role is gone from the server.
pub(crate) async fn assert_access_gone(session: &mut PgConnection, credentials: &serde_json::Value) {
    assert!(
        session.execute("SELECT 1").await.is_err(),
        "the open session was terminated"
    );
    assert!(connect(credentials).await.is_err(), "the role cannot log in any more");
    let role = credentials["user"].as_str().unwrap().to_string();
    let mut admin_session = PgConnection::connect(&server_url()).await.unwrap();
    let (roles,): (i64,) = sea_orm::sqlx::query_as("SELECT count(*) FROM pg_roles WHERE rolname = $1")
        .bind(&role)
        .fetch_one(&mut admin_session)
        .await
        .unwrap();
    assert_eq!(roles, 0, "the role is dropped");
}

/// `latch requests show` of the README story's request lists every step it went through.
pub(crate) fn assert_every_step_shown(shown: &str) {
    for step in [
        "mfa_verified",
        "approved",
        "granted",
        "extended",
        "expiring",
        "ended",
        "refund audit",
    ] {
        assert!(shown.contains(step), "{step} missing:\n{shown}");
    }
}
