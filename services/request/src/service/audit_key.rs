//! Where the audit signing key comes from: the configuration (`audit.signing_key`), or on a
//! single node a key generated once into the data directory, next to `secret.key`. Either way
//! it is outside the database, so write access to the database cannot sign a checkpoint.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::domain::checkpoint::AuditSigningKey;

/// The file a generated key is kept in, inside the data directory.
pub const KEY_FILE: &str = "audit-signing.key";

/// The configured key (base64 of a 32-byte Ed25519 seed), or else the one in
/// `data_dir/audit-signing.key`, created (mode 0600) on first use.
pub fn load(configured: &str, data_dir: &Path) -> Result<AuditSigningKey, String> {
    if !configured.trim().is_empty() {
        return AuditSigningKey::from_base64(configured).map_err(|rule| format!("audit.signing_key: {rule}"));
    }
    let path = data_dir.join(KEY_FILE);
    let file_error =
        |error: std::io::Error| format!("cannot read or write the audit signing key {}: {error}", path.display());
    match std::fs::read_to_string(&path) {
        Ok(existing) => AuditSigningKey::from_base64(&existing).map_err(|rule| format!("{}: {rule}", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir).map_err(file_error)?;
            let mut seed = [0u8; 32];
            rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut seed)
                .map_err(|error| format!("no randomness for the audit signing key: {error}"))?;
            write_private(&path, &STANDARD.encode(seed)).map_err(file_error)?;
            Ok(AuditSigningKey::from_seed(&seed))
        }
        Err(error) => Err(file_error(error)),
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_kept_and_a_configured_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let first = load("", dir.path()).unwrap();
        let again = load("", dir.path()).unwrap();
        assert_eq!(first.public_key(), again.public_key(), "the generated key is reused");
        let configured = STANDARD.encode([7u8; 32]);
        let chosen = load(&configured, dir.path()).unwrap();
        assert_eq!(chosen.public_key(), AuditSigningKey::from_seed(&[7; 32]).public_key());
        let error = load("c2hvcnQ=", dir.path()).unwrap_err();
        assert!(
            error.starts_with("audit.signing_key:") && error.contains("32 bytes"),
            "{error}"
        );
    }
}
