//! The `latch` binary against a real server, as a user or a script runs it.

use std::path::PathBuf;
use std::process::Output;

use crate::harness::{ADMIN_TOKEN, TestServer};

/// The CLI binary that `cargo test --workspace` builds beside this test binary.
fn latch_binary() -> PathBuf {
    crate::harness::workspace_binary("latch")
}

pub struct Cli {
    server: String,
    config_dir: tempfile::TempDir,
    /// The authority to trust for an `https://` server.
    ca_file: Option<PathBuf>,
}

impl Cli {
    pub fn new(server: &TestServer) -> Self {
        Self::at(server.grpc_addr)
    }

    /// The CLI against any gRPC address (a split deployment's gateway).
    pub fn at(grpc_addr: std::net::SocketAddr) -> Self {
        Self {
            server: format!("http://{grpc_addr}"),
            config_dir: tempfile::tempdir().unwrap(),
            ca_file: None,
        }
    }

    /// The CLI against a gateway serving TLS with a certificate from the test authority.
    pub fn over_tls(grpc_addr: std::net::SocketAddr) -> Self {
        Self {
            server: format!("https://localhost:{}", grpc_addr.port()),
            config_dir: tempfile::tempdir().unwrap(),
            ca_file: Some(crate::test_pki::files("tests").ca_file),
        }
    }

    /// A directory of this CLI's own, for files the commands read.
    pub fn dir(&self) -> &std::path::Path {
        self.config_dir.path()
    }

    pub async fn run(&self, token: Option<&str>, args: &[&str]) -> Output {
        let mut command = tokio::process::Command::new(latch_binary());
        command
            .args(args)
            .env("LATCH_SERVER", &self.server)
            .env("LATCH_CONFIG_DIR", self.config_dir.path())
            .env_remove("LATCH_TOKEN")
            .env_remove("LATCH_OUTPUT")
            .env_remove("LATCH_CA_FILE")
            .stdin(std::process::Stdio::null());
        if let Some(ca_file) = &self.ca_file {
            command.env("LATCH_CA_FILE", ca_file);
        }
        if let Some(token) = token {
            command.env("LATCH_TOKEN", token);
        }
        command.output().await.expect("run latch")
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn whoami_login_and_exit_codes_scripts_can_trust() {
    let server = TestServer::start().await;
    let cli = Cli::new(&server);

    let output = cli.run(None, &["whoami"]).await;
    assert_eq!(output.status.code(), Some(6), "no token: {}", stderr(&output));
    assert!(stderr(&output).contains("latch login"));

    let output = cli.run(Some(ADMIN_TOKEN), &["whoami"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("admin"));

    // After login the stored token is used without LATCH_TOKEN.
    let output = cli.run(None, &["login", "--token", ADMIN_TOKEN]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = cli.run(None, &["--output", "json", "whoami"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("json output");
    assert_eq!(json["user"]["user_name"], "admin", "{json}");

    let output = cli.run(None, &["users", "get", "nobody"]).await;
    assert_eq!(output.status.code(), Some(4));

    let output = cli
        .run(None, &["users", "create", "--user-name", "bad name", "--email", "nope"])
        .await;
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("user.email"), "{}", stderr(&output));

    let output = cli.run(Some("latch_wrong_token_000000000000000000"), &["whoami"]).await;
    assert_eq!(output.status.code(), Some(6));

    let unreachable = Cli {
        server: "http://127.0.0.1:1".into(),
        config_dir: tempfile::tempdir().unwrap(),
        ca_file: None,
    };
    let output = unreachable.run(Some(ADMIN_TOKEN), &["whoami"]).await;
    assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
}

#[tokio::test]
async fn import_then_list_users_and_groups() {
    let server = TestServer::start().await;
    let cli = Cli::new(&server);
    let file = cli.config_dir.path().join("directory.yaml");
    std::fs::write(
        &file,
        "users:\n  - user_name: ada\n    attributes: { department: Engineering }\n  - user_name: bob\n    manager: ada\ngroups:\n  - name: sre\n    members: [bob]\n",
    )
    .unwrap();
    let output = cli
        .run(Some(ADMIN_TOKEN), &["identity", "import", file.to_str().unwrap()])
        .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("user ada"), "{}", stdout(&output));

    let output = cli
        .run(
            Some(ADMIN_TOKEN),
            &[
                "--output",
                "json",
                "users",
                "list",
                "--attribute",
                "department=Engineering",
            ],
        )
        .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let names: Vec<_> = json["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ada"]);

    let output = cli.run(Some(ADMIN_TOKEN), &["users", "subject", "bob"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("sre") && text.contains("ada"), "{text}");

    let output = cli
        .run(
            Some(ADMIN_TOKEN),
            &["--output", "json", "tokens", "create", "--scope", "scim"],
        )
        .await;
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(json["secret"].as_str().unwrap().starts_with("latch_"));
}

#[tokio::test]
async fn the_local_postgres_through_the_cli() {
    use crate::postgres_catalog::{ScratchDatabase, server_url, url_parts};
    let scratch = ScratchDatabase::create().await;
    let server = TestServer::start().await;
    let cli = Cli::new(&server);
    let (host, port, user) = url_parts(&server_url());
    let token = Some(ADMIN_TOKEN);
    let add = cli
        .run(
            token,
            &[
                "integrations",
                "add",
                "local-pg",
                "--connector",
                "postgres",
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
    assert_eq!(add.status.code(), Some(0), "{}", stderr(&add));
    assert!(
        !stdout(&add).contains("not-checked-under-trust-auth"),
        "secrets are never printed"
    );
    let sync = cli.run(token, &["integrations", "sync", "local-pg"]).await;
    assert_eq!(sync.status.code(), Some(0), "{}", stderr(&sync));

    let table = format!("table:{}/public/orders", scratch.name);
    let tag = cli
        .run(token, &["resources", "tag", "local-pg", &table, "env=prod"])
        .await;
    assert_eq!(tag.status.code(), Some(0), "{}", stderr(&tag));
    let listed = cli
        .run(token, &["--output", "json", "resources", "list", "--tag", "env=prod"])
        .await;
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    let json: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    let ids: Vec<_> = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec![table.clone()]);

    let preview = cli
        .run(
            token,
            &[
                "--output",
                "json",
                "scopes",
                "preview",
                "--include-tag",
                "env=prod",
                "--type",
                "table",
            ],
        )
        .await;
    assert_eq!(preview.status.code(), Some(0), "{}", stderr(&preview));
    assert!(stdout(&preview).contains(&table));

    let bundle = cli
        .run(
            token,
            &[
                "bundles",
                "create",
                "prod-readers",
                "--target",
                "local-pg/table:read@only:tag=env=prod",
            ],
        )
        .await;
    assert_eq!(bundle.status.code(), Some(0), "{}", stderr(&bundle));
    let preview = cli
        .run(token, &["--output", "json", "bundles", "preview", "prod-readers"])
        .await;
    assert_eq!(preview.status.code(), Some(0), "{}", stderr(&preview));
    let json: serde_json::Value = serde_json::from_str(&stdout(&preview)).unwrap();
    assert_eq!(json["count"], 1);
    assert_eq!(json["items"][0]["resource_id"], table.as_str());

    let bad = cli
        .run(token, &["bundles", "create", "b", "--target", "local-pg/table:fly"])
        .await;
    assert_eq!(
        bad.status.code(),
        Some(3),
        "a permission the type lacks: {}",
        stderr(&bad)
    );
    assert!(stderr(&bad).contains("permissions[0]"), "{}", stderr(&bad));
}

#[tokio::test]
async fn flows_from_templates_and_as_code_through_the_cli() {
    let server = TestServer::start().await;
    crate::flows::world(&server).await;
    let cli = Cli::new(&server);
    let token = Some(ADMIN_TOKEN);
    let base = |name: &str| {
        format!(
            "name: {name}\nkind: self_serve\nrequestors: {{ rows: [ {{ attribute: department, operator: is, values: [Engineering] }} ] }}\ntargets: [ {{ bundle: everything-demo }} ]\n"
        )
    };
    for template in ["sensitive-data", "break-glass", "development", "production"] {
        let file = cli.config_dir.path().join(format!("{template}.yaml"));
        std::fs::write(&file, base(&format!("{template} flow"))).unwrap();
        let created = cli
            .run(
                token,
                &["flows", "create", "-f", file.to_str().unwrap(), "--template", template],
            )
            .await;
        assert_eq!(created.status.code(), Some(0), "{template}: {}", stderr(&created));
    }
    let listed = cli.run(token, &["--output", "json", "flows", "list"]).await;
    let json: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(json["flows"].as_array().unwrap().len(), 4);

    let exported = cli.run(token, &["flows", "export"]).await;
    assert_eq!(exported.status.code(), Some(0), "{}", stderr(&exported));
    let file = cli.config_dir.path().join("flows.yaml");
    let edited = stdout(&exported).replace("name: development flow", "name: development flow renamed");
    std::fs::write(&file, edited).unwrap();
    let plan = cli
        .run(
            token,
            &["flows", "apply", "-f", file.to_str().unwrap(), "--prune", "--dry-run"],
        )
        .await;
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    let text = stdout(&plan);
    assert!(
        text.contains("+ development flow renamed") && text.contains("- development flow"),
        "{text}"
    );
    let applied = cli
        .run(token, &["flows", "apply", "-f", file.to_str().unwrap(), "--prune"])
        .await;
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));

    // Evaluate: ada (Engineering) is allowed through the automatic development flow; dave is not.
    let ada_token = server
        .admin()
        .await
        .create_token(latch_proto::identity::v1::CreateTokenRequest {
            user_id: "ada".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .secret;
    let allowed = cli
        .run(
            Some(&ada_token),
            &["flows", "evaluate", "--item", "demo/table:orders-prod/orders:read"],
        )
        .await;
    assert_eq!(
        allowed.status.code(),
        Some(0),
        "{}{}",
        stdout(&allowed),
        stderr(&allowed)
    );
    assert!(
        stdout(&allowed).contains("development flow renamed"),
        "{}",
        stdout(&allowed)
    );
    let denied = cli
        .run(
            token,
            &["flows", "evaluate", "--item", "demo/table:orders-prod/orders:read"],
        )
        .await;
    assert_eq!(
        denied.status.code(),
        Some(1),
        "the admin is not in Engineering: {}",
        stdout(&denied)
    );
    assert!(
        stdout(&denied)
            .contains("you are not in a group or attribute the flow's requestors allow: department is not Engineering"),
        "{}",
        stdout(&denied)
    );
}
