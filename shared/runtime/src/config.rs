//! Layered configuration: built-in defaults, then a TOML file, then `LATCH_*` environment
//! variables (`__` separates nested keys: `LATCH_IDENTITY__ADMIN_GROUP`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LatchConfig {
    /// Where the embedded SQLite databases and the generated encryption key live.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL (one schema per context); empty for SQLite in `data_dir`.
    pub database_url: String,
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    /// The address clients reach the HTTP port at (`https://latch.example.com`), used in SCIM
    /// `meta.location`; when empty it is taken from the request's Host header.
    pub public_url: String,
    /// The admin API token to create at first start instead of a random one.
    pub bootstrap_token: String,
    /// Base64 of 32 bytes: the AES-256-GCM key for secrets at rest. When empty, a key is generated
    /// once into `data_dir/secret.key` (fine for one node; set it explicitly for replicas).
    pub encryption_key: String,
    pub identity: IdentityConfig,
    pub catalog: CatalogConfig,
    pub request: RequestSettings,
    pub audit: AuditSettings,
    pub notifications: NotificationSettings,
    pub telemetry: TelemetryConfig,
    /// Where the services this process does not run live (split deployments).
    pub peers: PeersConfig,
    /// TLS for every listener and client of this process.
    pub tls: crate::tls_config::TlsConfig,
}

/// The address of each context that runs in another process: `http://host:port` of its gRPC
/// port. Empty: the context runs in this process (or is not needed by what runs here).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PeersConfig {
    pub identity: String,
    pub catalog: String,
    pub flow: String,
    pub request: String,
}

impl PeersConfig {
    /// The configured address of `service`, when there is one.
    pub fn of(&self, service: crate::service_identity::ServiceName) -> Option<&str> {
        use crate::service_identity::ServiceName;
        let url = match service {
            ServiceName::Identity => &self.identity,
            ServiceName::Catalog => &self.catalog,
            ServiceName::Flow => &self.flow,
            ServiceName::Request => &self.request,
            ServiceName::Gateway => return None,
        };
        Some(url.trim()).filter(|u| !u.is_empty())
    }

    /// Each address set is an `http://` or `https://` URL with a host and a port.
    pub fn check(&self) -> Result<(), String> {
        for (key, value) in [
            ("identity", &self.identity),
            ("catalog", &self.catalog),
            ("flow", &self.flow),
            ("request", &self.request),
        ] {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let rule = format!(
                "peers.{key}: must be http(s)://host:port (LATCH_PEERS__{})",
                key.to_uppercase()
            );
            let url = url::Url::parse(value).map_err(|_| rule.clone())?;
            if !matches!(url.scheme(), "http" | "https")
                || url.host_str().is_none()
                || url.port_or_known_default().is_none()
            {
                return Err(rule);
            }
            if !url.path().trim_matches('/').is_empty() || url.query().is_some() || !url.username().is_empty() {
                return Err(format!("{rule}, without a path, query or credentials"));
            }
            if url.scheme() == "http" && !url.host().is_some_and(|host| crate::endpoint::is_loopback(&host)) {
                return Err(format!(
                    "peers.{key}: plain http:// only to loopback (127.0.0.0/8, [::1] or localhost); use https:// for other hosts"
                ));
            }
        }
        Ok(())
    }
}

/// Webhook notifications about requests.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationSettings {
    /// Where notifications go; `[[notifications.webhooks]]` tables in the config file.
    pub webhooks: Vec<WebhookConfig>,
    /// The grantee is told this many minutes before access ends.
    pub expiry_lead_minutes: u64,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            webhooks: Vec::new(),
            expiry_lead_minutes: 15,
        }
    }
}

/// Every event a webhook can be sent.
pub const NOTIFICATION_EVENTS: &[&str] = &[
    "approval_requested",
    "approved",
    "rejected",
    "failed",
    "granted",
    "expiring",
    "revoked",
    "expired",
    "review_required",
];

/// One webhook sink.
#[derive(Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    pub name: String,
    /// `https://hooks.slack.com/services/…`, a Teams incoming webhook, or your own endpoint.
    pub url: String,
    /// Key of the HMAC-SHA256 signature in `X-Latch-Signature` (required).
    pub secret: String,
    /// `generic` (JSON with the request and recipients), `slack` or `teams` (a `text` message).
    pub format: String,
    /// Events to send (see [`NOTIFICATION_EVENTS`]); empty for all.
    pub events: Vec<String>,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("name", &self.name)
            // Incoming-webhook URLs carry their secret in the path: show the host only.
            .field(
                "url",
                &format!("{}/…", self.url.split('/').take(3).collect::<Vec<_>>().join("/")),
            )
            .field("secret", &if self.secret.is_empty() { "" } else { "<redacted>" })
            .field("format", &self.format)
            .field("events", &self.events)
            .finish()
    }
}

impl NotificationSettings {
    /// Names the first bad field (`notifications.webhooks[1].format: …`).
    pub fn check(&self) -> Result<(), String> {
        let mut names = std::collections::BTreeSet::new();
        for (i, hook) in self.webhooks.iter().enumerate() {
            let field = |name: &str| format!("notifications.webhooks[{i}].{name}");
            if hook.name.trim().is_empty() || !names.insert(hook.name.trim()) {
                return Err(format!("{}: must be set and unique", field("name")));
            }
            // Payloads are signed, not encrypted, and Slack/Teams URLs carry their secret in
            // the path: the same rule as connector endpoints.
            if let Err(rule) = crate::endpoint::check_endpoint(&hook.url) {
                return Err(format!("{}: {rule}", field("url")));
            }
            if hook.secret.len() < 16 {
                return Err(format!("{}: must be at least 16 characters", field("secret")));
            }
            if !matches!(hook.format.as_str(), "" | "generic" | "slack" | "teams") {
                return Err(format!(
                    "{}: {:?} is not generic, slack or teams",
                    field("format"),
                    hook.format
                ));
            }
            if let Some(bad) = hook.events.iter().find(|e| !NOTIFICATION_EVENTS.contains(&e.as_str())) {
                return Err(format!(
                    "{}: unknown event {bad:?}; known: {}",
                    field("events"),
                    NOTIFICATION_EVENTS.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// The audit log.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// How long audit events are kept, in months: at least 36. Latch never deletes an event
    /// younger than this (it deletes none at all today; export older ranges to your storage).
    pub retention_months: u32,
    /// Base64 of a 32-byte Ed25519 seed: the key that signs checkpoints of the audit chain.
    /// When empty, a key is generated once into `data_dir/audit-signing.key` (SQLite only;
    /// required with PostgreSQL, the same for every replica).
    pub signing_key: String,
    /// A checkpoint is signed once this many events were sealed since the last one (1 to
    /// 1,000,000)…
    pub checkpoint_every_events: u64,
    /// …or this many minutes after the last one when events were sealed since (1 to 1,440).
    pub checkpoint_every_minutes: u64,
}

/// The shortest retention Latch accepts.
pub const MIN_AUDIT_RETENTION_MONTHS: u32 = 36;

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            retention_months: MIN_AUDIT_RETENTION_MONTHS,
            signing_key: String::new(),
            checkpoint_every_events: 1000,
            checkpoint_every_minutes: 10,
        }
    }
}

/// Never prints the signing key.
impl std::fmt::Debug for AuditSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSettings")
            .field("retention_months", &self.retention_months)
            .field(
                "signing_key",
                &if self.signing_key.is_empty() { "" } else { "<redacted>" },
            )
            .field("checkpoint_every_events", &self.checkpoint_every_events)
            .field("checkpoint_every_minutes", &self.checkpoint_every_minutes)
            .finish()
    }
}

impl AuditSettings {
    /// Refuses a retention shorter than 36 months and checkpoint intervals out of range.
    pub fn check(&self) -> Result<(), String> {
        if self.retention_months < MIN_AUDIT_RETENTION_MONTHS {
            return Err(format!(
                "audit.retention_months: {} is shorter than the minimum of {MIN_AUDIT_RETENTION_MONTHS} months",
                self.retention_months
            ));
        }
        if !(1..=1_000_000).contains(&self.checkpoint_every_events) {
            return Err(format!(
                "audit.checkpoint_every_events: {} is outside 1 to 1000000",
                self.checkpoint_every_events
            ));
        }
        if !(1..=1440).contains(&self.checkpoint_every_minutes) {
            return Err(format!(
                "audit.checkpoint_every_minutes: {} is outside 1 to 1440",
                self.checkpoint_every_minutes
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RequestSettings {
    /// Requests pending approval this long time out (hours).
    pub approval_timeout_hours: u64,
    /// Idle workers look for due jobs this often (milliseconds); jobs made in this process
    /// wake them at once.
    pub poll_ms: u64,
    /// The reconciler's full pass over every automatic flow runs this often (seconds), besides
    /// following directory, flow and catalog changes as they happen.
    pub reconcile_interval_secs: u64,
    /// Latch's grants are compared with every target system this often (minutes; 0: never).
    pub drift_check_minutes: u64,
    /// Repair the drift those checks find: revoke grants Latch does not know, give missing
    /// ones again. Off by default: drift is reported (log and audit trail) for people to judge.
    pub repair_drift: bool,
    /// The request service's own keys for the credentials it holds (`id:base64,…`, the
    /// sealing key first); empty: the deployment's `encryption_key`.
    pub encryption_keys: KeyRing,
}

impl Default for RequestSettings {
    fn default() -> Self {
        Self {
            approval_timeout_hours: 24,
            poll_ms: 100,
            reconcile_interval_secs: 300,
            drift_check_minutes: 60,
            repair_drift: false,
            encryption_keys: KeyRing::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// Every integration's resources are re-read this often (seconds).
    pub sync_interval_secs: u64,
    /// The catalog's own keys for integration secrets (`id:base64,…`, the sealing key first);
    /// empty: the deployment's `encryption_key`.
    pub encryption_keys: KeyRing,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        Self {
            sync_interval_secs: 900,
            encryption_keys: KeyRing::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// Members of this group (directly or through nested groups) are admins.
    pub admin_group: String,
    /// Members of this group are auditors.
    pub auditor_group: String,
    /// The issuer shown in authenticator apps.
    pub mfa_issuer: String,
    /// Identity's own keys for TOTP secrets (`id:base64,…`, the sealing key first); empty: the
    /// deployment's `encryption_key`.
    pub encryption_keys: KeyRing,
}

/// A context's key ring as configured (`id:base64,id:base64`); Debug never shows it.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct KeyRing(pub String);

impl KeyRing {
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_empty() { "\"\"" } else { "<redacted>" })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// `text` or `json`.
    pub log_format: String,
    /// An `EnvFilter` directive; `RUST_LOG` wins when set.
    pub log_level: String,
    pub service_name: String,
}

impl Default for LatchConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./latch-data"),
            database_url: String::new(),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 7070)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 7080)),
            public_url: String::new(),
            bootstrap_token: String::new(),
            encryption_key: String::new(),
            identity: IdentityConfig::default(),
            catalog: CatalogConfig::default(),
            request: RequestSettings::default(),
            audit: AuditSettings::default(),
            notifications: NotificationSettings::default(),
            telemetry: TelemetryConfig::default(),
            peers: PeersConfig::default(),
            tls: crate::tls_config::TlsConfig::default(),
        }
    }
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            admin_group: "latch-admins".into(),
            auditor_group: "latch-auditors".into(),
            mfa_issuer: "Latch".into(),
            encryption_keys: KeyRing::default(),
        }
    }
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_format: "text".into(),
            log_level: "info".into(),
            service_name: "latch".into(),
        }
    }
}

/// Never prints the bootstrap token, the encryption key or a database password.
impl std::fmt::Debug for LatchConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |value: &str| if value.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("LatchConfig")
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url_password(&self.database_url))
            .field("grpc_addr", &self.grpc_addr)
            .field("http_addr", &self.http_addr)
            .field("public_url", &self.public_url)
            .field("bootstrap_token", &redacted(&self.bootstrap_token))
            .field("encryption_key", &redacted(&self.encryption_key))
            .field("identity", &self.identity)
            .field("catalog", &self.catalog)
            .field("audit", &self.audit)
            .field("notifications", &self.notifications)
            .field("request", &self.request)
            .field("telemetry", &self.telemetry)
            .field("peers", &self.peers)
            .field("tls", &self.tls)
            .finish()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:<redacted>@host/db`.
pub fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:<redacted>@{host}"),
        None => url.to_string(),
    }
}

/// The settings at the top of the configuration (sections included).
const TOP_LEVEL_KEYS: &[&str] = &[
    "data_dir",
    "database_url",
    "grpc_addr",
    "http_addr",
    "public_url",
    "bootstrap_token",
    "encryption_key",
    "identity",
    "catalog",
    "request",
    "audit",
    "notifications",
    "telemetry",
    "peers",
    "tls",
];

/// Whether an environment key (prefix stripped, `__` possibly already turned into `.`) names one
/// of the server's settings or a key inside one of its sections.
fn is_server_setting(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace("__", ".");
    TOP_LEVEL_KEYS
        .iter()
        .any(|known| key == *known || key.strip_prefix(known).is_some_and(|rest| rest.starts_with('.')))
}

impl LatchConfig {
    /// How often a replica reads what other replicas wrote: often on PostgreSQL, where replicas
    /// share a database; rarely on SQLite, where one process owns each file.
    pub fn follow_every(&self) -> std::time::Duration {
        if self.is_postgres() {
            std::time::Duration::from_millis(250)
        } else {
            std::time::Duration::from_secs(2)
        }
    }

    /// Defaults, then `file` (or `LATCH_CONFIG`) when given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(LatchConfig::default()));
        let env_file = std::env::var_os("LATCH_CONFIG").map(PathBuf::from);
        if let Some(path) = file.map(Path::to_path_buf).or(env_file) {
            figment = figment.merge(Toml::file_exact(path));
        }
        // Other tools share the LATCH_ prefix (the CLI's LATCH_SERVER, the tests' variables): only
        // variables naming one of the server's own settings are read, and inside a section every
        // key must exist (LATCH_REQUEST__REPAIR_DRFT is an error, not a silent default).
        figment
            .merge(
                Env::prefixed("LATCH_")
                    .split("__")
                    .filter(|key| is_server_setting(key.as_str())),
            )
            .extract()
            .map_err(Box::new)
    }

    /// Every setting within its documented range, the first bad one named
    /// (`request.poll_ms: must be between 10 and 60000`). The server refuses to start otherwise:
    /// a zero interval would spin or panic, a huge one would overflow the clock arithmetic.
    pub fn check(&self) -> Result<(), String> {
        let ranges: [(&str, u64, u64, u64); 7] = [
            (
                "catalog.sync_interval_secs",
                self.catalog.sync_interval_secs,
                10,
                7 * 24 * 3600,
            ),
            (
                "request.approval_timeout_hours",
                self.request.approval_timeout_hours,
                1,
                24 * 365,
            ),
            ("request.poll_ms", self.request.poll_ms, 10, 60_000),
            (
                "request.reconcile_interval_secs",
                self.request.reconcile_interval_secs,
                10,
                7 * 24 * 3600,
            ),
            (
                "request.drift_check_minutes",
                self.request.drift_check_minutes,
                0,
                7 * 24 * 60,
            ),
            (
                "notifications.expiry_lead_minutes",
                self.notifications.expiry_lead_minutes,
                0,
                7 * 24 * 60,
            ),
            (
                "audit.retention_months",
                u64::from(self.audit.retention_months),
                u64::from(MIN_AUDIT_RETENTION_MONTHS),
                1200,
            ),
        ];
        for (key, value, low, high) in ranges {
            if !(low..=high).contains(&value) {
                return Err(format!("{key}: {value} is outside the allowed range {low}–{high}"));
            }
        }
        if !matches!(self.telemetry.log_format.as_str(), "text" | "json") {
            return Err(format!(
                "telemetry.log_format: {} is neither text nor json",
                crate::text::quote(&self.telemetry.log_format)
            ));
        }
        self.audit.check()?;
        self.peers.check()?;
        self.tls
            .check(&[("grpc_addr", self.grpc_addr), ("http_addr", self.http_addr)])?;
        if !self.tls.enabled() {
            for service in crate::service_identity::ServiceName::ALL {
                if let Some(url) = self.peers.of(service)
                    && url.trim().to_ascii_lowercase().starts_with("https://")
                {
                    return Err(format!(
                        "peers.{service}: https:// needs this process's certificate: set tls.cert_file, tls.key_file and tls.ca_file"
                    ));
                }
            }
        }
        self.notifications.check()
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres://") || self.database_url.starts_with("postgresql://")
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own large error
mod tests {
    use super::*;

    #[test]
    fn file_overrides_defaults_and_environment_overrides_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "latch.toml",
                r#"
                grpc_addr = "0.0.0.0:9000"
                http_addr = "0.0.0.0:9001"
                [identity]
                admin_group = "platform-admins"
                "#,
            )?;
            jail.set_env("LATCH_HTTP_ADDR", "127.0.0.1:9999");
            jail.set_env("LATCH_IDENTITY__AUDITOR_GROUP", "sec-audit");
            let config = LatchConfig::load(Some(Path::new("latch.toml"))).map_err(|e| *e)?;
            assert_eq!(config.grpc_addr.to_string(), "0.0.0.0:9000");
            assert_eq!(config.http_addr.to_string(), "127.0.0.1:9999");
            assert_eq!(config.identity.admin_group, "platform-admins");
            assert_eq!(config.identity.auditor_group, "sec-audit");
            assert_eq!(config.data_dir, PathBuf::from("./latch-data"));
            Ok(())
        });
    }

    #[test]
    fn debug_output_hides_secrets() {
        let config = LatchConfig {
            database_url: "postgres://latch:hunter2@db:5432/latch".into(),
            bootstrap_token: "latch_very_secret_bootstrap_token".into(),
            encryption_key: "c2VjcmV0".into(),
            ..LatchConfig::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2") && !printed.contains("very_secret") && !printed.contains("c2VjcmV0"));
        assert!(printed.contains("postgres://latch:<redacted>@db:5432/latch"));
    }

    #[test]
    fn a_misspelt_key_in_the_file_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("latch.toml", "[request]\nrepair_drfit = true\n")?;
            let error = LatchConfig::load(Some(Path::new("latch.toml"))).expect_err("typo must be refused");
            assert!(error.to_string().contains("repair_drfit"), "{error}");
            jail.create_file("top.toml", "databse_url = \"postgres://x\"\n")?;
            let error = LatchConfig::load(Some(Path::new("top.toml"))).expect_err("typo must be refused");
            assert!(error.to_string().contains("databse_url"), "{error}");
            jail.create_file("twice.toml", "data_dir = \"a\"\ndata_dir = \"b\"\n")?;
            assert!(LatchConfig::load(Some(Path::new("twice.toml"))).is_err());
            Ok(())
        });
    }

    #[test]
    fn environment_typos_inside_a_section_are_refused_and_other_tools_variables_ignored() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LATCH_SERVER", "http://127.0.0.1:7070");
            jail.set_env("LATCH_TEST_DATABASE_URL", "postgres://x");
            assert!(LatchConfig::load(None).is_ok());
            jail.set_env("LATCH_REQUEST__REPAIR_DRFT", "true");
            let error = LatchConfig::load(None).expect_err("typo must be refused");
            assert!(error.to_string().contains("repair_drft"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn numeric_settings_have_ranges() {
        assert!(LatchConfig::default().check().is_ok());
        let mut config = LatchConfig::default();
        config.request.poll_ms = 0;
        assert!(config.check().unwrap_err().starts_with("request.poll_ms"));
        let mut config = LatchConfig::default();
        config.catalog.sync_interval_secs = u64::MAX;
        assert!(config.check().unwrap_err().starts_with("catalog.sync_interval_secs"));
        let mut config = LatchConfig::default();
        config.telemetry.log_format = "xml".into();
        assert!(config.check().unwrap_err().starts_with("telemetry.log_format"));
    }

    #[test]
    fn webhooks_follow_the_endpoint_rule() {
        let settings = |url: &str| NotificationSettings {
            webhooks: vec![WebhookConfig {
                name: "hook".into(),
                url: url.into(),
                secret: "0123456789abcdef".into(),
                ..WebhookConfig::default()
            }],
            ..NotificationSettings::default()
        };
        assert_eq!(settings("https://hooks.example.com/x").check(), Ok(()));
        assert_eq!(settings("http://127.0.0.1:9/x").check(), Ok(()));
        for bad in ["http://127.0.0.1@hooks.example.com/x", "http://127.0.0.1.example.org/x"] {
            let rule = settings(bad).check().expect_err(bad);
            assert!(rule.starts_with("notifications.webhooks[0].url: "), "{rule}");
        }
    }

    #[test]
    fn a_bad_value_names_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LATCH_GRPC_ADDR", "not-an-address");
            let error = LatchConfig::load(None).expect_err("bad address must be refused");
            assert!(error.to_string().to_lowercase().contains("grpc_addr"), "{error}");
            Ok(())
        });
    }
}
