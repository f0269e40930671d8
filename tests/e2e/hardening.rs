//! What was found by trying Latch from outside, kept fixed: work refused before authorization,
//! strict documents, control characters and sizes, errors that never echo the input, page tokens
//! that cannot be forged, and one `latchd` per SQLite data directory.

use std::time::{Duration, Instant};

use base64::Engine;
use latch_proto::flow::v1 as flow;
use latch_proto::identity::v1 as pb;
use tonic::Code;

use crate::cli::{Cli, stderr};
use crate::flows::world;
use crate::harness::{ADMIN_TOKEN, TestServer, create_user, violated_fields, workspace_binary};
use crate::scim::{Scim, okta_user};

const FLOW: &str = r#"
name: prod read
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: demo, resource_type: table, permissions: [read], mode: include, tags: [{ key: env, values: [prod] }] }
grant_for: { custom: 2h }
approval:
  approval_of:
    groups:
      - rows: [ manager ]
        min_approvers: 1
settings: { require_mfa: true }
"#;

#[tokio::test]
async fn callers_who_may_not_write_are_refused_before_their_document_is_read() {
    let server = TestServer::start().await;
    let (_, bob_token) = server.user_secret("bob").await;
    let mut bob_flows = server.flows_with(Some(&bob_token)).await;
    let mut bob = server.client_with(Some(&bob_token)).await;
    let nested = "[".repeat(50_000);

    let started = Instant::now();
    let status = bob_flows
        .create_flow(flow::CreateFlowRequest {
            definition: nested.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let status = bob_flows
        .apply_flows(flow::ApplyFlowsRequest {
            document: nested.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let status = bob
        .import_directory(pb::ImportDirectoryRequest {
            document: nested.clone(),
            dry_run: true,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // An admin's nested document is refused by its depth, without parsing it to the end.
    let mut admin_flows = server.flows_with(Some(ADMIN_TOKEN)).await;
    let status = admin_flows
        .create_flow(flow::CreateFlowRequest {
            definition: nested,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("nests deeper than 32 levels"),
        "{}",
        status.message()
    );
    // Generous for a debug build on a loaded machine; before the fix this took seconds to minutes.
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_typo_in_a_flow_never_removes_a_control() {
    let server = TestServer::start().await;
    world(&server).await;
    let mut flows = server.flows_with(Some(ADMIN_TOKEN)).await;
    let cases = [
        (
            FLOW.replace("approval:", "approvals:"),
            "approvals",
            "is not a known field",
        ),
        (
            FLOW.replace("require_mfa: true", "requre_mfa: true"),
            "settings.requre_mfa",
            "is not a known field",
        ),
        (
            FLOW.replace("kind: self_serve\n", "kind: self_serve\nrequestors: { rows: [] }\n"),
            "definition",
            "the key \"requestors\" appears twice",
        ),
    ];
    for (definition, field, rule) in &cases {
        let status = flows
            .create_flow(flow::CreateFlowRequest {
                definition: definition.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(violated_fields(&status), [*field], "{}", status.message());
        assert!(status.message().contains(rule), "{}", status.message());
        let as_code = flows
            .apply_flows(flow::ApplyFlowsRequest {
                document: format!("- {}", definition.trim().replace('\n', "\n  ")),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(as_code.code(), Code::InvalidArgument, "{}", as_code.message());
        assert!(as_code.message().contains(rule), "{}", as_code.message());
    }
    let listed = flows
        .list_flows(flow::ListFlowsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.flows.is_empty(), "nothing stored: {:?}", listed.flows);
    // The same flow spelt right is accepted, with its controls.
    let created = flows
        .create_flow(flow::CreateFlowRequest {
            definition: FLOW.into(),
            ..Default::default()
        })
        .await
        .expect("the correct flow is accepted")
        .into_inner();
    assert!(
        created.definition.contains("require_mfa: true"),
        "{}",
        created.definition
    );
}

#[tokio::test]
async fn control_characters_are_refused_with_the_field_on_every_database() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let status = admin
        .create_group(pb::CreateGroupRequest {
            group: Some(pb::Group {
                display_name: "ops\0".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(violated_fields(&status), ["group.display_name"]);
    let status = admin
        .create_token(pb::CreateTokenRequest {
            description: "lap\0top".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["description"], "{status:?}");
    let status = admin
        .get_user(pb::GetUserRequest { id: "ann\0".into() })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["id"], "{status:?}");
    let status = admin
        .list_users(pb::ListUsersRequest {
            page_token: "\0".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["page_token"], "{status:?}");
    // A name with a line break is not a name either; free text may have one.
    let status = admin
        .create_group(pb::CreateGroupRequest {
            group: Some(pb::Group {
                display_name: "ops\nINFO forged".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    admin
        .create_token(pb::CreateTokenRequest {
            description: "laptop\nsecond line".into(),
            ..Default::default()
        })
        .await
        .expect("free text keeps line breaks");
    let groups = admin
        .list_groups(pb::ListGroupsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(groups.groups.iter().all(|g| !g.display_name.contains(['\0', '\n'])));
}

#[tokio::test]
async fn huge_inputs_get_short_clear_errors_not_protocol_errors() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let huge_id = "x".repeat(1_000_000);
    let status = admin.get_user(pb::GetUserRequest { id: huge_id }).await.unwrap_err();
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "{}",
        &status.message()[..200.min(status.message().len())]
    );
    assert_eq!(violated_fields(&status), ["id"]);
    assert!(status.message().len() < 300, "{}", status.message().len());

    let status = admin
        .create_schedule(pb::CreateScheduleRequest {
            schedule: Some(pb::Schedule {
                display_name: "primary".into(),
                time_zone: "Z".repeat(10_000),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().len() < 1_000, "{}", status.message().len());

    // The CLI says what is wrong (exit 3), not "h2 protocol error".
    let cli = Cli::new(&server);
    let long_id = "y".repeat(100_000);
    let output = cli.run(Some(ADMIN_TOKEN), &["users", "get", &long_id]).await;
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        &stderr(&output)[..300.min(stderr(&output).len())]
    );
    assert!(
        stderr(&output).contains("id: must be at most 256 characters"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).len() < 1_000);
}

#[tokio::test]
async fn scim_refuses_oversized_and_repeated_attributes_and_listings_keep_working() {
    let server = TestServer::start().await;
    let scim = Scim::new(&server).await;
    for i in 0..3 {
        let mut user = okta_user(&format!("big{i}@x.io"), "Big", "User");
        user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"] =
            serde_json::Value::String("d".repeat(1_500_000));
        let (status, body) = scim.post("/Users", user).await;
        assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
        assert!(body.to_string().len() < 1_000);
    }
    let (status, body) = scim
        .send(
            reqwest::Method::POST,
            "/Users",
            Some(serde_json::json!({ "userName": "x@x.io", "externalId": "a\u{0}b" })),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("externalId"), "{body}");
    let mut admin = server.admin().await;
    let users = admin
        .list_users(pb::ListUsersRequest::default())
        .await
        .expect("listing works for everyone")
        .into_inner();
    assert_eq!(users.total_size, 1, "only the admin: nothing was stored");
}

#[tokio::test]
async fn page_tokens_are_opaque_bound_and_checked() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    for i in 0..5 {
        create_user(&mut admin, &format!("u{i}"), &[("department", "Engineering")], "").await;
    }
    let first = admin
        .list_users(pb::ListUsersRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut seen: Vec<String> = first.users.iter().map(|u| u.user_name.clone()).collect();
    let mut token = first.next_page_token.clone();
    while !token.is_empty() {
        let page = admin
            .list_users(pb::ListUsersRequest {
                page_size: 2,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.users.iter().map(|u| u.user_name.clone()));
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 6, "every user once: {seen:?}");

    // The old token format with an offset that wrapped around to the start.
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("o:18446744073709551614");
    let status = admin
        .list_users(pb::ListUsersRequest {
            page_size: 2,
            page_token: forged,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["page_token"]);
    // A real token is not valid for another query, another listing or another caller.
    let with_query = |query: &str| pb::ListUsersRequest {
        page_size: 2,
        page_token: first.next_page_token.clone(),
        query: query.into(),
        ..Default::default()
    };
    assert_eq!(
        admin.list_users(with_query("u")).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    let status = admin
        .list_groups(pb::ListGroupsRequest {
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let (_, mut bob) = server.user_with_token("bob").await;
    assert_eq!(
        bob.list_users(with_query("")).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    admin
        .list_users(with_query(""))
        .await
        .expect("the admin's own token still works");
}

#[tokio::test]
async fn a_second_latchd_on_one_data_directory_refuses_to_start() {
    let data_dir = tempfile::tempdir().unwrap();
    let latchd = workspace_binary("latchd");
    let start = || {
        let mut command = std::process::Command::new(&latchd);
        command
            .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir.path())
            .env_remove("LATCH_DATABASE_URL")
            .env("LATCH_BOOTSTRAP_TOKEN", ADMIN_TOKEN)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command
    };
    let mut first = KillOnDrop(start().spawn().expect("start the first latchd"));
    // The first holds the directory once it has written its lock.
    let lock = data_dir.path().join("latchd.lock");
    let ready = Instant::now();
    while std::fs::read_to_string(&lock)
        .map(|pid| pid.trim().is_empty())
        .unwrap_or(true)
    {
        assert!(
            ready.elapsed() < Duration::from_secs(60),
            "the first latchd never took the directory"
        );
        assert!(first.0.try_wait().unwrap().is_none(), "the first latchd exited");
        std::thread::sleep(Duration::from_millis(50));
    }
    let second = start()
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run the second latchd");
    assert!(!second.status.success(), "the second latchd must not serve");
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("is in use by another latchd"), "{said}");
    assert!(said.contains(&format!("process {}", first.0.id())), "{said}");
    assert!(first.0.try_wait().unwrap().is_none(), "the first keeps serving");
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    // A killed process holds nothing: the lock went with it.
    let mut again = KillOnDrop(start().spawn().expect("start again"));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(again.0.try_wait().unwrap().is_none(), "starts once the first is gone");
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
