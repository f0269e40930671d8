//! Users and user references.

use std::collections::BTreeMap;

use latch_proto::identity::v1::{User, UserRef};
use serde::Serialize;

use super::{optional, role_names};
use crate::output::{details, render, table};
use crate::timestamp;

#[derive(Debug, Serialize)]
pub struct UserView {
    pub name: String,
    pub id: String,
    pub user_name: String,
    pub email: String,
    pub display_name: String,
    pub active: bool,
    pub attributes: BTreeMap<String, Vec<String>>,
    pub manager_id: Option<String>,
    pub external_id: Option<String>,
    pub roles: Vec<String>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
    pub etag: String,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for attribute in &user.attributes {
            attributes
                .entry(attribute.key.clone())
                .or_default()
                .extend(attribute.values.iter().cloned());
        }
        Self {
            name: user.name.clone(),
            id: user.id.clone(),
            user_name: user.user_name.clone(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            active: user.active,
            attributes,
            manager_id: optional(&user.manager_id),
            external_id: optional(&user.external_id),
            roles: role_names(&user.roles),
            create_time: timestamp::format_optional(user.create_time.as_ref()),
            update_time: timestamp::format_optional(user.update_time.as_ref()),
            etag: user.etag.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct UserRefView {
    pub id: String,
    pub user_name: String,
    pub display_name: String,
}

impl From<&UserRef> for UserRefView {
    fn from(user: &UserRef) -> Self {
        Self {
            id: user.id.clone(),
            user_name: user.user_name.clone(),
            display_name: user.display_name.clone(),
        }
    }
}

pub fn attributes_text(user: &User) -> String {
    user.attributes
        .iter()
        .map(|attribute| format!("{}={}", attribute.key, attribute.values.join(",")))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn details_rows(user: &User) -> Vec<(&'static str, String)> {
    vec![
        ("id", user.id.clone()),
        ("user name", user.user_name.clone()),
        ("display name", user.display_name.clone()),
        ("email", user.email.clone()),
        ("active", user.active.to_string()),
        ("roles", role_names(&user.roles).join(", ")),
        ("attributes", attributes_text(user)),
        ("manager id", user.manager_id.clone()),
        ("external id", user.external_id.clone()),
        ("created", timestamp::format(user.create_time.as_ref())),
        ("updated", timestamp::format(user.update_time.as_ref())),
        ("etag", user.etag.clone()),
    ]
}

pub fn user_details(user: &User) -> String {
    render(&details(details_rows(user)))
}

pub fn users_table(users: &[User]) -> String {
    let mut rows = table([
        "id",
        "user name",
        "display name",
        "email",
        "active",
        "roles",
        "manager id",
    ]);
    for user in users {
        rows.add_row(vec![
            user.id.clone(),
            user.user_name.clone(),
            user.display_name.clone(),
            user.email.clone(),
            user.active.to_string(),
            role_names(&user.roles).join(","),
            user.manager_id.clone(),
        ]);
    }
    render(&rows)
}

pub fn user_refs_table(users: &[UserRef]) -> String {
    let mut rows = table(["id", "user name", "display name"]);
    for user in users {
        rows.add_row(vec![user.id.clone(), user.user_name.clone(), user.display_name.clone()]);
    }
    render(&rows)
}

/// `ada (Ada Lovelace, u-123)`, for one-line mentions.
pub fn user_ref_text(user: &UserRef) -> String {
    match user.display_name.as_str() {
        "" => format!("{} ({})", user.user_name, user.id),
        display => format!("{} ({display}, {})", user.user_name, user.id),
    }
}
