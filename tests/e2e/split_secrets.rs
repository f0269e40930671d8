//! An integration's secret stays with the catalog: a full request through a split deployment
//! (the PostgreSQL connector as its own process), with a recognisable integration password, then
//! a search for that password in every process's log (at debug level), every answer the clients
//! were given, and every context's database (the catalog keeps it sealed): found nowhere.

use std::time::{Duration, Instant};

use latch_proto::catalog::v1 as catalog;
use latch_proto::flow::v1 as flow;
use latch_proto::identity::v1 as identity;
use latch_proto::request::v1 as pb;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::harness::ADMIN_TOKEN;
use crate::postgres_catalog::ScratchDatabase;
use crate::split_harness::{CONTEXTS, ConnectorProcess, SplitDeployment};

/// Every row of every table of one context's database, as text (PostgreSQL: its schema).
async fn postgres_context_dump(database_url: &str, context: &str) -> String {
    let db = sea_orm::Database::connect(database_url)
        .await
        .expect("the deployment's database");
    let tables = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT table_name FROM information_schema.tables WHERE table_schema = '{context}'"),
        ))
        .await
        .expect("tables");
    let mut dump = String::new();
    for table in tables {
        let table: String = table.try_get("", "table_name").unwrap();
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT t::text AS row FROM {context}.\"{table}\" t"),
            ))
            .await
            .expect("rows");
        for row in rows {
            dump.push_str(&row.try_get::<String>("", "row").unwrap());
            dump.push('\n');
        }
    }
    db.close().await.ok();
    assert!(!dump.is_empty(), "{context} holds rows");
    dump
}

/// The bytes of every SQLite file (database and write-ahead log) under a data directory.
fn sqlite_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let files: Vec<_> = std::fs::read_dir(dir)
        .expect("data dir")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .map(|path| (path.display().to_string(), std::fs::read(&path).unwrap_or_default()))
        .collect();
    assert!(files.iter().any(|(name, _)| name.ends_with(".db")), "{files:?}");
    files
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integration_password_appears_in_no_log_no_answer_and_no_database_of_a_split_deployment() {
    let canary = format!("canary-pw-{}", uuid::Uuid::new_v4().simple());
    let scratch = ScratchDatabase::create().await;
    let connector = ConnectorProcess::start_postgres().await;
    let deployment = SplitDeployment::start_logging("debug").await;
    let _logs = deployment.logs_on_panic();
    let mut answers: Vec<String> = Vec::new();

    let mut catalog_client = deployment.catalog(ADMIN_TOKEN);
    let created = catalog_client
        .create_integration(connector.integration(&scratch.name, &canary, "secrets-integration"))
        .await
        .expect("integration")
        .into_inner();
    assert_eq!(created.secrets_set, vec!["password".to_string()]);
    answers.push(format!("{created:?}"));
    let synced = catalog_client
        .sync_integration(catalog::SyncIntegrationRequest { id: "target".into() })
        .await
        .expect("sync")
        .into_inner();
    answers.push(format!("{synced:?}"));
    answers.push(format!(
        "{:?}",
        catalog_client
            .get_integration(catalog::GetIntegrationRequest { id: "target".into() })
            .await
            .expect("get")
            .into_inner()
    ));
    answers.push(format!(
        "{:?}",
        catalog_client
            .list_integrations(catalog::ListIntegrationsRequest::default())
            .await
            .expect("list")
            .into_inner()
    ));
    deployment
        .flows(ADMIN_TOKEN)
        .create_flow(flow::CreateFlowRequest {
            definition: crate::split_connector_crash::flow_document(),
            ..Default::default()
        })
        .await
        .expect("flow");
    let mut admin = deployment.identity(ADMIN_TOKEN);
    let ada = crate::harness::create_user(&mut admin, "ada", &[("department", "Engineering")], "").await;
    let token = admin
        .create_token(identity::CreateTokenRequest {
            user_id: ada.id.clone(),
            description: "secrets test".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .secret;

    // A request granted, its credentials read, extended and revoked through the gateway.
    let mut requests = deployment.requests(&token);
    let submitted = requests
        .submit_request(crate::crash::read_and_write(
            "secrets-request",
            &format!("table:{}/public/orders", scratch.name),
            "secrets test",
        ))
        .await
        .expect("submit")
        .into_inner();
    let id = submitted.id.clone();
    let until = |wanted: &'static str| {
        let mut requests = deployment.requests(&token);
        let id = id.clone();
        async move {
            let started = Instant::now();
            loop {
                let request = requests
                    .get_request(pb::GetRequestRequest { id: id.clone() })
                    .await
                    .expect("get")
                    .into_inner();
                if request.state == wanted {
                    return request;
                }
                assert!(started.elapsed() < Duration::from_secs(30), "not {wanted}: {request:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    answers.push(format!("{:?}", until("active").await));
    let credentials = requests
        .get_credentials(pb::GetCredentialsRequest { id: id.clone() })
        .await
        .expect("credentials")
        .into_inner();
    assert!(!credentials.credentials.is_empty(), "the grantee's own credentials");
    answers.push(format!("{credentials:?}"));
    answers.push(format!(
        "{:?}",
        requests
            .revoke_request(pb::EndRequest {
                id: id.clone(),
                reason: "secrets test over".into(),
            })
            .await
            .expect("revoke")
            .into_inner()
    ));
    answers.push(format!("{:?}", until("revoked").await));
    answers.push(format!(
        "{:?}",
        deployment
            .audit(ADMIN_TOKEN)
            .list_audit_events(pb::ListAuditEventsRequest {
                page_size: 500,
                ..Default::default()
            })
            .await
            .expect("audit")
            .into_inner()
    ));

    // Nowhere: not in an answer, a log line (any process, the connector's too) or a database.
    // Each search is shown to find what is there: the integration's plain config (the scratch
    // database's name) in answers and in the catalog's data, the request id in request's log.
    assert!(answers.iter().any(|answer| answer.contains(&scratch.name)));
    assert!(
        deployment.processes["request"].log().contains(&id),
        "request logs its requests"
    );
    for answer in &answers {
        assert!(!answer.contains(&canary), "an answer carries the password: {answer}");
    }
    assert!(
        deployment.processes.values().all(|p| !p.log().is_empty()),
        "every process logged at debug level"
    );
    for process in deployment.processes.values() {
        assert!(
            !process.log().contains(&canary),
            "{}'s log carries the password",
            process.name
        );
    }
    assert!(
        !connector.log_tail().contains(&canary),
        "the connector's log carries the password"
    );
    for context in CONTEXTS {
        let (holds_config, holds_password) = if deployment.database_url.is_empty() {
            let files = sqlite_files(&deployment.data_path(context));
            let found = |needle: &str| files.iter().any(|(_, bytes)| contains(bytes, needle));
            (found(&scratch.name), found(&canary))
        } else {
            let dump = postgres_context_dump(&deployment.database_url, context).await;
            (dump.contains(&scratch.name), dump.contains(&canary))
        };
        assert!(!holds_password, "{context}'s database holds the password in plain text");
        if context == "catalog" {
            assert!(holds_config, "the catalog's data holds the integration's plain config");
        }
    }
}
