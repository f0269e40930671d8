//! The login role a grant gets: derived from the grant id alone, so every call for one grant
//! (grant again, extend, revoke) finds the same role without Latch storing anything here.

use sha2::{Digest, Sha256};

/// Every role this connector creates starts with this; ListGrants looks only at these.
pub const ROLE_PREFIX: &str = "latch_";

/// Hex digits of the grant id's SHA-256 in the role name: 80 bits, so two grants colliding is
/// out of reach; the role's metadata comment still names its grant id and is checked on use.
const HASH_HEX_DIGITS: usize = 20;

/// PostgreSQL truncates identifiers longer than this (NAMEDATALEN - 1).
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// `latch_` followed by 20 lowercase hex digits: only `[a-z0-9_]`, 26 bytes, the same for the
/// same grant id on every call and every machine.
pub fn role_name(grant_id: &str) -> String {
    let digest = Sha256::digest(grant_id.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    let name = format!("{ROLE_PREFIX}{}", &hex[..HASH_HEX_DIGITS]);
    debug_assert!(name.len() <= MAX_IDENTIFIER_BYTES);
    name
}

/// Whether `name` has the shape of a role [`role_name`] makes.
pub fn is_latch_role_name(name: &str) -> bool {
    name.strip_prefix(ROLE_PREFIX).is_some_and(|hash| {
        hash.len() == HASH_HEX_DIGITS && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_deterministic() {
        assert_eq!(role_name("grant-1"), role_name("grant-1"));
        assert_ne!(role_name("grant-1"), role_name("grant-2"));
    }

    #[test]
    fn role_names_are_short_and_safe() {
        let long_id = "g".repeat(10_000);
        for grant_id in [
            "",
            "grant-1",
            "Ünïcødé grant",
            "x\"; DROP ROLE postgres; --",
            long_id.as_str(),
        ] {
            let name = role_name(grant_id);
            assert!(name.len() <= MAX_IDENTIFIER_BYTES, "{name} too long");
            assert!(name.starts_with(ROLE_PREFIX));
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name} has unsafe characters"
            );
            assert!(is_latch_role_name(&name));
        }
    }

    #[test]
    fn a_known_grant_id_keeps_its_role_name() {
        // Pinned: changing the derivation would orphan every role already granted.
        assert_eq!(role_name("grant-1"), "latch_00d1c1c9f0bcc58c43e6");
    }

    #[test]
    fn other_roles_are_not_latch_roles() {
        assert!(!is_latch_role_name("postgres"));
        assert!(!is_latch_role_name("latch_"));
        assert!(!is_latch_role_name("latch_admin"));
        assert!(!is_latch_role_name("latch_0123456789ABCDEF0123"));
    }
}
