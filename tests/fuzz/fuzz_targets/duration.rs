//! Durations (`2h`, `1d12h`, `90m`) and their arithmetic.
#![no_main]

use latch_flow::domain::duration::Span;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(span) = Span::parse(text) {
        let _ = span.to_chrono();
        assert_eq!(Span::seconds(span.as_seconds()), Some(span));
    }
});
