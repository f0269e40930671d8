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
                &format!("db-{}/t-{i}", i % 100),
                "table",
                &format!("database:db-{}", i % 100),
                &[("env", env), ("team", team)],
            )
        })
        .collect()
}
