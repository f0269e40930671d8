//! SCIM 2.0 through real HTTP, in the shapes Okta and Entra ID send.

use latch_proto::identity::v1 as pb;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{ADMIN_TOKEN, TestServer};

pub(crate) struct Scim {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Scim {
    pub(crate) async fn new(server: &TestServer) -> Self {
        Self::at(&server.http_base, server.scim_token().await)
    }

    /// SCIM at any HTTP base (a split deployment's identity process) with a SCIM token.
    pub(crate) fn at(http_base: &str, token: String) -> Self {
        Self::with_client(http_base, token, reqwest::Client::new())
    }

    /// SCIM over TLS, trusting the test authority (the identity provider's view of a
    /// deployment with TLS on every port).
    pub(crate) fn over_tls(http_base: &str, token: String) -> Self {
        let authority = std::fs::read(crate::test_pki::files("tests").ca_file).expect("the test authority");
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&authority).expect("PEM"))
            .build()
            .expect("an HTTPS client");
        Self::with_client(http_base, token, client)
    }

    fn with_client(http_base: &str, token: String, http: reqwest::Client) -> Self {
        Self {
            http,
            base: format!("{http_base}/scim/v2"),
            token,
        }
    }

    pub(crate) async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/scim+json");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await.expect("scim request");
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).expect("json body")
            },
        )
    }

    pub(crate) async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub(crate) async fn patch(&self, path: &str, operations: Value) -> (StatusCode, Value) {
        let body = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations });
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }
}

pub(crate) fn okta_user(user_name: &str, given: &str, family: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": user_name,
        "name": { "givenName": given, "familyName": family },
        "emails": [{ "primary": true, "value": user_name, "type": "work" }],
        "displayName": format!("{given} {family}"),
        "active": true,
        "title": "Engineer",
        "password": "never-stored",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": "Engineering", "employeeNumber": "42" }
    })
}

#[tokio::test]
async fn users_round_trip_with_enterprise_attributes_and_show_up_in_latch() {
    let server = TestServer::start().await;
    let scim = Scim::new(&server).await;
    let mut body = okta_user("ada@example.com", "Ada", "Lovelace");
    body["urn:latch:params:scim:schemas:extension:2.0:User"] =
        json!({ "attributes": [{ "name": "team", "value": "payments" }, { "name": "team", "value": "risk" }] });
    let (status, ada) = scim.post("/Users", body).await;
    assert_eq!(status, StatusCode::CREATED, "{ada}");
    let id = ada["id"].as_str().unwrap().to_string();
    assert_eq!(ada["name"]["familyName"], "Lovelace", "unmodelled attributes are kept");
    assert!(ada.get("password").is_none(), "passwords are never stored or returned");
    assert_eq!(
        ada["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Engineering"
    );
    assert_eq!(ada["meta"]["location"], format!("{}/Users/{id}", scim.base));

    let (_, boss) = scim.post("/Users", okta_user("boss@example.com", "Big", "Boss")).await;
    let boss_id = boss["id"].as_str().unwrap();
    // Entra ID sets the manager with a PATCH on the extension path.
    let (status, patched) = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{ "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": boss_id }]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        patched["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"],
        boss_id
    );

    // The directory sees the SCIM user with mapped attributes and manager.
    let mut admin = server.admin().await;
    let subject = admin
        .resolve_subject(pb::ResolveSubjectRequest {
            user_id: "ada@example.com".into(),
            at: None,
        })
        .await
        .unwrap()
        .into_inner();
    let user = subject.user.unwrap();
    let attribute = |key: &str| user.attributes.iter().find(|a| a.key == key).map(|a| a.values.clone());
    assert_eq!(attribute("department"), Some(vec!["Engineering".to_string()]));
    assert_eq!(attribute("employee_number"), Some(vec!["42".to_string()]));
    assert_eq!(attribute("title"), Some(vec!["Engineer".to_string()]));
    assert_eq!(
        attribute("team"),
        Some(vec!["payments".to_string(), "risk".to_string()]),
        "custom attributes"
    );
    assert_eq!(user.email, "ada@example.com");
    assert_eq!(subject.manager.unwrap().id, boss_id);

    // Okta deactivates with a no-path replace; Entra sends "False" as a string.
    let (status, deactivated) = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{ "op": "replace", "value": { "active": false } }]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deactivated["active"], false);
    let (_, reactivated) = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{ "op": "Replace", "path": "active", "value": "True" }]),
        )
        .await;
    assert_eq!(reactivated["active"], true);

    // PUT replaces the whole resource.
    let mut replacement = okta_user("ada@example.com", "Ada", "King");
    replacement["title"] = json!("Countess");
    let (status, replaced) = scim
        .send(reqwest::Method::PUT, &format!("/Users/{id}"), Some(replacement))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replaced["name"]["familyName"], "King");
    assert!(
        replaced["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
            .get("manager")
            .is_none(),
        "PUT without a manager removes it"
    );

    let (status, _) = scim.send(reqwest::Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, error) = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    assert_eq!(error["status"], "404");
}

#[tokio::test]
async fn filters_sorting_and_pagination() {
    let server = TestServer::start().await;
    let scim = Scim::new(&server).await;
    for (name, given, department) in [
        ("a@x.io", "Ann", "Sales"),
        ("b@x.io", "Ben", "Engineering"),
        ("c@y.io", "Cid", "Engineering"),
    ] {
        let mut user = okta_user(name, given, "Smith");
        user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"] = json!(department);
        assert_eq!(scim.post("/Users", user).await.0, StatusCode::CREATED);
    }
    let query = |filter: &str| format!("/Users?filter={}", urlencode(filter));
    let (_, found) = scim.get(&query(r#"userName eq "B@X.IO""#)).await;
    assert_eq!(found["totalResults"], 1, "userName is case-insensitive");
    assert_eq!(found["Resources"][0]["userName"], "b@x.io");
    let (_, found) = scim.get(&query(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Engineering" and emails co "@y.io""#)).await;
    assert_eq!(found["totalResults"], 1);
    let (_, found) = scim
        .get(&query(r#"name.givenName sw "A" or not (userName ew "x.io")"#))
        .await;
    assert_eq!(found["totalResults"], 3, "ann, cid and the admin (not ending in x.io)");
    let (_, found) = scim
        .get(&query(r#"meta.created gt "2000-01-01T00:00:00Z" and title pr"#))
        .await;
    assert_eq!(found["totalResults"], 3);

    let (_, page) = scim
        .get("/Users?sortBy=userName&sortOrder=descending&startIndex=2&count=2")
        .await;
    assert_eq!(page["totalResults"], 4, "three users and the bootstrap admin");
    assert_eq!(page["startIndex"], 2);
    let names: Vec<_> = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b@x.io", "admin"]);
    let (_, slim) = scim.get("/Users?attributes=userName&count=1").await;
    let keys: Vec<_> = slim["Resources"][0].as_object().unwrap().keys().cloned().collect();
    assert!(
        keys.iter().all(|k| ["id", "schemas", "userName"].contains(&k.as_str())),
        "{keys:?}"
    );

    let (status, error) = scim.get(&query(r#"userName eq"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["scimType"], "invalidFilter");
}

#[tokio::test]
async fn groups_with_members_and_member_patches() {
    let server = TestServer::start().await;
    let scim = Scim::new(&server).await;
    let (_, ann) = scim.post("/Users", okta_user("ann@x.io", "Ann", "A")).await;
    let (_, ben) = scim.post("/Users", okta_user("ben@x.io", "Ben", "B")).await;
    let (ann, ben) = (
        ann["id"].as_str().unwrap().to_string(),
        ben["id"].as_str().unwrap().to_string(),
    );
    let (status, group) = scim
        .post("/Groups", json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "oncall", "members": [{ "value": ann }] }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let gid = group["id"].as_str().unwrap().to_string();

    let (status, _) = scim
        .patch(
            &format!("/Groups/{gid}"),
            json!([{ "op": "add", "path": "members", "value": [{ "value": ben }] }]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, group) = scim.get(&format!("/Groups/{gid}")).await;
    assert_eq!(group["members"].as_array().unwrap().len(), 2);

    let (status, _) = scim
        .patch(
            &format!("/Groups/{gid}"),
            json!([{ "op": "remove", "path": format!("members[value eq \"{ann}\"]") }]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut admin = server.admin().await;
    let subject = admin
        .resolve_subject(pb::ResolveSubjectRequest {
            user_id: ann.clone(),
            at: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(subject.groups.is_empty(), "ann left the group");
    let subject = admin
        .resolve_subject(pb::ResolveSubjectRequest {
            user_id: ben.clone(),
            at: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(subject.groups[0].display_name, "oncall");

    let (_, listed) = scim
        .get(&format!(
            "/Groups?filter={}&excludedAttributes=members",
            urlencode(r#"displayName eq "ONCALL""#)
        ))
        .await;
    assert_eq!(listed["totalResults"], 1);
    assert!(listed["Resources"][0].get("members").is_none());

    let (status, error) = scim.post("/Groups", json!({ "displayName": "oncall" })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["scimType"], "uniqueness");
    let (status, error) = scim
        .post(
            "/Groups",
            json!({ "displayName": "ghosts", "members": [{ "value": "no-such-id" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["scimType"], "invalidValue");
    assert_eq!(
        scim.send(reqwest::Method::DELETE, &format!("/Groups/{gid}"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn duplicates_bad_bodies_and_credentials_get_scim_errors() {
    let server = TestServer::start().await;
    let scim = Scim::new(&server).await;
    assert_eq!(
        scim.post("/Users", okta_user("dup@x.io", "D", "U")).await.0,
        StatusCode::CREATED
    );
    let (status, error) = scim.post("/Users", okta_user("DUP@x.io", "D", "U")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["scimType"], "uniqueness");
    let (status, error) = scim.post("/Users", json!({ "displayName": "no user name" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["detail"].as_str().unwrap().contains("userName"));
    let (status, _) = scim.send(reqwest::Method::POST, "/Users", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let anonymous = reqwest::Client::new()
        .get(format!("{}/Users", scim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let api_token = reqwest::Client::new()
        .get(format!("{}/Users", scim.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        api_token.status(),
        StatusCode::FORBIDDEN,
        "an API token is not a SCIM token"
    );
}

#[tokio::test]
async fn discovery_documents_describe_what_is_supported() {
    let server = TestServer::start().await;
    let scim = Scim::new(&server).await;
    let (_, config) = scim.get("/ServiceProviderConfig").await;
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["filter"]["supported"], true);
    assert_eq!(config["sort"]["supported"], true);
    assert_eq!(config["bulk"]["supported"], false);
    let (_, types) = scim.get("/ResourceTypes").await;
    assert_eq!(types["totalResults"], 2);
    let (status, user_schema) = scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        user_schema["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "userName")
    );
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn concurrent_member_patches_lose_nothing() {
    let server = TestServer::start().await;
    let scim = std::sync::Arc::new(Scim::new(&server).await);
    let mut ids = Vec::new();
    for i in 0..12 {
        let (_, user) = scim
            .post("/Users", okta_user(&format!("u{i}@x.io"), "U", &i.to_string()))
            .await;
        ids.push(user["id"].as_str().unwrap().to_string());
    }
    let (_, group) = scim.post("/Groups", json!({ "displayName": "busy" })).await;
    let gid = group["id"].as_str().unwrap().to_string();
    let patches: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id| {
            let scim = scim.clone();
            let gid = gid.clone();
            tokio::spawn(async move {
                scim.patch(
                    &format!("/Groups/{gid}"),
                    json!([{ "op": "add", "path": "members", "value": [{ "value": id }] }]),
                )
                .await
            })
        })
        .collect();
    for patch in patches {
        let (status, body) = patch.await.unwrap();
        assert!(
            status == StatusCode::OK || status == StatusCode::CONFLICT,
            "{status} {body}"
        );
    }
    let (_, group) = scim.get(&format!("/Groups/{gid}")).await;
    let members: std::collections::HashSet<_> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    let (_, listed) = scim.get("/Groups?attributes=members").await;
    assert_eq!(listed["totalResults"], 1);
    assert_eq!(members.len(), 12, "every concurrent add is kept");
    assert!(
        group["meta"]["version"].as_str().unwrap() != "W/\"1\"",
        "membership changes move the version"
    );
}

#[tokio::test]
async fn a_scim_token_stops_working_when_its_owner_is_no_longer_admin() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let (ops, _) = server.user_with_token("ops").await;
    admin
        .grant_role(pb::GrantRoleRequest {
            user_id: ops.id.clone(),
            role: latch_proto::common::v1::Role::Admin as i32,
        })
        .await
        .unwrap();
    let created = admin
        .create_token(pb::CreateTokenRequest {
            user_id: ops.id.clone(),
            scope: pb::api_token::Scope::Scim as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let scim = Scim {
        http: reqwest::Client::new(),
        base: format!("{}/scim/v2", server.http_base),
        token: created.secret,
    };
    let (status, _) = scim.post("/Users", okta_user("first@x.io", "F", "S")).await;
    assert_eq!(status, StatusCode::CREATED);
    admin
        .revoke_role(pb::RevokeRoleRequest {
            user_id: ops.id.clone(),
            role: latch_proto::common::v1::Role::Admin as i32,
        })
        .await
        .unwrap();
    let (status, _) = scim.post("/Users", okta_user("second@x.io", "S", "S")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Attributes outside the published schemas are refused with the RFC 7644 scimType and change
/// nothing; above all a `roles` claim never makes a user look like an admin.
#[tokio::test]
async fn attributes_outside_the_schema_are_refused_and_never_shown() {
    let server = TestServer::start().await;
    let scim = Scim::new(&server).await;
    let (status, eve) = scim.post("/Users", okta_user("eve@x.io", "Eve", "E")).await;
    assert_eq!(status, StatusCode::CREATED, "{eve}");
    let user_path = format!("/Users/{}", eve["id"].as_str().unwrap());

    for (operations, scim_type) in [
        (
            json!([{ "op": "add", "path": "nonexistent", "value": "x" }]),
            "invalidPath",
        ),
        (
            json!([{ "op": "add", "path": "members", "value": [{ "value": "g1" }] }]),
            "invalidPath",
        ),
        (
            json!([{ "op": "add", "path": "roles", "value": [{ "value": "admin" }] }]),
            "invalidPath",
        ),
        (
            json!([{ "op": "add", "value": { "roles": [{ "value": "admin" }] } }]),
            "invalidPath",
        ),
        (
            json!([{ "op": "replace", "value": { "active": true, "isAdmin": true } }]),
            "invalidPath",
        ),
        (
            json!([{ "op": "replace", "path": "roles[primary eq \"True\"].value", "value": "admin" }]),
            "invalidPath",
        ),
        (
            json!([{ "op": "add", "path": "name", "value": { "givenName": "Eve", "role": "admin" } }]),
            "invalidValue",
        ),
        (
            json!([{ "op": "add", "path": "groups", "value": [{ "value": "latch-admins" }] }]),
            "mutability",
        ),
    ] {
        let (status, error) = scim.patch(&user_path, operations.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{operations}: {error}");
        assert_eq!(error["scimType"], scim_type, "{operations}: {error}");
    }
    let (_, shown) = scim.get(&user_path).await;
    assert_eq!(
        shown["meta"]["version"], eve["meta"]["version"],
        "a refused PATCH changes nothing"
    );
    for absent in ["roles", "nonexistent", "members", "isAdmin", "groups"] {
        assert!(shown.get(absent).is_none(), "{absent} shown: {shown}");
    }
    assert!(shown["name"].get("role").is_none(), "{shown}");

    // POST and PUT: the same schema.
    let mut body = okta_user("mallory@x.io", "Mal", "Lory");
    body["roles"] = json!([{ "value": "admin", "primary": true }]);
    let (status, error) = scim.post("/Users", body.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["scimType"], "invalidValue");
    assert!(error["detail"].as_str().unwrap().contains("roles"), "{error}");
    let (_, found) = scim
        .get(&format!("/Users?filter={}", urlencode(r#"userName eq "mallory@x.io""#)))
        .await;
    assert_eq!(found["totalResults"], 0, "nothing was created");
    let (status, error) = scim.send(reqwest::Method::PUT, &user_path, Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["scimType"], "invalidValue");
    let mut body = okta_user("eve@x.io", "Eve", "E");
    body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["clearance"] = json!("top");
    let (status, error) = scim.send(reqwest::Method::PUT, &user_path, Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(error["detail"].as_str().unwrap().contains("clearance"), "{error}");
    let (_, shown) = scim.get(&user_path).await;
    assert_eq!(shown["meta"]["version"], eve["meta"]["version"]);

    // Latch's own view: eve is an ordinary user.
    let mut admin = server.admin().await;
    let user = admin
        .get_user(pb::GetUserRequest { id: "eve@x.io".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(user.roles, [latch_proto::common::v1::Role::User as i32]);

    // Groups: the core Group schema, also for the member-only PATCHes applied as deltas.
    let (status, error) = scim
        .post("/Groups", json!({ "displayName": "ops", "owners": [{ "value": "x" }] }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["scimType"], "invalidValue");
    let (status, group) = scim.post("/Groups", json!({ "displayName": "ops" })).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let group_path = format!("/Groups/{}", group["id"].as_str().unwrap());
    for (operations, scim_type) in [
        (
            json!([{ "op": "add", "path": "members", "value": [{ "value": eve["id"], "role": "owner" }] }]),
            "invalidValue",
        ),
        (
            json!([{ "op": "add", "path": "emails", "value": [{ "value": "ops@x.io" }] }]),
            "invalidPath",
        ),
        (json!([{ "op": "add", "value": { "nonexistent": 1 } }]), "invalidPath"),
    ] {
        let (status, error) = scim.patch(&group_path, operations.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{operations}: {error}");
        assert_eq!(error["scimType"], scim_type, "{operations}: {error}");
    }
    let (_, shown) = scim.get(&group_path).await;
    assert_eq!(shown["members"], json!([]), "{shown}");
}
