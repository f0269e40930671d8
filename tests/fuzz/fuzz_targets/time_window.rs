//! Time windows (days, start, end, time zone) and the questions asked of them at any instant.
#![no_main]

use arbitrary::Arbitrary;
use chrono::{DateTime, Utc};
use latch_flow::domain::window::When;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    days: Vec<String>,
    start: String,
    end: String,
    time_zone: String,
    at_seconds: i64,
}

fuzz_target!(|input: Input| {
    if let Ok(when) = When::parse(&input.days, &input.start, &input.end, &input.time_zone) {
        let at = DateTime::<Utc>::from_timestamp(input.at_seconds % 400_000_000_000, 0).unwrap_or_default();
        let _ = when.contains(at);
        let _ = when.next_start(at);
        let _ = when.describe();
    }
});
