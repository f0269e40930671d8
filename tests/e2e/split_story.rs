//! The README story on a split deployment: identity, catalog, flow, request and the gateway each
//! a `latchd --services X` process, the PostgreSQL connector a `latch-connector-postgres`
//! process, every call of the `latch` CLI through the gateway. SCIM provisions a requester and
//! their manager on the identity process; the local PostgreSQL becomes an integration through
//! the remote connector; a flow asks for MFA and the manager's approval; the credentials log in
//! and read (not write); one extension; at expiry (a few seconds on the real clock) the role is
//! dropped and the open session ends.

use std::time::{Duration, Instant};

use latch_identity::domain::totp::{TotpSecret, code_at_step, time_step};
use latch_proto::request::v1 as pb;
use sea_orm::sqlx::{Connection, Executor};
use serde_json::json;

use crate::cli::{Cli, stderr, stdout};
use crate::harness::ADMIN_TOKEN;
use crate::postgres_catalog::{ScratchDatabase, server_url, url_parts};
use crate::request_postgres::{assert_access_gone, assert_every_step_shown, connect};
use crate::scim::Scim;
use crate::split_harness::{ConnectorProcess, SplitDeployment};

/// How long the access lasts, and what the one extension adds: short, on the real clock.
const ACCESS: &str = "8s";
const EXTEND_BY_SECONDS: i64 = 4;

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
  extensions: {{ max_count: 1, extend_by: {EXTEND_BY_SECONDS}s }}
"#
    )
}

fn json(output: &std::process::Output) -> serde_json::Value {
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(output), stderr(output));
    serde_json::from_str(&stdout(output)).unwrap_or_else(|e| panic!("{e}: {}", stdout(output)))
}

/// Polls the request through the gateway until `done` holds, or fails at the deadline.
async fn until_state(
    requests: &mut crate::harness::RequestClient,
    id: &str,
    within: Duration,
    done: impl Fn(&str) -> bool,
) -> pb::AccessRequest {
    let started = Instant::now();
    loop {
        let request = requests
            .get_request(pb::GetRequestRequest { id: id.into() })
            .await
            .expect("get request through the gateway")
            .into_inner();
        if done(&request.state) {
            return request;
        }
        assert!(
            started.elapsed() < within,
            "request still {} ({:?}) after {within:?}",
            request.state,
            request.waiting
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_deployment_runs_the_readme_story_through_the_gateway_with_the_postgres_connector_process() {
    let scratch = ScratchDatabase::create().await;
    let connector = ConnectorProcess::start_postgres().await;
    let deployment = SplitDeployment::start().await;
    let _logs = deployment.logs_on_panic();
    deployment.assert_each_context_has_its_own_store().await;
    let cli = Cli::over_tls(deployment.gateway());
    let admin = Some(ADMIN_TOKEN);

    // SCIM on the identity process: the manager, then the requester reporting to them.
    let scim_token = json(
        &cli.run(
            admin,
            &[
                "-o",
                "json",
                "tokens",
                "create",
                "--scope",
                "scim",
                "--description",
                "okta",
            ],
        )
        .await,
    )["secret"]
        .as_str()
        .expect("scim secret")
        .to_string();
    // The identity provider speaks SCIM over TLS to the identity process's HTTP port.
    let scim = Scim::over_tls(
        &format!("https://localhost:{}", deployment.process("identity").http.port()),
        scim_token,
    );
    let mut boss = crate::scim::okta_user("boss@example.com", "Bo", "Boss");
    boss["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"] = json!("Engineering");
    let (status, boss) = scim.post("/Users", boss).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{boss}");
    let mut ada = crate::scim::okta_user("ada@example.com", "Ada", "Lovelace");
    ada["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"] = json!({ "value": boss["id"] });
    let (status, ada) = scim.post("/Users", ada).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{ada}");
    let ada_id = ada["id"].as_str().unwrap().to_string();

    // Provisioned users are visible through the gateway; tokens for both.
    let subject = cli.run(admin, &["users", "subject", "ada@example.com"]).await;
    assert_eq!(subject.status.code(), Some(0), "{}", stderr(&subject));
    assert!(stdout(&subject).contains("boss@example.com"), "{}", stdout(&subject));
    let token_for = |user: &'static str| {
        let cli = &cli;
        async move {
            json(
                &cli.run(admin, &["-o", "json", "tokens", "create", "--user", user])
                    .await,
            )["secret"]
                .as_str()
                .expect("secret")
                .to_string()
        }
    };
    let ada_token = token_for("ada@example.com").await;
    let boss_token = token_for("boss@example.com").await;
    let ada = Some(ada_token.as_str());
    let boss = Some(boss_token.as_str());

    // The local PostgreSQL through the connector process, a remote integration.
    let (host, port, user) = url_parts(&server_url());
    let add = cli
        .run(
            admin,
            &[
                "integrations",
                "add",
                "local-pg",
                "--connector",
                "remote",
                "--endpoint",
                &connector.endpoint(),
                "--config",
                &format!("host={host}"),
                "--config",
                &format!("port={port}"),
                "--config",
                &format!("user={user}"),
                "--config",
                &format!("databases={}", scratch.name),
                "--secret",
                "password=not-checked-under-trust-auth",
            ],
        )
        .await;
    assert_eq!(
        add.status.code(),
        Some(0),
        "{}{}\n{}",
        stderr(&add),
        connector.log_tail(),
        deployment.logs()
    );
    let sync = cli.run(admin, &["integrations", "sync", "local-pg"]).await;
    assert_eq!(sync.status.code(), Some(0), "{}", stderr(&sync));
    let table = format!("table:{}/public/orders", scratch.name);
    let listed = cli
        .run(admin, &["resources", "list", "--integration", "local-pg"])
        .await;
    assert!(stdout(&listed).contains(&table), "{}", stdout(&listed));

    // The flow, as code.
    let file = cli.dir().join("flow.yaml");
    std::fs::write(&file, flow(&scratch.name)).unwrap();
    let created = cli.run(admin, &["flows", "create", "-f", file.to_str().unwrap()]).await;
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));

    // MFA enrolment, then the request.
    let enrolled = json(&cli.run(ada, &["-o", "json", "mfa", "enroll"]).await);
    let secret = TotpSecret::from_base32(enrolled["secret"].as_str().unwrap()).unwrap();
    let item = format!("local-pg/{table}:read");
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
                ACCESS,
                "-j",
                "INC-7 refund check",
            ],
        )
        .await,
    );
    assert_eq!(asked["state"], "awaiting_mfa", "{asked}");
    let id = asked["id"].as_str().unwrap().to_string();
    let code = code_at_step(&secret, time_step(chrono::Utc::now())).unwrap();
    let verified = json(
        &cli.run(ada, &["-o", "json", "requests", "verify", &id, "--code", &code])
            .await,
    );
    assert_eq!(verified["state"], "pending_approval", "{verified}");

    // The manager approves with a reason (without one is refused).
    let waiting = stdout(&cli.run(boss, &["approvals"]).await);
    for expected in ["INC-7 refund check", "orders read", "ada@example.com"] {
        assert!(waiting.contains(expected), "{expected} missing:\n{waiting}");
    }
    let without_reason = cli.run(boss, &["requests", "approve", &id]).await;
    assert_eq!(without_reason.status.code(), Some(3), "{}", stderr(&without_reason));
    json(
        &cli.run(
            boss,
            &["-o", "json", "requests", "approve", &id, "--reason", "refund audit"],
        )
        .await,
    );
    let mut requests = deployment.requests(&ada_token);
    let active = until_state(&mut requests, &id, Duration::from_secs(30), |s| s == "active").await;
    assert_eq!(active.grantee_id, ada_id, "{active:?}");

    // The credentials log in and read; they cannot write; only the grantee sees them.
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

    // One extension moves the end by the flow's step; a second is refused.
    let before = requests
        .get_request(pb::GetRequestRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner()
        .end_time
        .expect("an end");
    let extended = json(&cli.run(ada, &["-o", "json", "requests", "extend", &id]).await);
    assert_eq!(extended["extensions_used"], 1, "{extended}");
    let after = requests
        .get_request(pb::GetRequestRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner()
        .end_time
        .expect("an end");
    assert_eq!(
        after.seconds - before.seconds,
        EXTEND_BY_SECONDS,
        "{before:?} -> {after:?}"
    );
    let refused = cli.run(ada, &["requests", "extend", &id]).await;
    assert_eq!(refused.status.code(), Some(5), "{}", stderr(&refused));
    let mut still = connect(&credentials).await.expect("same credentials after extension");
    still.execute("SELECT 1").await.unwrap();
    still.close().await.ok();

    // Expiry on the real clock: the role is dropped, the open session is ended.
    until_state(&mut requests, &id, Duration::from_secs(40), |s| s == "expired").await;
    let ended_at = chrono::Utc::now().timestamp();
    assert!(
        ended_at >= after.seconds,
        "expired before its end: now {ended_at}, end {}",
        after.seconds
    );
    assert_access_gone(&mut session, &credentials).await;

    // Every step is visible through the CLI.
    let shown = stdout(&cli.run(ada, &["requests", "show", &id]).await);
    assert_every_step_shown(&shown);
    let verified = json(&cli.run(admin, &["-o", "json", "audit", "verify"]).await);
    assert_eq!(verified["intact"], true, "{verified}");
}
