//! `--config`, `--secret` and `--secret-stdin` of `integrations add` and `integrations update`.

use std::collections::HashMap;

use clap::Args;

use crate::error::CliError;
use crate::key_value::{KeyValue, to_map};
use crate::stdin_line;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// A config value; repeat for more (on update, KEY= removes the key)
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<KeyValue>,
    /// A secret config value; repeat for more. It lands in shell history: prefer --secret-stdin
    #[arg(long = "secret", value_name = "KEY=VALUE")]
    pub secrets: Vec<KeyValue>,
    /// Read the value of secret KEY from one line on stdin
    #[arg(long, value_name = "KEY")]
    pub secret_stdin: Option<String>,
}

impl ConfigArgs {
    pub fn config(&self) -> Result<HashMap<String, String>, CliError> {
        to_map(&self.config).map_err(|error| CliError::Usage(format!("--config: {error}")))
    }

    /// Reads stdin only for --secret-stdin, and only after the other flags are known to be fine.
    pub fn secrets(&self) -> Result<HashMap<String, String>, CliError> {
        let secrets = to_map(&self.secrets).map_err(|error| CliError::Usage(format!("--secret: {error}")))?;
        let Some(key) = &self.secret_stdin else {
            return Ok(secrets);
        };
        let key = key.trim();
        check_stdin_key(&secrets, key)?;
        let value = stdin_line::read(&format!("value of secret {key}"), &format!("secret {key:?}"))?;
        with_stdin_secret(secrets, key, value)
    }
}

fn check_stdin_key(secrets: &HashMap<String, String>, key: &str) -> Result<(), CliError> {
    if key.is_empty() {
        return Err(CliError::Usage("--secret-stdin needs the name of the secret".into()));
    }
    if secrets.contains_key(key) {
        return Err(CliError::Usage(format!(
            "secret {key:?} is given both with --secret and --secret-stdin"
        )));
    }
    Ok(())
}

/// An empty line is refused: it is far more likely a closed stdin than a wish to remove the
/// secret (`--secret KEY=` says that).
fn with_stdin_secret(
    mut secrets: HashMap<String, String>,
    key: &str,
    value: String,
) -> Result<HashMap<String, String>, CliError> {
    check_stdin_key(&secrets, key)?;
    if value.is_empty() {
        return Err(CliError::Usage(format!("no value for secret {key:?} on stdin")));
    }
    secrets.insert(key.to_string(), value);
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        values: ConfigArgs,
    }

    fn parse(args: &[&str]) -> ConfigArgs {
        Harness::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .unwrap()
            .values
    }

    #[test]
    fn config_and_secrets_become_maps() {
        let args = parse(&[
            "--config",
            "host=db.internal",
            "--config",
            "port=5432",
            "--secret",
            "password=hunter2",
        ]);
        let config = args.config().unwrap();
        assert_eq!(config["host"], "db.internal");
        assert_eq!(config["port"], "5432");
        assert_eq!(args.secrets().unwrap()["password"], "hunter2");
    }

    #[test]
    fn a_key_given_twice_is_a_usage_error() {
        let args = parse(&["--config", "host=a", "--config", "host=b"]);
        assert!(matches!(args.config(), Err(CliError::Usage(message)) if message.contains("host")));
        let args = parse(&["--secret", "password=a", "--secret", "password=b"]);
        assert!(matches!(args.secrets(), Err(CliError::Usage(_))));
    }

    #[test]
    fn malformed_pairs_are_rejected_by_clap() {
        let error = Harness::try_parse_from(["x", "--config", "host"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
    }

    #[test]
    fn the_stdin_secret_joins_the_others() {
        let secrets = HashMap::from([("api_key".to_string(), "k".to_string())]);
        let merged = with_stdin_secret(secrets.clone(), "password", "p w ".into()).unwrap();
        assert_eq!(merged["password"], "p w ");
        assert_eq!(merged["api_key"], "k");
        assert!(with_stdin_secret(secrets.clone(), "api_key", "x".into()).is_err());
        assert!(with_stdin_secret(secrets.clone(), "password", String::new()).is_err());
        assert!(with_stdin_secret(secrets, "", "x".into()).is_err());
    }
}
