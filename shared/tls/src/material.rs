//! The files a TLS configuration is made of, read and checked.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

/// The most a certificate, key or authority file may hold.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// PEM files: this process's certificate chain (leaf first), its private key, and the
/// authorities whose certificates it accepts from the other side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub ca_file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{setting} ({path}): {rule}")]
    File {
        setting: &'static str,
        path: String,
        rule: String,
    },
    #[error("{0}")]
    Config(String),
}

impl TlsError {
    fn file(setting: &'static str, path: &Path, rule: impl Into<String>) -> Self {
        Self::File {
            setting,
            path: path.display().to_string(),
            rule: rule.into(),
        }
    }
}

/// What the files held when last read.
pub(crate) struct Material {
    pub key: Arc<CertifiedKey>,
    pub roots: Arc<RootCertStore>,
    /// A digest of the three files' bytes: a reload that reads the same bytes changes nothing.
    pub digest: u64,
}

fn read(setting: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    let size = std::fs::metadata(path)
        .map_err(|e| TlsError::file(setting, path, format!("cannot read: {e}")))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(TlsError::file(
            setting,
            path,
            format!("larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    std::fs::read(path).map_err(|e| TlsError::file(setting, path, format!("cannot read: {e}")))
}

fn certificates(setting: &'static str, path: &Path, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::file(setting, path, format!("not PEM certificates: {e}")))?;
    if certificates.is_empty() {
        return Err(TlsError::file(
            setting,
            path,
            "holds no certificate (PEM, BEGIN CERTIFICATE)",
        ));
    }
    Ok(certificates)
}

/// The three files' bytes as read, and their digest.
pub(crate) struct Read<'a> {
    files: &'a TlsFiles,
    cert_bytes: Vec<u8>,
    key_bytes: Vec<u8>,
    ca_bytes: Vec<u8>,
    pub digest: u64,
}

impl TlsFiles {
    /// Reads and checks the three files: the key must match the certificate, and every
    /// authority must parse.
    pub(crate) fn load(&self) -> Result<Material, TlsError> {
        self.read()?.parse()
    }

    /// Reads the three files, without parsing them (a reload parses only what changed).
    pub(crate) fn read(&self) -> Result<Read<'_>, TlsError> {
        let cert_bytes = read("tls.cert_file", &self.cert_file)?;
        let key_bytes = read("tls.key_file", &self.key_file)?;
        let ca_bytes = read("tls.ca_file", &self.ca_file)?;
        let mut hasher = DefaultHasher::new();
        (&cert_bytes, &key_bytes, &ca_bytes).hash(&mut hasher);
        Ok(Read {
            files: self,
            cert_bytes,
            key_bytes,
            ca_bytes,
            digest: hasher.finish(),
        })
    }
}

impl Read<'_> {
    pub(crate) fn parse(self) -> Result<Material, TlsError> {
        let Read {
            files,
            cert_bytes,
            key_bytes,
            ca_bytes,
            digest,
        } = self;
        let chain = certificates("tls.cert_file", &files.cert_file, &cert_bytes)?;
        let key = PrivateKeyDer::from_pem_slice(&key_bytes)
            .map_err(|e| TlsError::file("tls.key_file", &files.key_file, format!("not a PEM private key: {e}")))?;
        let signing = crate::provider()
            .key_provider
            .load_private_key(key)
            .map_err(|e| TlsError::file("tls.key_file", &files.key_file, format!("unusable private key: {e}")))?;
        let certified = CertifiedKey::new(chain, signing);
        certified.keys_match().map_err(|e| {
            TlsError::file(
                "tls.key_file",
                &files.key_file,
                format!("does not belong to the certificate in tls.cert_file: {e}"),
            )
        })?;
        let mut roots = RootCertStore::empty();
        for authority in certificates("tls.ca_file", &files.ca_file, &ca_bytes)? {
            roots
                .add(authority)
                .map_err(|e| TlsError::file("tls.ca_file", &files.ca_file, format!("not a usable authority: {e}")))?;
        }
        Ok(Material {
            key: Arc::new(certified),
            roots: Arc::new(roots),
            digest,
        })
    }
}
