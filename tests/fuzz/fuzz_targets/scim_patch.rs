//! SCIM PATCH bodies, parsed strictly as the server reads them, then applied to a user.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|body: &[u8]| {
    let Ok(body) = latch_runtime::document::read_json(body, latch_runtime::document::MAX_DEPTH) else {
        return;
    };
    let _ = latch_identity::scim::patch::parse_patch_path(body.as_str().unwrap_or_default());
    if let Ok(operations) = latch_identity::scim::patch::parse_operations(&body) {
        let mut user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ann@example.com",
            "emails": [{ "value": "ann@example.com", "type": "work", "primary": true }],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": "Engineering" }
        });
        let _ = latch_identity::scim::patch::apply_operations(&mut user, &operations);
    }
});
