//! `latch users update`: a patch of only the flags given, with the matching FieldMask.

use clap::{ArgGroup, Args};
use latch_proto::identity::v1 as pb;
use prost_types::FieldMask;

use crate::key_value::{KeyValue, attributes};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("changes").required(true).multiple(true)))]
pub struct UpdateArgs {
    #[arg(value_name = "ID_OR_NAME")]
    pub id: String,
    #[arg(long, group = "changes")]
    pub user_name: Option<String>,
    #[arg(long, group = "changes")]
    pub email: Option<String>,
    #[arg(long, group = "changes")]
    pub display_name: Option<String>,
    #[arg(long, group = "changes", value_name = "true|false")]
    pub active: Option<bool>,
    /// Replaces every attribute; repeat for more keys or more values of one key
    #[arg(long = "attr", value_name = "KEY=VALUE", group = "changes")]
    pub attributes: Vec<KeyValue>,
    /// The new manager; "" removes the manager
    #[arg(long, value_name = "ID_OR_NAME", group = "changes")]
    pub manager: Option<String>,
    #[arg(long, group = "changes")]
    pub external_id: Option<String>,
}

/// The patch carries the current id and etag; the mask lists exactly the flags given, in the
/// order of the proto fields.
pub fn build_request(args: &UpdateArgs, current: &pb::User) -> pb::UpdateUserRequest {
    let mut user = pb::User {
        id: current.id.clone(),
        name: current.name.clone(),
        etag: current.etag.clone(),
        ..Default::default()
    };
    let mut paths = Vec::new();
    if let Some(user_name) = &args.user_name {
        user.user_name = user_name.clone();
        paths.push("user_name");
    }
    if let Some(email) = &args.email {
        user.email = email.clone();
        paths.push("email");
    }
    if let Some(display_name) = &args.display_name {
        user.display_name = display_name.clone();
        paths.push("display_name");
    }
    if let Some(active) = args.active {
        user.active = active;
        paths.push("active");
    }
    if !args.attributes.is_empty() {
        user.attributes = attributes(&args.attributes);
        paths.push("attributes");
    }
    if let Some(manager) = &args.manager {
        user.manager_id = manager.clone();
        paths.push("manager_id");
    }
    if let Some(external_id) = &args.external_id {
        user.external_id = external_id.clone();
        paths.push("external_id");
    }
    let update_mask = FieldMask {
        paths: paths.into_iter().map(str::to_string).collect(),
    };
    pb::UpdateUserRequest {
        user: Some(user),
        update_mask: Some(update_mask),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        update: UpdateArgs,
    }

    fn parse(args: &[&str]) -> Result<UpdateArgs, clap::Error> {
        Harness::try_parse_from(std::iter::once("update").chain(args.iter().copied())).map(|h| h.update)
    }

    fn current() -> pb::User {
        pb::User {
            id: "u1".into(),
            name: "users/u1".into(),
            user_name: "ada".into(),
            email: "ada@example.com".into(),
            active: true,
            etag: "\"7\"".into(),
            ..Default::default()
        }
    }

    fn mask_of(args: &[&str]) -> Vec<String> {
        let request = build_request(&parse(args).unwrap(), &current());
        request.update_mask.unwrap().paths
    }

    #[test]
    fn mask_lists_only_the_flags_given() {
        assert_eq!(mask_of(&["u1", "--email", "a@b.c"]), ["email"]);
        assert_eq!(
            mask_of(&["u1", "--display-name", "Ada", "--active", "false"]),
            ["display_name", "active"]
        );
        assert_eq!(
            mask_of(&["u1", "--attr", "team=a", "--attr", "team=b", "--manager", ""]),
            ["attributes", "manager_id"]
        );
    }

    #[test]
    fn patch_carries_id_etag_and_new_values_only() {
        let request = build_request(
            &parse(&["ada", "--active", "false", "--manager", ""]).unwrap(),
            &current(),
        );
        let user = request.user.unwrap();
        assert_eq!(user.id, "u1");
        assert_eq!(user.etag, "\"7\"");
        assert!(!user.active);
        assert_eq!(user.manager_id, "");
        // Fields outside the mask are left empty rather than echoing the current values.
        assert_eq!(user.email, "");
    }

    #[test]
    fn attributes_replace_as_a_whole() {
        let request = build_request(
            &parse(&["u1", "--attr", "team=a", "--attr", "team=b", "--attr", "title=SRE"]).unwrap(),
            &current(),
        );
        let attributes = request.user.unwrap().attributes;
        assert_eq!(attributes.len(), 2);
        assert_eq!(attributes[0].values, ["a", "b"]);
    }

    #[test]
    fn nothing_to_change_is_a_usage_error() {
        assert_eq!(parse(&["u1"]).unwrap_err().exit_code(), 2);
        assert_eq!(parse(&["u1", "--active", "maybe"]).unwrap_err().exit_code(), 2);
    }
}
