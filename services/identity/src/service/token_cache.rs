//! The tokens recently seen valid, so that an RPC does not read its token from the database.
//!
//! Revocation stays immediate: a revocation is a change of identity's feed, and applying it
//! (on the replica that revoked at commit, on every other replica when it follows the feed)
//! drops the token here before anyone can use it again. Expiry, the user's state and roles are
//! checked at every use as before (the record keeps `expires_at`; the user comes from the live
//! directory). As a backstop against a feed that stopped moving, an entry is read again from the
//! database after [`FRESH_FOR`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::TokenRecord;

/// How long a cached record is used before the database is asked again.
pub const FRESH_FOR: Duration = Duration::from_secs(5);
/// The most tokens kept; past it the stale ones go, then everything (the cache refills).
pub const MAX_TOKENS: usize = 50_000;

struct Entry {
    record: TokenRecord,
    at: Instant,
}

#[derive(Default)]
struct Tokens {
    /// Secret hash → record.
    by_hash: HashMap<String, Entry>,
    /// Token id → secret hash, to drop a revoked token by its id.
    hash_of: HashMap<String, String>,
    /// Bumped by every revocation: a read that began before one may not fill the cache.
    generation: u64,
}

#[derive(Default)]
pub struct TokenCache {
    tokens: Mutex<Tokens>,
}

/// Where a lookup started, for [`TokenCache::remember`].
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The record of a token seen valid lately, or a ticket to remember what the database says.
    pub fn lookup(&self, secret_hash: &str) -> Result<TokenRecord, Ticket> {
        let tokens = self.lock();
        match tokens.by_hash.get(secret_hash) {
            Some(entry) if entry.at.elapsed() < FRESH_FOR => Ok(entry.record.clone()),
            _ => Err(Ticket(tokens.generation)),
        }
    }

    /// Keeps a record read from the database, unless a revocation happened since `ticket` was
    /// taken (the record may predate it) or the token is revoked.
    pub fn remember(&self, ticket: Ticket, secret_hash: &str, record: &TokenRecord) {
        if record.revoked_at.is_some() {
            return;
        }
        let mut tokens = self.lock();
        if tokens.generation != ticket.0 {
            return;
        }
        if tokens.by_hash.len() >= MAX_TOKENS {
            tokens.by_hash.retain(|_, entry| entry.at.elapsed() < FRESH_FOR);
            if tokens.by_hash.len() >= MAX_TOKENS {
                tokens.by_hash.clear();
            }
            let Tokens { by_hash, hash_of, .. } = &mut *tokens;
            hash_of.retain(|_, hash| by_hash.contains_key(hash));
        }
        tokens.hash_of.insert(record.id.clone(), secret_hash.to_string());
        tokens.by_hash.insert(
            secret_hash.to_string(),
            Entry {
                record: record.clone(),
                at: Instant::now(),
            },
        );
    }

    /// A token was revoked: it is never answered from here again.
    pub fn forget(&self, token_id: &str) {
        let mut tokens = self.lock();
        tokens.generation += 1;
        if let Some(hash) = tokens.hash_of.remove(token_id) {
            tokens.by_hash.remove(&hash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> TokenRecord {
        TokenRecord {
            id: id.into(),
            user_id: "u1".into(),
            description: String::new(),
            scope: "api".into(),
            prefix: String::new(),
            created_at: chrono::Utc::now(),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        }
    }

    #[test]
    fn a_revoked_token_is_forgotten_and_a_read_from_before_the_revocation_is_not_kept() {
        let cache = TokenCache::default();
        let Err(ticket) = cache.lookup("h1") else {
            panic!("empty cache answered")
        };
        cache.remember(ticket, "h1", &record("t1"));
        assert_eq!(cache.lookup("h1").map(|r| r.id).ok(), Some("t1".to_string()));
        cache.forget("t1");
        let Err(before) = cache.lookup("h1") else {
            panic!("revoked token answered")
        };
        // A lookup that read the row before a revocation committed must not bring it back.
        cache.forget("t2");
        cache.remember(before, "h1", &record("t1"));
        assert!(cache.lookup("h1").is_err());
    }

    #[test]
    fn revoked_records_are_never_kept_and_the_cache_stays_bounded() {
        let cache = TokenCache::default();
        let Err(ticket) = cache.lookup("h") else { panic!() };
        let mut revoked = record("t");
        revoked.revoked_at = Some(chrono::Utc::now());
        cache.remember(ticket, "h", &revoked);
        assert!(cache.lookup("h").is_err());
        for n in 0..MAX_TOKENS + 5 {
            let Err(ticket) = cache.lookup(&format!("h{n}")) else {
                panic!()
            };
            cache.remember(ticket, &format!("h{n}"), &record(&format!("t{n}")));
        }
        let tokens = cache.lock();
        assert!(tokens.by_hash.len() <= MAX_TOKENS);
        assert!(tokens.hash_of.len() <= MAX_TOKENS);
    }
}
