//! One concrete item on the command line: `INTEGRATION/RESOURCE_ID:PERMISSION`, as `flows
//! evaluate --item` and `flows explain --item` take it.
//!
//! Resource ids contain `:` and `/` themselves (`table:orders-prod/orders`), so the integration
//! ends at the FIRST `/` and the permission starts after the LAST `:`.

use std::fmt;
use std::str::FromStr;

use latch_proto::flow::v1::Item;

pub const ITEM_SYNTAX: &str = "INTEGRATION/RESOURCE_ID:PERMISSION";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemArg {
    pub integration: String,
    pub resource_id: String,
    pub permission: String,
}

impl ItemArg {
    pub fn to_proto(&self) -> Item {
        Item {
            integration: self.integration.clone(),
            resource_id: self.resource_id.clone(),
            permission: self.permission.clone(),
        }
    }
}

impl FromStr for ItemArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let invalid =
            |problem: &str| format!("{text:?} {problem}; expected {ITEM_SYNTAX}, e.g. demo/table:orders/orders:read");
        let (integration, rest) = text.split_once('/').ok_or_else(|| invalid("has no '/'"))?;
        let (resource_id, permission) = rest
            .rsplit_once(':')
            .ok_or_else(|| invalid("has no ':' after the '/'"))?;
        if integration.is_empty() {
            return Err(invalid("names no integration"));
        }
        if resource_id.is_empty() {
            return Err(invalid("names no resource id"));
        }
        if permission.is_empty() {
            return Err(invalid("names no permission"));
        }
        Ok(Self {
            integration: integration.to_string(),
            resource_id: resource_id.to_string(),
            permission: permission.to_string(),
        })
    }
}

impl fmt::Display for ItemArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.integration, self.resource_id, self.permission)
    }
}

/// An item from the server in the same syntax.
pub fn item_text(item: &Item) -> String {
    format!("{}/{}:{}", item.integration, item.resource_id, item.permission)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ItemArg, String> {
        text.parse()
    }

    #[test]
    fn splits_at_the_first_slash_and_the_last_colon() {
        let item = parse("demo/table:orders-prod/orders:read").unwrap();
        assert_eq!(item.integration, "demo");
        assert_eq!(item.resource_id, "table:orders-prod/orders");
        assert_eq!(item.permission, "read");
        assert_eq!(item.to_string(), "demo/table:orders-prod/orders:read");
    }

    #[test]
    fn simple_items_and_surrounding_blanks() {
        let item = parse(" prod-pg/db:connect ").unwrap();
        assert_eq!(
            item.to_proto(),
            Item {
                integration: "prod-pg".into(),
                resource_id: "db".into(),
                permission: "connect".into(),
            }
        );
        assert_eq!(item_text(&item.to_proto()), "prod-pg/db:connect");
    }

    #[test]
    fn a_colon_before_the_slash_belongs_to_the_integration_part() {
        // Only a colon after the first slash separates the permission.
        let error = parse("demo:x/orders").unwrap_err();
        assert!(error.contains("no ':' after the '/'"), "{error}");
    }

    #[test]
    fn rejects_missing_parts() {
        for (bad, problem) in [
            ("demo", "no '/'"),
            ("", "no '/'"),
            ("demo/orders", "no ':'"),
            ("/table:orders:read", "no integration"),
            ("demo/:read", "no resource id"),
            ("demo/table:orders:", "no permission"),
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains(problem), "{bad:?}: {error}");
            assert!(error.contains(ITEM_SYNTAX), "{error}");
        }
    }
}
