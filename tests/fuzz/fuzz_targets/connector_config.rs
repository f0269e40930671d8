//! Connector configuration as an admin types it: any keys and values.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|config: BTreeMap<String, String>| {
    let _ = latch_connector_postgres::config::PostgresConfig::parse(&config);
});
