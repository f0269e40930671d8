//! Flow definitions and flows as code (YAML or JSON), parsed and validated as CreateFlow does.
#![no_main]

use latch_flow::domain::model::FlowSpec;
use latch_runtime::document::{self, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(spec) = latch_flow::service::parse_definition(text) {
        let _ = latch_flow::domain::validate::validate(&spec.normalized());
    }
    let _ = document::parse::<Vec<FlowSpec>>("document", text, Limits::BULK);
});
