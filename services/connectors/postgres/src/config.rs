//! The integration's config: parsed once per call into [`PostgresConfig`], so nothing past
//! this file handles raw strings.

use std::collections::BTreeSet;
use std::time::Duration;

use latch_connector_sdk::{Config, ConfigField, ConnectorError, NumberRange};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgSslMode};

pub const HOST: &str = "host";
pub const PORT: &str = "port";
pub const USER: &str = "user";
pub const PASSWORD: &str = "password";
pub const DATABASE: &str = "database";
pub const SSLMODE: &str = "sslmode";
pub const SSLROOTCERT: &str = "sslrootcert";
pub const DATABASES: &str = "databases";

const DEFAULT_PORT: u16 = 5432;
/// The only numeric setting; Describe states its range, so Latch checks it at create/update.
pub const PORT_RANGE: NumberRange = NumberRange::integer(1, 65_535);
const DEFAULT_DATABASE: &str = "postgres";
/// This build links no TLS library, so `prefer` would always end up in plaintext; saying
/// `disable` by default is the honest value.
const DEFAULT_SSLMODE: &str = "disable";

/// How long one connection attempt may take before the call reports the server unavailable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The fields Describe lists.
pub fn config_fields() -> Vec<ConfigField> {
    let field = |name: &str, description: &str, required: bool, secret: bool, default_value: &str| ConfigField {
        name: name.into(),
        description: description.into(),
        required,
        secret,
        default_value: default_value.into(),
        range: None,
    };
    vec![
        field(HOST, "host name or address of the postgresql server", true, false, ""),
        ConfigField {
            range: Some(PORT_RANGE),
            ..field(PORT, "tcp port of the server (1 to 65535)", false, false, "5432")
        },
        field(
            USER,
            "admin role the connector acts as: superuser, or CREATEROLE with grant rights on the managed objects \
             and membership in pg_signal_backend",
            true,
            false,
            "",
        ),
        field(PASSWORD, "password of the admin role", false, true, ""),
        field(
            DATABASE,
            "maintenance database the connector connects to for roles",
            false,
            false,
            DEFAULT_DATABASE,
        ),
        field(
            SSLMODE,
            "disable, allow, prefer, require (tls, the certificate unchecked), verify-ca (tls, the certificate \
             signed by sslrootcert) or verify-full (verify-ca, and the certificate names host)",
            false,
            false,
            DEFAULT_SSLMODE,
        ),
        field(
            SSLROOTCERT,
            "pem certificate(s) of the authority the server's certificate must chain to, for verify-ca and \
             verify-full; empty: the public web roots",
            false,
            false,
            "",
        ),
        field(
            DATABASES,
            "comma-separated databases to manage; empty manages every non-template database",
            false,
            false,
            "",
        ),
    ]
}

/// libpq's TLS modes, with libpq's meanings (TLS through rustls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    /// TLS or no connection; the certificate is not checked.
    Require,
    /// TLS with a certificate signed by the configured authority.
    VerifyCa,
    /// [`SslMode::VerifyCa`], and the certificate names the host connected to.
    VerifyFull,
}

impl SslMode {
    fn to_pg(self) -> PgSslMode {
        match self {
            Self::Disable => PgSslMode::Disable,
            Self::Allow => PgSslMode::Allow,
            Self::Prefer => PgSslMode::Prefer,
            Self::Require => PgSslMode::Require,
            Self::VerifyCa => PgSslMode::VerifyCa,
            Self::VerifyFull => PgSslMode::VerifyFull,
        }
    }
}

/// The most an `sslrootcert` may hold: a bundle of a few authorities.
const MAX_ROOT_CERT_BYTES: usize = 64 * 1024;

/// A config that has passed [`PostgresConfig::parse`]. Its `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    pub host: String,
    pub port: u16,
    pub user: String,
    password: Option<String>,
    pub maintenance_database: String,
    pub ssl_mode: SslMode,
    /// PEM; `None`: the public web roots.
    pub ssl_root_cert: Option<String>,
    /// `None`: every database that allows connections and is not a template.
    pub managed_databases: Option<BTreeSet<String>>,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("maintenance_database", &self.maintenance_database)
            .field("ssl_mode", &self.ssl_mode)
            .field("ssl_root_cert", &self.ssl_root_cert.as_ref().map(String::len))
            .field("managed_databases", &self.managed_databases)
            .finish()
    }
}

impl PostgresConfig {
    /// Every problem with `config`, one line each, or the parsed config.
    pub fn parse(config: &Config) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let text = |name: &str| config.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());

        let host = text(HOST).unwrap_or_default().to_string();
        if host.is_empty() {
            problems.push(format!("{HOST} is required"));
        }
        let user = text(USER).unwrap_or_default().to_string();
        if user.is_empty() {
            problems.push(format!("{USER} is required"));
        }
        let port = match text(PORT) {
            None => DEFAULT_PORT,
            // The value is not quoted back: it may be anything, of any length.
            Some(raw) => match PORT_RANGE.check_integer(raw).map(u16::try_from) {
                Ok(Ok(port)) => port,
                _ => {
                    problems.push(format!("{PORT} {}", PORT_RANGE.rule()));
                    DEFAULT_PORT
                }
            },
        };
        let ssl_mode = match text(SSLMODE).unwrap_or(DEFAULT_SSLMODE) {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => {
                // The value is not quoted back: it may be anything, of any length.
                problems.push(format!(
                    "{SSLMODE} must be disable, allow, prefer, require, verify-ca or verify-full"
                ));
                SslMode::Disable
            }
        };
        let ssl_root_cert = text(SSLROOTCERT).map(String::from);
        if let Some(pem) = &ssl_root_cert {
            if pem.len() > MAX_ROOT_CERT_BYTES {
                problems.push(format!("{SSLROOTCERT} must be at most {MAX_ROOT_CERT_BYTES} bytes"));
            } else if !pem.contains("-----BEGIN CERTIFICATE-----") {
                problems.push(format!(
                    "{SSLROOTCERT} must hold pem certificates (-----BEGIN CERTIFICATE-----)"
                ));
            }
            if !matches!(ssl_mode, SslMode::VerifyCa | SslMode::VerifyFull) {
                problems.push(format!(
                    "{SSLROOTCERT} is used only with {SSLMODE} verify-ca or verify-full"
                ));
            }
        }
        let managed_databases = text(DATABASES).map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(String::from)
                .collect::<BTreeSet<_>>()
        });
        if managed_databases.as_ref().is_some_and(BTreeSet::is_empty) {
            problems.push(format!("{DATABASES} names no database"));
        }

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self {
            host,
            port,
            user,
            // A password is kept verbatim: spaces may be part of it.
            password: config.get(PASSWORD).filter(|p| !p.is_empty()).cloned(),
            maintenance_database: text(DATABASE).unwrap_or(DEFAULT_DATABASE).to_string(),
            ssl_mode,
            ssl_root_cert,
            managed_databases,
        })
    }

    /// [`Self::parse`] for the calls that act: a broken config is a bad `config` field.
    pub fn from_config(config: &Config) -> Result<Self, ConnectorError> {
        Self::parse(config).map_err(|problems| ConnectorError::invalid("config", problems.join("; ")))
    }

    /// Whether this integration manages `database`.
    pub fn manages(&self, database: &str) -> bool {
        self.managed_databases
            .as_ref()
            .is_none_or(|databases| databases.contains(database))
    }

    /// Options for a connection as the admin role to `database`.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        let options = PgConnectOptions::new_without_pgpass()
            .host(&self.host)
            .port(self.port)
            .username(&self.user)
            .database(database)
            .ssl_mode(self.ssl_mode.to_pg())
            .application_name("latch-connector-postgres")
            // Statements carry password verifiers: sqlx must not log them.
            .disable_statement_logging();
        let options = match &self.ssl_root_cert {
            Some(pem) => options.ssl_root_cert_from_pem(pem.as_bytes().to_vec()),
            None => options,
        };
        match &self.password {
            Some(password) => options.password(password),
            None => options,
        }
    }

    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_fill_the_optional_fields() {
        let parsed = PostgresConfig::parse(&config(&[("host", "db.internal"), ("user", "latch")])).unwrap();
        assert_eq!(parsed.host, "db.internal");
        assert_eq!(parsed.port, 5432);
        assert_eq!(parsed.user, "latch");
        assert_eq!(parsed.password, None);
        assert_eq!(parsed.maintenance_database, "postgres");
        assert_eq!(parsed.ssl_mode, SslMode::Disable);
        assert_eq!(parsed.managed_databases, None);
        assert!(parsed.manages("anything"));
    }

    #[test]
    fn every_field_is_read() {
        let parsed = PostgresConfig::parse(&config(&[
            ("host", " 10.0.0.5 "),
            ("port", "6432"),
            ("user", "admin"),
            ("password", " s3cret "),
            ("database", "maint"),
            ("sslmode", "prefer"),
            ("databases", "app, billing,,"),
        ]))
        .unwrap();
        assert_eq!(parsed.host, "10.0.0.5");
        assert_eq!(parsed.port, 6432);
        assert_eq!(parsed.password.as_deref(), Some(" s3cret "));
        assert_eq!(parsed.maintenance_database, "maint");
        assert_eq!(parsed.ssl_mode, SslMode::Prefer);
        assert!(parsed.manages("app") && parsed.manages("billing"));
        assert!(!parsed.manages("postgres"));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let problems = PostgresConfig::parse(&config(&[("port", "99999"), ("sslmode", "sometimes")])).unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("host is required")));
        assert!(problems.iter().any(|p| p.contains("user is required")));
        assert!(problems.iter().any(|p| p.starts_with("port")));
        assert!(problems.iter().any(|p| p.starts_with("sslmode")));
    }

    #[test]
    fn the_port_is_checked_against_its_documented_range() {
        let port_field = config_fields().into_iter().find(|f| f.name == PORT).unwrap();
        assert_eq!(port_field.range, Some(PORT_RANGE));
        for bad in ["0", "65536", "1e3", "-1", "99999999999999999999", "5432.0"] {
            let problems = PostgresConfig::parse(&config(&[("host", "h"), ("user", "u"), ("port", bad)])).unwrap_err();
            assert_eq!(problems, ["port must be a whole number from 1 to 65535"], "{bad}");
        }
        let huge = "9".repeat(100_000);
        let problems = PostgresConfig::parse(&config(&[("host", "h"), ("user", "u"), ("port", &huge)])).unwrap_err();
        assert!(problems[0].len() < 100, "the value is not echoed");
    }

    #[test]
    fn tls_modes_parse_and_a_root_certificate_needs_a_verifying_mode() {
        for (raw, mode) in [
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            let parsed = PostgresConfig::parse(&config(&[("host", "h"), ("user", "u"), ("sslmode", raw)])).unwrap();
            assert_eq!(parsed.ssl_mode, mode);
        }
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let parsed = PostgresConfig::parse(&config(&[
            ("host", "h"),
            ("user", "u"),
            ("sslmode", "verify-full"),
            ("sslrootcert", pem),
        ]))
        .unwrap();
        assert_eq!(parsed.ssl_root_cert.as_deref(), Some(pem.trim()));
        let problems = PostgresConfig::parse(&config(&[
            ("host", "h"),
            ("user", "u"),
            ("sslmode", "require"),
            ("sslrootcert", "not a certificate"),
        ]))
        .unwrap_err();
        assert!(problems.iter().any(|p| p.contains("pem certificates")), "{problems:?}");
        assert!(
            problems.iter().any(|p| p.contains("verify-ca or verify-full")),
            "{problems:?}"
        );
        let huge = format!("-----BEGIN CERTIFICATE-----{}", "A".repeat(100_000));
        let problems = PostgresConfig::parse(&config(&[
            ("host", "h"),
            ("user", "u"),
            ("sslmode", "verify-ca"),
            ("sslrootcert", &huge),
        ]))
        .unwrap_err();
        assert!(problems[0].contains("at most"), "{problems:?}");
    }

    #[test]
    fn an_empty_database_list_is_a_problem() {
        let problems =
            PostgresConfig::parse(&config(&[("host", "h"), ("user", "u"), ("databases", " , ")])).unwrap_err();
        assert!(problems[0].contains("databases"), "{problems:?}");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let parsed = PostgresConfig::parse(&config(&[("host", "h"), ("user", "u"), ("password", "hunter2")])).unwrap();
        assert!(!format!("{parsed:?}").contains("hunter2"));
    }

    #[test]
    fn secret_fields_are_marked() {
        let secret: Vec<_> = config_fields()
            .into_iter()
            .filter(|f| f.secret)
            .map(|f| f.name)
            .collect();
        assert_eq!(secret, vec!["password".to_string()]);
    }
}
