//! JSON bodies read strictly (SCIM requests): bounded, no repeated keys, no control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = latch_runtime::document::read_json(body, latch_runtime::document::MAX_DEPTH);
});
