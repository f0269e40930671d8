//! API tokens. Secrets appear only in `tokens create`, never here.

use latch_proto::identity::v1::{ApiToken, api_token};
use serde::Serialize;

use super::enum_name;
use crate::output::{details, render, table};
use crate::timestamp;

#[derive(Debug, Serialize)]
pub struct TokenView {
    pub name: String,
    pub id: String,
    pub user_id: String,
    pub description: String,
    pub scope: String,
    pub prefix: String,
    pub create_time: Option<String>,
    pub expire_time: Option<String>,
    pub revoke_time: Option<String>,
    pub last_used_time: Option<String>,
}

impl From<&ApiToken> for TokenView {
    fn from(token: &ApiToken) -> Self {
        Self {
            name: token.name.clone(),
            id: token.id.clone(),
            user_id: token.user_id.clone(),
            description: token.description.clone(),
            scope: scope_name(token.scope),
            prefix: token.prefix.clone(),
            create_time: timestamp::format_optional(token.create_time.as_ref()),
            expire_time: timestamp::format_optional(token.expire_time.as_ref()),
            revoke_time: timestamp::format_optional(token.revoke_time.as_ref()),
            last_used_time: timestamp::format_optional(token.last_used_time.as_ref()),
        }
    }
}

pub fn scope_name(scope: i32) -> String {
    enum_name(
        api_token::Scope::try_from(scope).ok().map(|scope| scope.as_str_name()),
        "SCOPE_",
        scope,
    )
}

pub fn tokens_table(tokens: &[ApiToken]) -> String {
    let mut rows = table([
        "id",
        "prefix",
        "scope",
        "user id",
        "description",
        "created",
        "expires",
        "last used",
        "revoked",
    ]);
    for token in tokens {
        rows.add_row(vec![
            token.id.clone(),
            token.prefix.clone(),
            scope_name(token.scope),
            token.user_id.clone(),
            token.description.clone(),
            timestamp::format(token.create_time.as_ref()),
            timestamp::format(token.expire_time.as_ref()),
            timestamp::format(token.last_used_time.as_ref()),
            timestamp::format(token.revoke_time.as_ref()),
        ]);
    }
    render(&rows)
}

pub fn token_details(token: &ApiToken) -> String {
    render(&details(vec![
        ("id", token.id.clone()),
        ("prefix", token.prefix.clone()),
        ("scope", scope_name(token.scope)),
        ("user id", token.user_id.clone()),
        ("description", token.description.clone()),
        ("created", timestamp::format(token.create_time.as_ref())),
        ("expires", timestamp::format(token.expire_time.as_ref())),
        ("last used", timestamp::format(token.last_used_time.as_ref())),
        ("revoked", timestamp::format(token.revoke_time.as_ref())),
    ]))
}
