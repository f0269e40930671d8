//! API tokens: created (secret shown once), listed, revoked; and the bootstrap admin.

use chrono::{DateTime, Utc};
use latch_runtime::{ServiceError, ServiceResult};

use super::IdentityService;
use crate::domain::directory::RoleName;
use crate::domain::token;
use crate::domain::user::UserDraft;
use crate::store::TokenRecord;

pub const SCOPE_API: &str = "api";
pub const SCOPE_SCIM: &str = "scim";

#[derive(Clone)]
pub struct CreatedToken {
    pub record: TokenRecord,
    pub secret: String,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// What start-up did about the bootstrap admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootstrapOutcome {
    /// A new admin and token were made; the secret must be shown to the operator once.
    Created { user_name: String, secret: String },
    /// The operator-provided `LATCH_BOOTSTRAP_TOKEN` was registered for the admin.
    RegisteredConfiguredToken { user_name: String },
    /// Nothing to do: an admin exists (and the configured token, if any, is known).
    AlreadyBootstrapped,
}

pub const BOOTSTRAP_ADMIN: &str = "admin";

use latch_runtime::Caller;
use latch_runtime::audit::AuditRecord;

impl IdentityService {
    /// Creates a token without an audit record (the bootstrap admin's, made by Latch itself).
    pub async fn create_token(
        &self,
        user_id: &str,
        description: &str,
        scope: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> ServiceResult<CreatedToken> {
        self.create_token_with_secret(user_id, description, scope, expires_at, token::generate_secret(), None)
            .await
    }

    /// Creates a token `caller` asked for; its audit record commits with it.
    pub async fn create_token_by(
        &self,
        caller: &Caller,
        user_id: &str,
        description: &str,
        scope: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> ServiceResult<CreatedToken> {
        let secret = token::generate_secret();
        self.create_token_with_secret(user_id, description, scope, expires_at, secret, Some(caller))
            .await
    }

    async fn create_token_with_secret(
        &self,
        user_id: &str,
        description: &str,
        scope: &str,
        expires_at: Option<DateTime<Utc>>,
        secret: String,
        by: Option<&Caller>,
    ) -> ServiceResult<CreatedToken> {
        let user = self.get_user(user_id)?;
        if scope != SCOPE_API && scope != SCOPE_SCIM {
            return Err(ServiceError::invalid("scope", "must be api or scim"));
        }
        if description.len() > 256 {
            return Err(ServiceError::invalid("description", "must be at most 256 characters"));
        }
        let now = self.now();
        if let Some(expires_at) = expires_at
            && expires_at <= now
        {
            return Err(ServiceError::invalid("expire_time", "must be in the future"));
        }
        let record = TokenRecord {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user.id.clone(),
            description: description.to_string(),
            scope: scope.to_string(),
            prefix: token::display_prefix(&secret),
            created_at: now,
            expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        let audit = by.map(|caller| token_audit(caller, "token.created", &record));
        self.store()
            .insert_token(&record, &token::hash_secret(&secret), audit.as_ref())
            .await?;
        tracing::info!(token_id = %record.id, user_id = %user.id, scope, "api token created");
        Ok(CreatedToken { record, secret })
    }

    pub async fn list_tokens(&self, user_id: Option<&str>) -> ServiceResult<Vec<TokenRecord>> {
        Ok(self.store().list_tokens(user_id).await?)
    }

    /// Revokes a token. Only its owner or an admin may. The audit record commits with the
    /// revocation (none when the token was revoked already).
    pub async fn revoke_token(&self, caller: &Caller, id: &str) -> ServiceResult<TokenRecord> {
        let record = self
            .store()
            .token_by_id(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("token {id:?}")))?;
        if record.user_id != caller.user_id && !caller.is_admin() {
            // Do not reveal that someone else's token exists.
            return Err(ServiceError::NotFound(format!("token {id:?}")));
        }
        let now = self.now();
        let revoked = TokenRecord {
            revoked_at: Some(now),
            ..record
        };
        let mut tx = self.begin_write(&caller.actor()).await?;
        let done = tx
            .revoke_token(id, &revoked.user_id, &token_audit(caller, "token.revoked", &revoked))
            .await?;
        // Applying the change at commit drops the token from this replica's cache.
        self.commit(tx).await?;
        if done {
            tracing::info!(token_id = %id, "api token revoked");
        }
        self.store()
            .token_by_id(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("token {id:?}")))
    }

    /// Makes sure an admin exists who can sign in. On an empty directory this creates the user
    /// `admin` with the admin role and a token: `configured` when given (so automation knows it
    /// in advance), a random one otherwise. A configured token is registered once and only once.
    pub async fn bootstrap(&self, configured: &str) -> ServiceResult<BootstrapOutcome> {
        let configured = configured.trim();
        if !configured.is_empty() && !token::is_acceptable_bootstrap_token(configured) {
            return Err(ServiceError::invalid(
                "bootstrap_token",
                "must be at least 24 characters without spaces (LATCH_BOOTSTRAP_TOKEN)",
            ));
        }
        let has_admin = self.directory().admin_count() > 0;
        let configured_known = !configured.is_empty()
            && self
                .store()
                .token_by_hash(&token::hash_secret(configured))
                .await?
                .is_some();
        if has_admin {
            if !configured.is_empty() && !configured_known {
                // Changing the variable later must not mint admin tokens on a running system.
                tracing::warn!("LATCH_BOOTSTRAP_TOKEN is ignored: an admin exists already");
            }
            return Ok(BootstrapOutcome::AlreadyBootstrapped);
        }
        let existing = self.directory().find_user(BOOTSTRAP_ADMIN).cloned();
        let admin = match existing {
            Some(user) => user,
            None => {
                let draft = UserDraft {
                    user_name: BOOTSTRAP_ADMIN.into(),
                    display_name: "Bootstrap admin".into(),
                    active: true,
                    ..UserDraft::default()
                };
                self.create_user("bootstrap", draft, "").await?
            }
        };
        let is_admin = self.directory().roles_of(&admin.id).contains(&RoleName::Admin);
        if !is_admin {
            self.set_role("bootstrap", &admin.id, RoleName::Admin, true).await?;
        }
        if configured_known {
            // The token exists already (its owner lost the admin role): the admin is restored.
            return Ok(BootstrapOutcome::AlreadyBootstrapped);
        }
        if configured.is_empty() {
            let created = self
                .create_token(&admin.id, "bootstrap admin token", SCOPE_API, None)
                .await?;
            return Ok(BootstrapOutcome::Created {
                user_name: admin.user_name.clone(),
                secret: created.secret,
            });
        }
        self.create_token_with_secret(
            &admin.id,
            "bootstrap admin token (configured)",
            SCOPE_API,
            None,
            configured.into(),
            None,
        )
        .await?;
        Ok(BootstrapOutcome::RegisteredConfiguredToken {
            user_name: admin.user_name.clone(),
        })
    }
}

/// The audit record of a token change by `caller` (never the secret, nor its hash).
fn token_audit(caller: &Caller, action: &str, record: &TokenRecord) -> AuditRecord {
    let facts = serde_json::json!({
        "user_id": record.user_id,
        "scope": record.scope,
        "description": record.description,
        "prefix": record.prefix,
        "expires_at": record.expires_at,
        "revoked_at": record.revoked_at,
    });
    let before = if action == "token.created" {
        serde_json::Value::Null
    } else {
        let mut before = facts.clone();
        before["revoked_at"] = serde_json::Value::Null;
        before
    };
    let mut audit = AuditRecord::by(caller, action, format!("tokens/{}", record.id)).states(before, facts);
    audit.grantee = record.user_id.clone();
    audit
}
