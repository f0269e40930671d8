//! Token authentication for the gRPC layer and the SCIM endpoint.

use std::collections::HashMap;
use std::sync::Mutex;

use latch_proto::common::v1::Role;
use latch_runtime::auth::{Authenticator, Caller, TokenScope};
use latch_runtime::{ServiceError, ServiceResult};

use super::IdentityService;
use super::tokens::SCOPE_SCIM;
use crate::domain::directory::RoleName;
use crate::domain::token;

/// `last_used_at` is written at most this often per token, so reads stay reads.
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

fn proto_role(role: RoleName) -> Role {
    match role {
        RoleName::User => Role::User,
        RoleName::Auditor => Role::Auditor,
        RoleName::Admin => Role::Admin,
    }
}

/// Authenticates against the local identity service.
pub struct LocalAuthenticator {
    service: IdentityService,
    touched: Mutex<HashMap<String, chrono::DateTime<chrono::Utc>>>,
}

impl LocalAuthenticator {
    pub fn new(service: IdentityService) -> Self {
        Self {
            service,
            touched: Mutex::new(HashMap::new()),
        }
    }
}

impl IdentityService {
    /// Who a token belongs to. Unknown, revoked and expired tokens, and tokens of deleted or
    /// deactivated users, are all UNAUTHENTICATED with a message that does not help guessing.
    pub async fn authenticate_token(&self, secret: &str) -> ServiceResult<Caller> {
        let invalid = || ServiceError::Unauthenticated("invalid, expired or revoked token".into());
        let hash = token::hash_secret(secret);
        let record = match self.inner.tokens.lookup(&hash) {
            Ok(record) => record,
            Err(ticket) => {
                let record = self.store().token_by_hash(&hash).await?.ok_or_else(invalid)?;
                self.inner.tokens.remember(ticket, &hash, &record);
                record
            }
        };
        let now = self.now();
        if record.revoked_at.is_some() || record.expires_at.is_some_and(|at| at <= now) {
            return Err(invalid());
        }
        if self.directory().user(&record.user_id).is_none() {
            // A user made on another replica moments ago: follow the feed before refusing.
            self.catch_up().await?;
        }
        let directory = self.directory();
        let user = directory
            .user(&record.user_id)
            .filter(|u| u.active)
            .ok_or_else(invalid)?;
        let roles = directory.roles_of(&user.id).into_iter().map(proto_role).collect();
        Ok(Caller {
            user_id: user.id.clone(),
            user_name: user.user_name.clone(),
            token_id: record.id,
            roles,
            scope: if record.scope == SCOPE_SCIM {
                TokenScope::Scim
            } else {
                TokenScope::Api
            },
            source: String::new(),
        })
    }
}

#[async_trait::async_trait]
impl Authenticator for LocalAuthenticator {
    async fn authenticate(&self, secret: &str) -> ServiceResult<Caller> {
        let caller = self.service.authenticate_token(secret).await?;
        let now = self.service.now();
        let due = {
            let mut touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
            let due = touched
                .get(&caller.token_id)
                .is_none_or(|last| now - *last >= TOUCH_EVERY);
            if due {
                touched.insert(caller.token_id.clone(), now);
            }
            due
        };
        if due && let Err(error) = self.service.store().touch_token(&caller.token_id, now).await {
            tracing::warn!(token_id = %caller.token_id, %error, "could not record token use");
        }
        Ok(caller)
    }
}
