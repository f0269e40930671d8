//! Target resolution over 1,000,000 resources, in-process.
//!
//! Ten integrations of 100,000 tables each, tagged env (3 values), team (200 values) and tier
//! (5 values). Measured: a by-tags integration target (one team's tables of one integration,
//! about 500 resources) and an access scope (prod tables of one team across all integrations,
//! minus tier 2, about 1,700 resources). Budget: p99 ≤ 1 ms each.
//!
//! Run: `cargo bench -p latch-catalog --bench resolve_targets`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use latch_catalog::domain::index::ResourceIndex;
use latch_catalog::domain::records::ResourceRecord;
use latch_catalog::domain::tags::TagSelector;
use latch_catalog::domain::target::{AccessScopeQuery, IntegrationTarget, Selection, SelectionMode, Target};
use latch_catalog::service::{CatalogState, resolve};

const INTEGRATIONS: usize = 10;
const PER_INTEGRATION: usize = 100_000;
const TEAMS: usize = 200;
const ITERATIONS: usize = 2_000;

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    (at(0.5), at(0.99), samples[samples.len() - 1])
}

fn main() {
    let before = resident_kib();
    let started = Instant::now();
    let now = Utc::now();
    let mut records = Vec::with_capacity(INTEGRATIONS * PER_INTEGRATION);
    for integration in 0..INTEGRATIONS {
        for i in 0..PER_INTEGRATION {
            let mut tags = BTreeMap::new();
            tags.insert("env".to_string(), ["prod", "staging", "dev"][i % 3].to_string());
            tags.insert("team".to_string(), format!("team-{}", (i / 3) % TEAMS));
            tags.insert("tier".to_string(), (i % 5).to_string());
            records.push(ResourceRecord {
                integration_id: format!("int-{integration}"),
                id: format!("table:db-{}/public/t-{i}", i % 100),
                name: format!("t-{i}"),
                path: format!("db-{}/public/t-{i}", i % 100),
                parent_id: format!("schema:db-{}/public", i % 100),
                resource_type: "table".into(),
                system_tags: tags,
                admin_tags: BTreeMap::new(),
                owners: Vec::new(),
                owner_hint: String::new(),
                present: true,
                synced_at: now,
            });
        }
    }
    let index = ResourceIndex::build(records);
    let built = started.elapsed();
    let after = resident_kib();
    let description = table_connector();
    let mut state = CatalogState {
        index: Arc::new(index),
        ..CatalogState::default()
    };
    for integration in 0..INTEGRATIONS {
        let id = format!("int-{integration}");
        state.integrations.insert(
            id.clone(),
            serde_json::from_value(serde_json::json!({
                "id": id, "name": id, "connector": "demo", "endpoint": "", "config": {}, "secrets_set": [],
                "owner": null, "space": null,
                "status": { "state": "ok", "problems": [], "checked_at": null },
                "last_sync": { "synced_at": null, "resources": 0, "added": 0, "removed": 0, "error": "" },
                "created_at": now, "updated_at": now, "version": 1
            }))
            .expect("integration record"),
        );
        state.descriptions.insert(id, description.clone());
    }
    state.scopes.insert(
        "scope".into(),
        latch_catalog::domain::records::AccessScope {
            id: "scope".into(),
            name: "prod-team-7".into(),
            description: String::new(),
            space: None,
            query: AccessScopeQuery {
                integrations: vec![],
                resource_types: vec!["table".into()],
                name_patterns: vec![],
                include_tags: vec![
                    TagSelector::parse("team=team-7").unwrap(),
                    TagSelector::parse("env=prod").unwrap(),
                ],
                exclude_tags: vec![TagSelector::parse("tier=2").unwrap()],
            },
            created_at: now,
        },
    );

    let by_tags = vec![Target::Integration(IntegrationTarget {
        integration: "int-3".into(),
        resource_type: "table".into(),
        permissions: vec!["read".into()],
        selection: Selection {
            mode: SelectionMode::Include,
            resource_ids: vec![],
            resource_names: vec![],
            tags: vec![TagSelector::parse("team=team-42").unwrap()],
        },
    })];
    let by_scope = vec![Target::Scope {
        scope: "prod-team-7".into(),
        permissions: vec!["read".into()],
    }];

    for (label, targets) in [("by-tags target", &by_tags), ("access scope", &by_scope)] {
        let items = resolve(&state, targets, None).expect("resolves").len();
        let mut samples = Vec::with_capacity(ITERATIONS);
        for _ in 0..ITERATIONS {
            let started = Instant::now();
            let resolved = resolve(&state, targets, None);
            samples.push(started.elapsed());
            black_box(resolved.ok());
        }
        let (p50, p99, max) = percentiles(samples);
        println!(
            "{label}: {items} items over {} resources: p50 {p50:.2?}, p99 {p99:.2?}, max {max:.2?} ({ITERATIONS} runs; budget p99 <= 1ms: {})",
            INTEGRATIONS * PER_INTEGRATION,
            if p99 <= Duration::from_millis(1) {
                "met"
            } else {
                "MISSED"
            }
        );
    }
    println!(
        "index built in {built:.2?}; resident memory {} MiB ({} MiB for the index)",
        after / 1024,
        after.saturating_sub(before) / 1024
    );
}

/// What the integrations' connector says of itself: tables one may read.
fn table_connector() -> latch_connector_sdk::Description {
    latch_connector_sdk::Description {
        name: "demo".into(),
        version: "1".into(),
        resource_types: vec![latch_connector_sdk::ResourceType {
            name: "table".into(),
            description: "A table".into(),
            permissions: vec![latch_connector_sdk::Permission {
                name: "read".into(),
                description: "SELECT".into(),
            }],
        }],
        config_fields: Vec::new(),
    }
}
