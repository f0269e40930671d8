//! The login stored by `latch login`: `{server, token}` as TOML in
//! `<config dir>/latch/credentials.toml`, readable by its owner only.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::CliError;

const FILE_NAME: &str = "credentials.toml";
/// Overrides the directory, for tests and for people who keep several logins.
pub const CONFIG_DIR_ENV: &str = "LATCH_CONFIG_DIR";

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub server: String,
    pub token: String,
}

/// The token never appears in debug output.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("server", &self.server)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// `$LATCH_CONFIG_DIR`, else the platform config directory plus `latch`.
pub fn config_dir() -> Result<PathBuf, CliError> {
    if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|dir| !dir.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::config_dir()
        .map(|dir| dir.join("latch"))
        .ok_or_else(|| CliError::Other(format!("no config directory on this system; set {CONFIG_DIR_ENV}")))
}

pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// `None` when nobody has logged in.
pub fn load_from(dir: &Path) -> Result<Option<Credentials>, CliError> {
    let path = path_in(dir);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(CliError::io(format!("cannot read {}", path.display()), error));
        }
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|error| CliError::Other(format!("{} is not a valid credentials file: {error}", path.display())))
}

/// Writes to a temporary file created with mode 0600 and renames it over the old one, so the
/// token is never readable by others, not even for a moment, and a crash leaves the old login.
pub fn store_in(dir: &Path, credentials: &Credentials) -> Result<PathBuf, CliError> {
    create_private_dir(dir).map_err(|error| CliError::io(format!("cannot create {}", dir.display()), error))?;
    let text =
        toml::to_string(credentials).map_err(|error| CliError::Other(format!("cannot encode credentials: {error}")))?;
    let path = path_in(dir);
    let temporary = dir.join(format!(".{FILE_NAME}.tmp"));
    write_private(&temporary, text.as_bytes())
        .and_then(|()| fs::rename(&temporary, &path))
        .map_err(|error| CliError::io(format!("cannot write {}", path.display()), error))?;
    Ok(path)
}

/// Returns whether there was a login to remove.
pub fn remove_from(dir: &Path) -> Result<bool, CliError> {
    let path = path_in(dir);
    match fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(CliError::io(format!("cannot remove {}", path.display()), error)),
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // `mode` applies only when the file is new; a leftover temporary file keeps its old mode.
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Credentials {
        Credentials {
            server: "http://127.0.0.1:7070".into(),
            token: "lt_secret\"with'quotes".into(),
        }
    }

    #[test]
    fn round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("nested").join("latch");
        assert_eq!(load_from(&config).unwrap(), None);
        let path = store_in(&config, &sample()).unwrap();
        assert_eq!(path, config.join("credentials.toml"));
        assert_eq!(load_from(&config).unwrap(), Some(sample()));

        let replaced = Credentials {
            server: "http://other:7070".into(),
            token: "t2".into(),
        };
        store_in(&config, &replaced).unwrap();
        assert_eq!(load_from(&config).unwrap(), Some(replaced));

        assert!(remove_from(&config).unwrap());
        assert_eq!(load_from(&config).unwrap(), None);
        assert!(!remove_from(&config).unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = store_in(dir.path(), &sample()).unwrap();
        let mode = fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn stored_file_is_plain_toml() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_in(
            dir.path(),
            &Credentials {
                server: "http://s".into(),
                token: "t".into(),
            },
        )
        .unwrap();
        let text = fs::read_to_string(path).unwrap();
        assert!(text.contains("server = \"http://s\""), "{text}");
        assert!(text.contains("token = \"t\""), "{text}");
    }

    #[test]
    fn garbage_is_reported_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(path_in(dir.path()), "not toml at all [").unwrap();
        assert!(load_from(dir.path()).is_err());
    }
}
