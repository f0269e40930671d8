//! Directory import documents (users, groups, schedules).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = latch_identity::service::parse_import_document(text);
});
