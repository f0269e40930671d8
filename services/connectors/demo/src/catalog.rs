//! The demo system's resources: a small, fixed estate with production and staging tags, or a
//! generated one of any size for load tests.

use latch_connector_sdk::{Permission, Resource, ResourceType};

fn permission(name: &str, description: &str) -> Permission {
    Permission {
        name: name.into(),
        description: description.into(),
    }
}

pub fn resource_types() -> Vec<ResourceType> {
    vec![
        ResourceType {
            name: "database".into(),
            description: "A demo database".into(),
            permissions: vec![
                permission("read", "Read every table"),
                permission("write", "Read and change every table"),
                permission("admin", "Everything, including schema changes"),
            ],
        },
        ResourceType {
            name: "table".into(),
            description: "A table of a demo database".into(),
            permissions: vec![
                permission("read", "SELECT"),
                permission("write", "INSERT, UPDATE, DELETE"),
            ],
        },
        ResourceType {
            name: "bucket".into(),
            description: "A demo object store bucket".into(),
            permissions: vec![
                permission("read", "Get and list objects"),
                permission("write", "Put and delete objects"),
            ],
        },
    ]
}

fn resource(id: &str, kind: &str, parent: &str, tags: &[(&str, &str)]) -> Resource {
    let name = id.rsplit('/').next().unwrap_or(id).to_string();
    Resource {
        id: format!("{kind}:{id}"),
        name,
        path: id.into(),
        parent_id: parent.into(),
        resource_type: kind.into(),
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        owner_hint: String::new(),
    }
}

/// The fixed demo estate.
pub fn fixed() -> Vec<Resource> {
    let mut resources = Vec::new();
    for (env, team) in [("prod", "payments"), ("staging", "payments")] {
        let db = format!("orders-{env}");
        resources.push(resource(&db, "database", "", &[("env", env), ("team", team)]));
        for table in ["orders", "customers", "invoices"] {
            let pii = if table == "customers" { "true" } else { "false" };
            resources.push(resource(
                &format!("{db}/{table}"),
                "table",
                &format!("database:{db}"),
                &[("env", env), ("team", team), ("pii", pii)],
            ));
        }
    }
    resources.push(resource(
        "exports-prod",
        "bucket",
        "",
        &[("env", "prod"), ("team", "data")],
    ));
    resources.push(resource(
        "exports-staging",
        "bucket",
        "",
        &[("env", "staging"), ("team", "data")],
    ));
    resources
}

/// Databases the generated tables are spread over.
const GENERATED_DATABASES: usize = 100;

/// `count` generated tables spread over environments and teams (for load tests).
pub fn generated(count: usize) -> Vec<Resource> {
    const ENVS: [&str; 3] = ["prod", "staging", "dev"];
    const TEAMS: [&str; 8] = [
        "payments", "risk", "search", "data", "growth", "core", "infra", "mobile",
    ];
    (0..count)
        .map(|i| {
            let env = ENVS[i % ENVS.len()];
            let team = TEAMS[(i / 3) % TEAMS.len()];
            resource(
                &format!("db-{}/t-{i}", i % GENERATED_DATABASES),
                "table",
                &format!("database:db-{}", i % GENERATED_DATABASES),
                &[("env", env), ("team", team)],
            )
        })
        .collect()
}

/// Whether the estate holds a resource of this type and id, without building the estate: a
/// grant at load asks this of a generated estate of up to 100,000 tables.
pub fn exists(resource_count: Option<usize>, resource_type: &str, id: &str) -> bool {
    match resource_count {
        None => fixed().iter().any(|r| r.id == id && r.resource_type == resource_type),
        Some(count) => resource_type == "table" && generated_index(id).is_some_and(|i| i < count),
    }
}

/// `n` for the id of generated table `n` (`table:db-{n % 100}/t-{n}`), written exactly so.
fn generated_index(id: &str) -> Option<usize> {
    let (database, table) = id.strip_prefix("table:db-")?.split_once("/t-")?;
    let canonical = |digits: &str| {
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && (digits == "0" || !digits.starts_with('0'))
    };
    if !canonical(database) || !canonical(table) {
        return None;
    }
    let index: usize = table.parse().ok()?;
    (database.parse::<usize>().ok()? == index % GENERATED_DATABASES).then_some(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exists_agrees_with_the_estate_it_describes() {
        for count in [None, Some(0), Some(1), Some(250)] {
            let estate = match count {
                Some(count) => generated(count),
                None => fixed(),
            };
            for resource in &estate {
                assert!(exists(count, &resource.resource_type, &resource.id), "{resource:?}");
            }
            for (kind, id) in [
                ("table", "table:db-50/t-250"),
                ("table", "table:db-1/t-2"),
                ("table", "table:db-01/t-1"),
                ("table", "table:db-1/t-01"),
                ("table", "table:db-1/t-+1"),
                ("table", "table:db-+1/t-1"),
                ("table", "table:db-/t-"),
                ("table", "table:db-1/t-1/x"),
                ("database", "table:db-0/t-0"),
                ("table", "table:orders-prod/payments"),
                ("bucket", "table:orders-prod/orders"),
            ] {
                let listed = estate.iter().any(|r| r.id == id && r.resource_type == kind);
                assert_eq!(exists(count, kind, id), listed, "{count:?} {kind} {id}");
            }
        }
    }
}
