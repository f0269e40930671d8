//! The query flags shared by `scopes create` and `scopes preview`.

use clap::Args;
use latch_proto::catalog::v1::AccessScopeQuery;

use crate::tag_selector::TagSelectorArg;

/// Arg ids, for the groups and conflicts of the commands that flatten this.
pub const QUERY_ARG_IDS: [&str; 5] = ["integrations", "types", "name_patterns", "include_tags", "exclude_tags"];

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Only this integration (id or name); repeat for more [default: every one]
    #[arg(long = "integration", value_name = "ID_OR_NAME")]
    pub integrations: Vec<String>,
    /// Only this resource type; repeat for more [default: every one]
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// A glob (`*`, `?`) over the resource name or path; repeat for more
    #[arg(long = "name-pattern", value_name = "GLOB")]
    pub name_patterns: Vec<String>,
    /// Only resources with this tag and any of the values (KEY alone: any value); every one must match
    #[arg(long = "include-tag", value_name = "KEY[=V1|V2]")]
    pub include_tags: Vec<TagSelectorArg>,
    /// Leave out resources with this tag (KEY alone: any value)
    #[arg(long = "exclude-tag", value_name = "KEY[=V1|V2]")]
    pub exclude_tags: Vec<TagSelectorArg>,
}

impl QueryArgs {
    pub fn to_proto(&self) -> AccessScopeQuery {
        AccessScopeQuery {
            integrations: self.integrations.clone(),
            resource_types: self.types.clone(),
            name_patterns: self.name_patterns.clone(),
            include_tags: self.include_tags.iter().map(TagSelectorArg::to_proto).collect(),
            exclude_tags: self.exclude_tags.iter().map(TagSelectorArg::to_proto).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        query: QueryArgs,
    }

    #[test]
    fn flags_become_the_query() {
        let harness = Harness::try_parse_from([
            "x",
            "--integration",
            "prod-pg",
            "--type",
            "table",
            "--name-pattern",
            "orders*",
            "--include-tag",
            "env=prod|staging",
            "--include-tag",
            "team",
            "--exclude-tag",
            "pii=yes",
        ])
        .unwrap();
        let query = harness.query.to_proto();
        assert_eq!(query.integrations, ["prod-pg"]);
        assert_eq!(query.resource_types, ["table"]);
        assert_eq!(query.name_patterns, ["orders*"]);
        assert_eq!(query.include_tags[0].values, ["prod", "staging"]);
        assert!(query.include_tags[1].values.is_empty());
        assert_eq!(query.exclude_tags[0].key, "pii");
    }

    #[test]
    fn bad_tag_selectors_are_usage_errors() {
        let error = Harness::try_parse_from(["x", "--include-tag", "env="]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(error.to_string().contains("KEY=VALUE1|VALUE2"), "{error}");
    }
}
