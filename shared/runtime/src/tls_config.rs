//! The `tls` section: the certificate, key and authorities every listener and client of this
//! process uses, and the rule that plain text is served only on loopback.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use latch_tls::server::{ClientAuth, Security};
use latch_tls::{TlsFiles, TlsSource};
use serde::{Deserialize, Serialize};

use crate::service_identity::ServiceName;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain of this process (leaf first). Its URI SAN
    /// `spiffe://<trust_domain>/<service>` is the process's service identity.
    pub cert_file: String,
    /// PEM private key of that certificate.
    pub key_file: String,
    /// PEM authorities trusted for the other side's certificate (peers, connectors, and the
    /// clients of this process's ports).
    pub ca_file: String,
    /// Only clients with a certificate from `ca_file` complete a handshake on the gRPC port
    /// (a context behind the gateway: every caller is a Latch service).
    pub require_client_cert: bool,
    /// The SPIFFE trust domain of service identities.
    pub trust_domain: String,
    /// How often the files are checked for a rotation.
    pub reload_secs: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert_file: String::new(),
            key_file: String::new(),
            ca_file: String::new(),
            require_client_cert: false,
            trust_domain: latch_tls::DEFAULT_TRUST_DOMAIN.to_string(),
            reload_secs: 10,
        }
    }
}

impl TlsConfig {
    /// Whether TLS is configured (all three files named).
    pub fn enabled(&self) -> bool {
        !self.cert_file.trim().is_empty()
    }

    pub fn files(&self) -> Option<TlsFiles> {
        self.enabled().then(|| TlsFiles {
            cert_file: PathBuf::from(self.cert_file.trim()),
            key_file: PathBuf::from(self.key_file.trim()),
            ca_file: PathBuf::from(self.ca_file.trim()),
        })
    }

    /// The three files together or none; a valid trust domain; a sane reload interval; and
    /// without TLS, listeners on loopback only.
    pub fn check(&self, listeners: &[(&str, SocketAddr)]) -> Result<(), String> {
        let set = [
            ("tls.cert_file", &self.cert_file),
            ("tls.key_file", &self.key_file),
            ("tls.ca_file", &self.ca_file),
        ];
        let given = set.iter().filter(|(_, v)| !v.trim().is_empty()).count();
        if given != 0 && given != set.len() {
            let missing: Vec<&str> = set
                .iter()
                .filter(|(_, v)| v.trim().is_empty())
                .map(|(k, _)| *k)
                .collect();
            return Err(format!(
                "{}: TLS needs tls.cert_file, tls.key_file and tls.ca_file together",
                missing.join(", ")
            ));
        }
        if latch_tls::ServiceIdentity::parse(&format!("spiffe://{}/x", self.trust_domain)).is_none() {
            return Err(format!(
                "tls.trust_domain: {} must be letters, digits, '-', '_' or '.'",
                crate::text::quote(&self.trust_domain)
            ));
        }
        if !(1..=3600).contains(&self.reload_secs) {
            return Err(format!(
                "tls.reload_secs: {} is outside the allowed range 1–3600",
                self.reload_secs
            ));
        }
        if self.require_client_cert && !self.enabled() {
            return Err("tls.require_client_cert: needs tls.cert_file, tls.key_file and tls.ca_file".into());
        }
        if !self.enabled() {
            for (key, address) in listeners {
                if !address.ip().is_loopback() {
                    return Err(format!(
                        "{key}: {address} is not a loopback address, and Latch serves plain text only on loopback; \
                         set tls.cert_file, tls.key_file and tls.ca_file (LATCH_TLS__CERT_FILE, …) or listen on 127.0.0.1"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Reads the files (when TLS is configured); an error names the setting.
    pub fn load(&self) -> anyhow::Result<Option<TlsSource>> {
        match self.files() {
            None => Ok(None),
            Some(files) => Ok(Some(
                TlsSource::load(files, &self.trust_domain).map_err(|e| anyhow::anyhow!("{e}"))?,
            )),
        }
    }

    pub fn reload_every(&self) -> Duration {
        Duration::from_secs(self.reload_secs)
    }
}

/// How the gRPC port serves: TLS when configured, requiring client certificates when asked.
pub fn grpc_security(config: &TlsConfig, source: &Option<TlsSource>) -> Security {
    match source {
        Some(source) => Security::Tls {
            source: source.clone(),
            client_auth: if config.require_client_cert {
                ClientAuth::Required
            } else {
                ClientAuth::Optional
            },
        },
        None => Security::Plain,
    }
}

/// How the HTTP port serves: TLS when configured; clients (identity providers calling SCIM,
/// probes) need no certificate.
pub fn http_security(source: &Option<TlsSource>) -> Security {
    match source {
        Some(source) => Security::Tls {
            source: source.clone(),
            client_auth: ClientAuth::Optional,
        },
        None => Security::Plain,
    }
}

/// A process's certificate names one of the services it runs: it is who the process is to its
/// peers and connectors, and a certificate mounted on the wrong process would lend it another
/// service's rights. (A process running several contexts calls its peers as the one named.)
pub fn check_own_identity(tls: &TlsSource, runs: &[ServiceName]) -> anyhow::Result<()> {
    let own = tls.own_identity();
    let named = own.as_ref().and_then(|id| id.name.parse::<ServiceName>().ok());
    if named.is_some_and(|name| runs.contains(&name)) {
        return Ok(());
    }
    anyhow::bail!(
        "tls.cert_file: this process runs {} but its certificate names {}; give it a certificate with the URI SAN spiffe://{}/<one of those>",
        runs.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
        own.map_or_else(
            || "no service (no spiffe:// URI in its trust domain)".to_string(),
            |id| id.to_string()
        ),
        tls.trust_domain()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> Vec<(&'static str, SocketAddr)> {
        vec![("grpc_addr", "127.0.0.1:7070".parse().unwrap())]
    }

    #[test]
    fn plain_text_is_served_on_loopback_only() {
        let plain = TlsConfig::default();
        assert!(plain.check(&loopback()).is_ok());
        let error = plain
            .check(&[("http_addr", "0.0.0.0:7080".parse().unwrap())])
            .unwrap_err();
        assert!(
            error.starts_with("http_addr: 0.0.0.0:7080 is not a loopback address"),
            "{error}"
        );
        let tls = TlsConfig {
            cert_file: "a.crt".into(),
            key_file: "a.key".into(),
            ca_file: "ca.crt".into(),
            ..TlsConfig::default()
        };
        assert!(tls.check(&[("grpc_addr", "0.0.0.0:7070".parse().unwrap())]).is_ok());
    }

    #[test]
    fn the_files_come_together_and_the_settings_in_range() {
        let half = TlsConfig {
            cert_file: "a.crt".into(),
            ..TlsConfig::default()
        };
        let error = half.check(&loopback()).unwrap_err();
        assert!(error.starts_with("tls.key_file, tls.ca_file:"), "{error}");
        let error = TlsConfig {
            trust_domain: "no spaces".into(),
            ..TlsConfig::default()
        }
        .check(&loopback())
        .unwrap_err();
        assert!(error.starts_with("tls.trust_domain"), "{error}");
        let error = TlsConfig {
            reload_secs: 0,
            ..TlsConfig::default()
        }
        .check(&loopback())
        .unwrap_err();
        assert!(error.starts_with("tls.reload_secs"), "{error}");
        let error = TlsConfig {
            require_client_cert: true,
            ..TlsConfig::default()
        }
        .check(&loopback())
        .unwrap_err();
        assert!(error.starts_with("tls.require_client_cert"), "{error}");
    }
}
