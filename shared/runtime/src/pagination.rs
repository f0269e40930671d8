//! AIP-158 pagination. A page token is opaque, bound to the listing and the caller it was made
//! for, and checked: it carries the position of the next page and an HMAC over that position and
//! its scope, so a token altered, forged or taken to another listing or caller is refused rather
//! than read (an offset near `u64::MAX` once wrapped to the start).

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{ServiceError, ServiceResult};

pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;
/// A page stops early rather than grow past this many bytes of messages: every answer fits
/// well inside a client's 4 MiB default, whatever the items hold.
pub const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;
/// The longest position a token may carry (keyset cursors are a time and an id).
const MAX_POSITION_BYTES: usize = 1024;
const TAG_BYTES: usize = 16;

static TOKEN_KEY: OnceLock<[u8; 32]> = OnceLock::new();

/// Sets the key page tokens are signed with; every replica must use the same one (the server
/// derives it from the encryption key). Without it a random per-process key is used.
pub fn set_token_key(key: [u8; 32]) {
    let _ = TOKEN_KEY.set(key);
}

fn token_key() -> &'static [u8; 32] {
    TOKEN_KEY.get_or_init(rand::random)
}

/// What a token is bound to: the listing, the caller and every filter that shapes the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageScope(String);

impl PageScope {
    /// `list` names the listing (`identity.users`), `caller` the caller's user id, `query` the
    /// filters (anything with a stable `Debug`).
    pub fn new(list: &str, caller: &str, query: impl std::fmt::Debug) -> Self {
        Self(format!("{list}\u{1f}{caller}\u{1f}{query:?}"))
    }

    fn tag(&self, position: &[u8]) -> [u8; TAG_BYTES] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token_key()).expect("HMAC takes any key length");
        mac.update(&(self.0.len() as u64).to_be_bytes());
        mac.update(self.0.as_bytes());
        mac.update(position);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        tag
    }

    /// A token for `position` (an offset, or a keyset cursor) in this scope.
    pub fn seal(&self, position: &str) -> String {
        debug_assert!(position.len() <= MAX_POSITION_BYTES);
        let mut bytes = position.as_bytes().to_vec();
        bytes.extend_from_slice(&self.tag(position.as_bytes()));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The position in `token`, `None` for the first page; a token not made for this scope is
    /// refused without saying why.
    pub fn open(&self, token: &str) -> ServiceResult<Option<String>> {
        if token.is_empty() {
            return Ok(None);
        }
        let bad = || {
            ServiceError::invalid(
                "page_token",
                "is not a token returned by a previous call of this listing",
            )
        };
        if token.len() > 2 * (MAX_POSITION_BYTES + TAG_BYTES) {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
        if bytes.len() < TAG_BYTES {
            return Err(bad());
        }
        let (position, tag) = bytes.split_at(bytes.len() - TAG_BYTES);
        let expected = self.tag(position);
        // Constant time: the tag is a secret until it matches.
        let differs = expected.iter().zip(tag).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if differs != 0 {
            return Err(bad());
        }
        String::from_utf8(position.to_vec()).map(Some).map_err(|_| bad())
    }
}

/// A validated page request over an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub size: usize,
}

impl Page {
    /// `page_size` 0 means the default; larger than the maximum is clamped, negative refused.
    pub fn parse(page_size: i32, page_token: &str, scope: &PageScope) -> ServiceResult<Self> {
        let size = page_size_or(page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
        let offset = match scope.open(page_token)? {
            None => 0,
            Some(position) => position
                .parse()
                .map_err(|_| ServiceError::invalid("page_token", "is not a token returned by a previous call"))?,
        };
        Ok(Self { offset, size })
    }

    /// The token for the page after this one, empty when `total` is exhausted.
    pub fn next_token(&self, total: usize, scope: &PageScope) -> String {
        match self.offset.checked_add(self.size) {
            Some(next) if next < total => scope.seal(&next.to_string()),
            _ => String::new(),
        }
    }

    /// This page's items as messages, stopping early when the next one would take the page past
    /// [`MAX_PAGE_BYTES`] (always at least one), and the token for what follows.
    pub fn fill<T, M: prost::Message>(
        &self,
        items: &[T],
        scope: &PageScope,
        convert: impl Fn(&T) -> M,
    ) -> (Vec<M>, String) {
        let mut page = Vec::new();
        let mut bytes = 0usize;
        for item in self.slice(items) {
            let message = convert(item);
            let size = message.encoded_len() + 8;
            if !page.is_empty() && bytes + size > MAX_PAGE_BYTES {
                break;
            }
            bytes += size;
            page.push(message);
        }
        let shown = Page {
            offset: self.offset,
            size: page.len(),
        };
        let next = if page.len() < self.size {
            // Cut short by bytes (or the end of the list): continue right after what was shown.
            shown.next_token(items.len(), scope)
        } else {
            self.next_token(items.len(), scope)
        };
        (page, next)
    }

    /// The items of this page.
    pub fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start = self.offset.min(items.len());
        let end = start.saturating_add(self.size).min(items.len());
        &items[start..end]
    }
}

/// `page_size`: 0 is `default`, above `max` is clamped, negative is refused.
pub fn page_size_or(page_size: i32, default: usize, max: usize) -> ServiceResult<usize> {
    match page_size {
        n if n < 0 => Err(ServiceError::invalid("page_size", "must not be negative")),
        0 => Ok(default),
        n => Ok((n as usize).min(max)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> PageScope {
        PageScope::new("identity.users", "u1", ("filter", "eng"))
    }

    #[test]
    fn pages_walk_to_the_end() {
        let first = Page::parse(2, "", &scope()).unwrap();
        assert_eq!(first, Page { offset: 0, size: 2 });
        let token = first.next_token(5, &scope());
        let second = Page::parse(2, &token, &scope()).unwrap();
        assert_eq!(second.offset, 2);
        let third = Page::parse(2, &second.next_token(5, &scope()), &scope()).unwrap();
        assert_eq!(third.offset, 4);
        assert_eq!(third.next_token(5, &scope()), "");
        assert_eq!(third.slice(&[1, 2, 3, 4, 5]), &[5]);
    }

    #[test]
    fn garbage_tokens_name_the_field() {
        let error = Page::parse(10, "%%%", &scope()).unwrap_err();
        assert!(error.to_string().contains("page_token"));
        assert!(
            Page::parse(-1, "", &scope())
                .unwrap_err()
                .to_string()
                .contains("page_size")
        );
    }

    #[test]
    fn forged_tokens_are_refused() {
        // What an old token looked like, with an offset that used to wrap.
        let forged = URL_SAFE_NO_PAD.encode("o:18446744073709551614");
        assert!(Page::parse(10, &forged, &scope()).is_err());
        let honest = scope().seal("18446744073709551614");
        let mut bytes = URL_SAFE_NO_PAD.decode(&honest).unwrap();
        bytes[0] = b'2';
        assert!(Page::parse(10, &URL_SAFE_NO_PAD.encode(bytes), &scope()).is_err());
        // A real token at the far end never wraps to the start.
        let far = Page::parse(10, &honest, &scope()).unwrap();
        assert_eq!(far.next_token(usize::MAX, &scope()), "");
        assert!(far.slice(&[1, 2, 3]).is_empty());
    }

    #[test]
    fn pages_stop_early_when_their_messages_grow_large() {
        let big: Vec<String> = (0..10).map(|_| "x".repeat(MAX_PAGE_BYTES / 3)).collect();
        let first = Page::parse(10, "", &scope()).unwrap();
        let (page, token) = first.fill(&big, &scope(), |s| s.clone());
        assert_eq!(page.len(), 2, "two third-of-a-page items fit, the third would not");
        let second = Page::parse(10, &token, &scope()).unwrap();
        assert_eq!(second.offset, 2);
        let small: Vec<String> = (0..3).map(|i| i.to_string()).collect();
        let (page, token) = first.fill(&small, &scope(), |s| s.clone());
        assert_eq!((page.len(), token.as_str()), (3, ""));
    }

    #[test]
    fn tokens_are_bound_to_the_listing_the_caller_and_the_filter() {
        let token = scope().seal("10");
        assert!(Page::parse(10, &token, &PageScope::new("identity.users", "u2", ("filter", "eng"))).is_err());
        assert!(Page::parse(10, &token, &PageScope::new("identity.groups", "u1", ("filter", "eng"))).is_err());
        assert!(Page::parse(10, &token, &PageScope::new("identity.users", "u1", ("filter", "ops"))).is_err());
        assert_eq!(Page::parse(10, &token, &scope()).unwrap().offset, 10);
    }
}
