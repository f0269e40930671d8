//! Page tokens: whatever a caller sends, it is refused or names a position made for this scope.
#![no_main]

use latch_runtime::pagination::{Page, PageScope};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|token: &str| {
    let scope = PageScope::new("identity.users", "u1", "filter");
    if let Ok(page) = Page::parse(100, token, &scope) {
        let _ = page.next_token(usize::MAX, &scope);
        let _ = page.slice(&[0u8; 10]);
    }
});
