use chrono::Utc;
use proptest::prelude::*;

use super::*;
use crate::domain::target::Selection;

fn record(integration: &str, id: &str, kind: &str, tags: &[(&str, &str)], present: bool) -> ResourceRecord {
    ResourceRecord {
        integration_id: integration.into(),
        id: id.into(),
        name: id.rsplit('/').next().unwrap_or(id).into(),
        path: id.into(),
        parent_id: String::new(),
        resource_type: kind.into(),
        system_tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        admin_tags: Default::default(),
        owners: Vec::new(),
        owner_hint: String::new(),
        present,
        synced_at: Utc::now(),
    }
}

fn fixture() -> ResourceIndex {
    ResourceIndex::build(vec![
        record("pg", "db/orders", "table", &[("env", "prod"), ("pii", "false")], true),
        record("pg", "db/customers", "table", &[("env", "prod"), ("pii", "true")], true),
        record("pg", "db/scratch", "table", &[("env", "dev")], true),
        record("pg", "db/gone", "table", &[("env", "prod")], false),
        record("pg", "db", "database", &[("env", "prod")], true),
        record("s3", "exports", "bucket", &[("env", "prod")], true),
    ])
}

fn paths(index: &ResourceIndex, positions: &[u32]) -> Vec<String> {
    positions.iter().map(|p| index.record(*p).id.clone()).collect()
}

fn target(mode: SelectionMode, ids: &[&str], names: &[&str], tags: &[&str]) -> IntegrationTarget {
    IntegrationTarget {
        integration: "pg".into(),
        resource_type: "table".into(),
        permissions: vec!["read".into()],
        selection: Selection {
            mode,
            resource_ids: ids.iter().map(|s| s.to_string()).collect(),
            resource_names: names.iter().map(|s| s.to_string()).collect(),
            tags: tags.iter().map(|t| TagSelector::parse(t).unwrap()).collect(),
        },
    }
}

#[test]
fn any_include_and_exclude_select_present_resources_of_the_type() {
    let index = fixture();
    assert_eq!(
        paths(&index, &index.select(&target(SelectionMode::Any, &[], &[], &[]))),
        ["db/customers", "db/orders", "db/scratch"]
    );
    assert_eq!(
        paths(
            &index,
            &index.select(&target(
                SelectionMode::Include,
                &["db/gone"],
                &["ORDERS"],
                &["pii=true"]
            ))
        ),
        ["db/customers", "db/orders"],
        "missing resources are never selected; names are case-insensitive"
    );
    assert_eq!(
        paths(
            &index,
            &index.select(&target(SelectionMode::Exclude, &[], &[], &["env=prod"]))
        ),
        ["db/scratch"]
    );
}

#[test]
fn queries_combine_every_condition() {
    let index = fixture();
    let query = AccessScopeQuery {
        integrations: vec!["pg".into()],
        resource_types: vec![],
        name_patterns: vec!["*o*".into()],
        include_tags: vec![TagSelector::parse("env=prod").unwrap()],
        exclude_tags: vec![TagSelector::parse("pii=true").unwrap()],
    };
    assert_eq!(paths(&index, &index.query(&query)), ["db/orders"]);
    let everything = index.query(&AccessScopeQuery::default());
    assert_eq!(everything.len(), 5);
}

proptest! {
    /// The indexed selection equals a brute-force filter over every resource.
    #[test]
    fn indexed_selection_equals_brute_force(
        resources in prop::collection::vec((0u8..3, 0u8..3, 0u8..4, any::<bool>()), 0..60),
        mode in 0u8..3,
        tag in 0u8..4,
        name in 0u8..60,
    ) {
        let records: Vec<_> = resources.iter().enumerate().map(|(i, (kind, env, team, present))| {
            let env = ["prod", "staging", "dev"][*env as usize];
            let team = format!("t{team}");
            record("pg", &format!("r{i}"), ["table", "schema", "database"][*kind as usize], &[("env", env), ("team", &team)], *present)
        }).collect();
        let index = ResourceIndex::build(records.clone());
        let mode = [SelectionMode::Any, SelectionMode::Include, SelectionMode::Exclude][mode as usize];
        let selector = format!("team=t{tag}");
        let name = format!("r{name}");
        let t = target(mode, &[], &[&name], &[&selector]);
        let mut expected: Vec<String> = records.iter().filter(|r| {
            let chosen = r.name.eq_ignore_ascii_case(&name) || r.tags().get("team") == Some(&format!("t{tag}"));
            r.present && r.resource_type == "table" && match mode {
                SelectionMode::Any => true,
                SelectionMode::Include => chosen,
                SelectionMode::Exclude => !chosen,
            }
        }).map(|r| r.id.clone()).collect();
        expected.sort();
        let mut actual = paths(&index, &index.select(&t));
        actual.sort();
        prop_assert_eq!(actual, expected);
    }
}
