//! A SCIM client of a bench's Latch, as an identity provider would be.

use latch_runtime::Caller;
use latchd::App;

pub struct Scim {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Scim {
    /// A client of `app`'s SCIM endpoint, with a SCIM token `caller` makes for it.
    pub async fn new(app: &App, caller: &Caller) -> Self {
        let token = app
            .identity()
            .expect("identity runs here")
            .create_token(&caller.user_id, "bench idp", "scim", None)
            .await
            .expect("scim token")
            .secret;
        Self {
            client: reqwest::Client::new(),
            base: format!("http://{}/scim/v2", app.http_addr()),
            token,
        }
    }

    /// Sends `body` to `path`; panics unless it succeeds, and returns the answer (null if none).
    pub async fn send(&self, method: reqwest::Method, path: &str, body: serde_json::Value) -> serde_json::Value {
        let response = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await
            .expect("scim");
        assert!(response.status().is_success(), "{}", response.status());
        response.json::<serde_json::Value>().await.unwrap_or_default()
    }

    /// Active users `u0@bench.example` … `u{count - 1}@bench.example`; their ids in that order.
    pub async fn create_users(&self, count: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(count);
        for n in 0..count {
            let user = self
                .send(
                    reqwest::Method::POST,
                    "/Users",
                    serde_json::json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": format!("u{n}@bench.example"),
                        "active": true,
                    }),
                )
                .await;
            ids.push(user["id"].as_str().unwrap().to_string());
        }
        ids
    }

    /// A group named `name`; its id.
    pub async fn create_group(&self, name: &str) -> String {
        let group = self
            .send(
                reqwest::Method::POST,
                "/Groups",
                serde_json::json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name }),
            )
            .await;
        group["id"].as_str().unwrap().to_string()
    }

    /// Patches group `group_id` with `operations`, a list of SCIM patch operations.
    pub async fn patch_group(&self, group_id: &str, operations: serde_json::Value) {
        self.send(
            reqwest::Method::PATCH,
            &format!("/Groups/{group_id}"),
            serde_json::json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": operations,
            }),
        )
        .await;
    }
}
