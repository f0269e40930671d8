//! `ListRequests` filters (`flow = "db access" AND create_time >= "2026-12-01T00:00:00Z"`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = latch_request::domain::list_filter::parse(text, latch_request::store::requests::parse_state);
});
