//! Spaces: the units that hold their own integrations, bundles and scopes, with their admins.

use latch_proto::catalog::v1::Space;
use serde::Serialize;

use super::{PrincipalView, principals_text};
use crate::output::{details, render, table};
use crate::timestamp;

#[derive(Debug, Serialize)]
pub struct SpaceView {
    pub name: String,
    pub id: String,
    pub display_name: String,
    pub admins: Vec<PrincipalView>,
    pub create_time: Option<String>,
}

impl From<&Space> for SpaceView {
    fn from(space: &Space) -> Self {
        Self {
            name: space.name.clone(),
            id: space.id.clone(),
            display_name: space.display_name.clone(),
            admins: space.admins.iter().map(PrincipalView::from).collect(),
            create_time: timestamp::format_optional(space.create_time.as_ref()),
        }
    }
}

pub fn spaces_table(spaces: &[Space]) -> String {
    let mut rows = table(["id", "name", "admins", "created"]);
    for space in spaces {
        rows.add_row(vec![
            space.id.clone(),
            space.display_name.clone(),
            principals_text(&space.admins),
            timestamp::format(space.create_time.as_ref()),
        ]);
    }
    render(&rows)
}

pub fn space_details(space: &Space) -> String {
    render(&details(vec![
        ("id", space.id.clone()),
        ("name", space.display_name.clone()),
        ("admins", principals_text(&space.admins)),
        ("created", timestamp::format(space.create_time.as_ref())),
    ]))
}
