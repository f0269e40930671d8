//! Users and groups named as owners and space admins.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Principal {
    User(String),
    Group(String),
}

impl Principal {
    pub fn id(&self) -> &str {
        match self {
            Principal::User(id) | Principal::Group(id) => id,
        }
    }
}
