//! What every command needs: the server, the token and the output format, resolved from the
//! command line, the environment and the stored login, in that order.

use std::path::PathBuf;

use crate::args::{DEFAULT_SERVER, GlobalArgs, OutputFormat};
use crate::client::{self, AuditClient, CatalogClient, FlowClient, IdentityClient, RequestClient};
use crate::credentials::{self, Credentials};
use crate::error::CliError;

pub struct Context {
    pub server: String,
    pub output: OutputFormat,
    pub config_dir: PathBuf,
    /// From --token or LATCH_TOKEN.
    pub explicit_token: Option<String>,
    pub stored: Option<Credentials>,
}

/// The token never appears in debug output.
impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("server", &self.server)
            .field("output", &self.output)
            .field("config_dir", &self.config_dir)
            .field("explicit_token", &self.explicit_token.as_ref().map(|_| "<redacted>"))
            .field("stored", &self.stored)
            .finish()
    }
}

impl Context {
    pub fn resolve(global: &GlobalArgs) -> Result<Self, CliError> {
        let config_dir = credentials::config_dir()?;
        let explicit_server = non_empty(global.server.as_deref());
        let explicit_token = non_empty(global.token.as_deref());
        // A stored login is only read when something is missing, so a broken credentials file
        // does not get in the way of --server and --token.
        let stored = if explicit_server.is_some() && explicit_token.is_some() {
            None
        } else {
            credentials::load_from(&config_dir)?
        };
        let server = explicit_server
            .or_else(|| stored.as_ref().map(|login| login.server.clone()))
            .unwrap_or_else(|| DEFAULT_SERVER.to_string());
        Ok(Self {
            server,
            output: global.output,
            config_dir,
            explicit_token,
            stored,
        })
    }

    /// The server as best known before `resolve` succeeds, for error messages.
    pub fn server_hint(global: &GlobalArgs) -> String {
        non_empty(global.server.as_deref()).unwrap_or_else(|| DEFAULT_SERVER.to_string())
    }

    pub fn token(&self) -> Result<&str, CliError> {
        self.explicit_token
            .as_deref()
            .or_else(|| {
                self.stored
                    .as_ref()
                    .map(|login| login.token.as_str())
                    .filter(|t| !t.trim().is_empty())
            })
            .ok_or(CliError::NoToken)
    }

    /// Fails with `NoToken` before touching the network when there is no token at all.
    pub async fn client(&self) -> Result<IdentityClient, CliError> {
        let token = self.token()?;
        client::connect(&self.server, token).await
    }

    /// The catalog client: same server, same token, same early `NoToken`.
    pub async fn catalog_client(&self) -> Result<CatalogClient, CliError> {
        let token = self.token()?;
        client::connect_catalog(&self.server, token).await
    }

    /// The flow client: same server, same token, same early `NoToken`.
    pub async fn flow_client(&self) -> Result<FlowClient, CliError> {
        let token = self.token()?;
        client::connect_flow(&self.server, token).await
    }

    /// The request client: same server, same token, same early `NoToken`.
    pub async fn request_client(&self) -> Result<RequestClient, CliError> {
        let token = self.token()?;
        client::connect_request(&self.server, token).await
    }

    /// The audit client: same server, same token, same early `NoToken`.
    pub async fn audit_client(&self) -> Result<AuditClient, CliError> {
        let token = self.token()?;
        client::connect_audit(&self.server, token).await
    }

    pub fn json(&self) -> bool {
        self.output == OutputFormat::Json
    }
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(explicit_token: Option<&str>, stored_token: Option<&str>) -> Context {
        Context {
            server: DEFAULT_SERVER.into(),
            output: OutputFormat::Table,
            config_dir: PathBuf::from("/nonexistent"),
            explicit_token: explicit_token.map(str::to_string),
            stored: stored_token.map(|token| Credentials {
                server: "http://stored:7070".into(),
                token: token.into(),
            }),
        }
    }

    #[test]
    fn explicit_token_wins_over_the_stored_login() {
        assert_eq!(context(Some("flag"), Some("stored")).token().unwrap(), "flag");
        assert_eq!(context(None, Some("stored")).token().unwrap(), "stored");
    }

    #[tokio::test]
    async fn no_token_fails_before_connecting() {
        assert!(matches!(context(None, None).token(), Err(CliError::NoToken)));
        assert!(matches!(
            context(None, Some("  ")).client().await,
            Err(CliError::NoToken)
        ));
        assert!(matches!(
            context(None, None).catalog_client().await,
            Err(CliError::NoToken)
        ));
        assert!(matches!(
            context(None, None).flow_client().await,
            Err(CliError::NoToken)
        ));
    }

    #[test]
    fn server_falls_back_to_the_default() {
        let global = GlobalArgs {
            server: Some(" ".into()),
            token: None,
            ca_file: None,
            output: OutputFormat::Json,
        };
        assert_eq!(Context::server_hint(&global), DEFAULT_SERVER);
    }
}
