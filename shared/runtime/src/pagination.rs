//! AIP-158 pagination: opaque page tokens that encode the offset of the next page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{ServiceError, ServiceResult};

pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub size: usize,
}

impl Page {
    /// `page_size` 0 means the default; larger than the maximum is clamped, negative refused.
    pub fn parse(page_size: i32, page_token: &str) -> ServiceResult<Self> {
        if page_size < 0 {
            return Err(ServiceError::invalid("page_size", "must not be negative"));
        }
        let size = match page_size as usize {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        };
        let offset = if page_token.is_empty() {
            0
        } else {
            decode(page_token)
                .ok_or_else(|| ServiceError::invalid("page_token", "is not a token returned by a previous call"))?
        };
        Ok(Self { offset, size })
    }

    /// The token for the page after this one, empty when `total` is exhausted.
    pub fn next_token(&self, total: usize) -> String {
        let next = self.offset + self.size;
        if next >= total { String::new() } else { encode(next) }
    }
}

fn encode(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

fn decode(token: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("o:")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_to_the_end() {
        let first = Page::parse(2, "").unwrap();
        assert_eq!(first, Page { offset: 0, size: 2 });
        let token = first.next_token(5);
        let second = Page::parse(2, &token).unwrap();
        assert_eq!(second.offset, 2);
        let third = Page::parse(2, &second.next_token(5)).unwrap();
        assert_eq!(third.offset, 4);
        assert_eq!(third.next_token(5), "");
    }

    #[test]
    fn garbage_tokens_name_the_field() {
        let error = Page::parse(10, "%%%").unwrap_err();
        assert!(error.to_string().contains("page_token"));
        assert!(Page::parse(-1, "").unwrap_err().to_string().contains("page_size"));
    }
}
