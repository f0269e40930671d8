//! `latch integrations update`: only the values given change; the etag guards against
//! overwriting a concurrent change.

use std::collections::HashMap;

use clap::{ArgGroup, Args};
use latch_proto::catalog::v1 as pb;

use super::integration_config::ConfigArgs;
use crate::principal::PrincipalArg;

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("changes")
        .required(true)
        .multiple(true)
        .args(["config", "secrets", "secret_stdin", "owner", "name"])
))]
pub struct UpdateArgs {
    #[arg(value_name = "ID_OR_NAME")]
    pub id: String,
    #[command(flatten)]
    pub values: ConfigArgs,
    /// The new owner
    #[arg(long, value_name = "USER|group:GROUP")]
    pub owner: Option<PrincipalArg>,
    /// A new unique name
    #[arg(long)]
    pub name: Option<String>,
}

/// `config` and `secrets` come from `args.values`, read by the caller (stdin may be involved).
pub fn build_request(
    args: &UpdateArgs,
    current: &pb::Integration,
    config: HashMap<String, String>,
    secrets: HashMap<String, String>,
) -> pb::UpdateIntegrationRequest {
    pb::UpdateIntegrationRequest {
        id: current.id.clone(),
        config,
        secrets,
        owner: args.owner.as_ref().map(PrincipalArg::to_proto),
        display_name: args.name.clone().unwrap_or_default(),
        etag: current.etag.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use latch_proto::catalog::v1::principal::Kind;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        update: UpdateArgs,
    }

    fn parse(args: &[&str]) -> Result<UpdateArgs, clap::Error> {
        Harness::try_parse_from(std::iter::once("update").chain(args.iter().copied())).map(|h| h.update)
    }

    fn current() -> pb::Integration {
        pb::Integration {
            id: "i-1".into(),
            display_name: "prod-pg".into(),
            etag: "\"3\"".into(),
            ..Default::default()
        }
    }

    #[test]
    fn nothing_to_change_is_a_usage_error() {
        assert_eq!(parse(&["prod-pg"]).unwrap_err().exit_code(), 2);
        assert!(parse(&["prod-pg", "--owner", "team:x"]).is_err());
    }

    #[test]
    fn request_carries_id_etag_and_only_the_changes() {
        let args = parse(&["prod-pg", "--config", "sslmode=", "--owner", "group:sre"]).unwrap();
        let config = args.values.config().unwrap();
        let request = build_request(&args, &current(), config, HashMap::new());
        assert_eq!(request.id, "i-1");
        assert_eq!(request.etag, "\"3\"");
        assert_eq!(request.config["sslmode"], "", "an empty value removes the key");
        assert!(request.secrets.is_empty());
        assert_eq!(request.display_name, "", "unchanged");
        let owner = request.owner.unwrap();
        assert_eq!((owner.kind, owner.id.as_str()), (Kind::Group as i32, "sre"));
    }

    #[test]
    fn a_rename_alone_is_a_change() {
        let args = parse(&["prod-pg", "--name", "main-pg"]).unwrap();
        let request = build_request(&args, &current(), HashMap::new(), HashMap::new());
        assert_eq!(request.display_name, "main-pg");
        assert!(request.owner.is_none());
    }
}
