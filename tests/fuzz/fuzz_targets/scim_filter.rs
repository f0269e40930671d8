//! SCIM filters (`userName eq "ann" and emails[type eq "work"]`) and attribute paths.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = latch_identity::scim::filter::parse_filter(text);
    let _ = latch_identity::scim::filter::parse_attr_path(text);
    let _ = latch_identity::scim::filter::parse_path_expression(text);
});
