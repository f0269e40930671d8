//! Authentication in a process without identity: `IdentityInternal.Authenticate` behind a small
//! cache. An answer (a caller, or a refusal) is reused for at most [`ANSWER_TTL`] (refusals for
//! [`REFUSAL_TTL`]), so a revoked token, a deactivated user or a removed admin role stops working
//! here within a second of identity committing it. Tokens are kept only as SHA-256 digests and
//! never logged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use latch_proto::common::v1::Role;
use latch_proto::identity::v1 as pb;
use latch_proto::identity::v1::identity_internal_client::IdentityInternalClient;
use sha2::{Digest, Sha256};

use crate::auth::{Authenticator, Caller, TokenScope};
use crate::error::{ServiceError, ServiceResult};
use crate::peer::Peer;

/// How long an accepted token's caller is reused.
pub const ANSWER_TTL: Duration = Duration::from_millis(500);
/// How long a refusal is reused (a burst of calls with a bad token asks identity once).
pub const REFUSAL_TTL: Duration = Duration::from_millis(250);
/// The most answers kept; the oldest go first when it is full.
pub const MAX_ENTRIES: usize = 10_000;
/// Longer tokens are refused without asking identity.
const MAX_TOKEN_CHARS: usize = 512;

type Digest32 = [u8; 32];

struct Entry {
    at: Instant,
    answer: Result<Caller, String>,
}

pub struct RemoteAuthenticator {
    peer: Peer,
    cache: Mutex<HashMap<Digest32, Entry>>,
}

impl RemoteAuthenticator {
    pub fn new(peer: Peer) -> Self {
        Self {
            peer,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, key: &Digest32) -> Option<Result<Caller, String>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let entry = cache.get(key)?;
        let ttl = if entry.answer.is_ok() { ANSWER_TTL } else { REFUSAL_TTL };
        (entry.at.elapsed() < ttl).then(|| entry.answer.clone())
    }

    fn remember(&self, key: Digest32, answer: Result<Caller, String>) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_ENTRIES {
            cache.retain(|_, entry| entry.at.elapsed() < ANSWER_TTL);
        }
        if cache.len() >= MAX_ENTRIES {
            // Still full of fresh answers: forget the oldest half rather than grow.
            let mut ages: Vec<Instant> = cache.values().map(|e| e.at).collect();
            ages.sort();
            let cut = ages[ages.len() / 2];
            cache.retain(|_, entry| entry.at > cut);
        }
        cache.insert(
            key,
            Entry {
                at: Instant::now(),
                answer,
            },
        );
    }

    async fn ask(&self, token: &str) -> ServiceResult<Caller> {
        let mut client = IdentityInternalClient::new(self.peer.channel());
        let answer = client
            .authenticate(pb::AuthenticateRequest {
                token: token.to_string(),
            })
            .await
            .map_err(|status| self.peer.error(status))?
            .into_inner();
        let scope = match pb::api_token::Scope::try_from(answer.scope) {
            Ok(pb::api_token::Scope::Api) => TokenScope::Api,
            Ok(pb::api_token::Scope::Scim) => TokenScope::Scim,
            _ => return Err(ServiceError::Internal("identity answered a token with no scope".into())),
        };
        Ok(Caller {
            user_id: answer.user_id,
            user_name: answer.user_name,
            token_id: answer.token_id,
            roles: answer
                .roles
                .into_iter()
                .filter_map(|r| Role::try_from(r).ok())
                .collect(),
            scope,
            source: String::new(),
        })
    }
}

fn refused(message: String) -> ServiceError {
    ServiceError::Unauthenticated(message)
}

#[async_trait::async_trait]
impl Authenticator for RemoteAuthenticator {
    async fn authenticate(&self, token: &str) -> ServiceResult<Caller> {
        if token.chars().count() > MAX_TOKEN_CHARS {
            return Err(refused("invalid, expired or revoked token".into()));
        }
        let key: Digest32 = Sha256::digest(token.as_bytes()).into();
        if let Some(answer) = self.cached(&key) {
            return answer.map_err(refused);
        }
        match self.ask(token).await {
            Ok(caller) => {
                self.remember(key, Ok(caller.clone()));
                Ok(caller)
            }
            // Only identity's refusal is remembered; an unreachable identity is asked again.
            Err(ServiceError::Unauthenticated(message)) => {
                self.remember(key, Err(message.clone()));
                Err(refused(message))
            }
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service_identity::{ServiceKey, ServiceName};

    fn authenticator() -> RemoteAuthenticator {
        // Connected lazily: these tests never reach it.
        let peer = Peer::remote(
            ServiceName::Identity,
            "http://127.0.0.1:9",
            ServiceName::Flow,
            ServiceKey::new([7; 32]),
            &latch_tls::client::TlsConnector::plain(),
        )
        .expect("peer");
        RemoteAuthenticator::new(peer)
    }

    fn key(n: usize) -> Digest32 {
        Sha256::digest(n.to_be_bytes()).into()
    }

    #[tokio::test]
    async fn the_cache_stays_bounded_and_refusals_expire_first() {
        let auth = authenticator();
        for n in 0..MAX_ENTRIES + 10 {
            auth.remember(key(n), Err("invalid".into()));
        }
        assert!(auth.cache.lock().unwrap().len() <= MAX_ENTRIES);
        let caller = Caller::service(ServiceName::Flow, String::new());
        auth.remember(key(1), Ok(caller.clone()));
        auth.remember(key(2), Err("invalid".into()));
        assert_eq!(auth.cached(&key(1)), Some(Ok(caller.clone())));
        assert!(auth.cached(&key(2)).is_some());
        std::thread::sleep(REFUSAL_TTL + Duration::from_millis(10));
        assert_eq!(auth.cached(&key(2)), None, "a refusal is kept briefly");
        assert_eq!(auth.cached(&key(1)), Some(Ok(caller)));
        std::thread::sleep(ANSWER_TTL - REFUSAL_TTL);
        assert_eq!(auth.cached(&key(1)), None, "an answer lives at most 500 ms");
    }

    #[tokio::test]
    async fn an_oversized_token_is_refused_without_asking() {
        let auth = authenticator();
        let error = auth.authenticate(&"x".repeat(MAX_TOKEN_CHARS + 1)).await.unwrap_err();
        assert!(matches!(error, ServiceError::Unauthenticated(_)), "{error:?}");
    }
}
