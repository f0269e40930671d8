//! Flow evaluation at scale, in-process.
//!
//! 10,000 self-serve flows over 1,000,000 resources (50 integrations × 20,000 resources, three
//! permissions; each flow covers 100 resources of one integration and permission), 100,000 users
//! in 5,000 groups. Requestor conditions mix groups, departments and title prefixes with AND/OR;
//! 30% of flows have a weekday window in one of four time zones. Each query: a random user asks
//! for one random (integration, resource, permission) item. Measured: `FlowIndex::allows` alone
//! (subjects' facts are prepared beforehand, as the service keeps them; preparing is timed apart).
//! Budget: p99 ≤ 20 µs.
//!
//! Then Cedar on the same flows and queries: all 10,000 flows as 10,000 `permit` policies (the
//! translation of `cedar/translate.rs`, proven exact by `tests/cedar_differential.rs`), and
//! `Authorizer::is_authorized` timed alone (requests and entities built beforehand) on an even
//! sample of the queries — every 250th, 200 queries — because each authorization evaluates every
//! policy. Entities: only the requesters, grantees and items of those queries. Cedar's decision
//! must equal Latch's for every one of them. Printed: both engines' p50 and p99 on those queries
//! and their ratio.
//!
//! Run: `cargo bench -p latch-flow --bench evaluate`

#[path = "../cedar/translate.rs"]
mod translate;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hint::black_box;
use std::time::{Duration, Instant};

use cedar_policy::{Authorizer, Decision, Entities, Policy, PolicyId, PolicySet};
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
/// Queries Cedar decides, spread evenly over `QUERIES`: Cedar has no index over policies, so each
/// authorization evaluates every one of the 10,000 (about half a second each here); see
/// [`compare_with_cedar`].
const CEDAR_QUERIES: usize = 200;

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
    let mut decisions = Vec::with_capacity(QUERIES);
    for (requester, grantee, item) in &queries {
        let request = Request {
            requester: &users[*requester],
            grantee: &users[*grantee],
            items: std::slice::from_ref(item),
            duration: None,
            at,
        };
        let started = Instant::now();
        let decision = index.allows(&request, &prepared[*requester], &prepared[*grantee]);
        samples.push(started.elapsed());
        decisions.push(black_box(decision));
    }
    let allowed = decisions.iter().filter(|d| **d).count();
    // In query order, for comparing with Cedar on the same queries.
    let latch_in_order = samples.clone();
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
    compare_with_cedar(&index, &users, &queries, &decisions, &latch_in_order, at);
}

/// Every `QUERIES / CEDAR_QUERIES`-th query (`CEDAR_QUERIES` of them; override the count with
/// `LATCH_BENCH_CEDAR_QUERIES`) decided by Cedar's `Authorizer::is_authorized` over every flow as a
/// policy (`cedar/translate.rs`, the translation the differential test proves exact), timed like
/// `FlowIndex::allows` above: the inputs (Cedar's request with its context of local clocks, Latch's
/// prepared facts and request) are built before the clock starts, and only the call is timed.
/// Latch's side of the comparison is its samples of the same queries from the run above. Every
/// Cedar decision must equal Latch's, and Cedar must report no evaluation error.
fn compare_with_cedar(
    index: &FlowIndex,
    users: &[Facts],
    queries: &[(usize, usize, Item)],
    latch_decisions: &[bool],
    latch_in_order: &[Duration],
    at: chrono::DateTime<Utc>,
) {
    let count = std::env::var("LATCH_BENCH_CEDAR_QUERIES")
        .map(|n| n.parse().expect("LATCH_BENCH_CEDAR_QUERIES is a count"))
        .unwrap_or(CEDAR_QUERIES)
        .clamp(1, queries.len());
    let step = queries.len() / count;
    let picked: Vec<usize> = (0..count).map(|n| n * step).collect();
    let compared: Vec<&(usize, usize, Item)> = picked.iter().map(|n| &queries[*n]).collect();
    let shape = translate::Shape {
        named_keys: &["department", "title"],
        user_slots: 3,
        group_slots: users.iter().map(|u| 2 * u.groups.len()).max().unwrap_or(0),
        attribute_slots: 1,
    };

    let started = Instant::now();
    let policies = PolicySet::from_policies(index.flows().map(|flow| {
        let text = translate::policy(&shape, flow);
        Policy::parse(Some(PolicyId::new(&flow.id)), &text)
            .unwrap_or_else(|e| panic!("policy of {} does not parse: {e:?}\n{text}", flow.id))
    }))
    .expect("flow ids are distinct");
    let translated = started.elapsed();

    // Only the people and items the compared queries name: building all 100,000 users and
    // 1,000,000 items would only add lookups Cedar never makes.
    let started = Instant::now();
    let people: BTreeSet<usize> = compared.iter().flat_map(|(r, g, _)| [*r, *g]).collect();
    let item_id = |item: &Item| format!("{}/{}", item.integration_id, item.resource_id);
    let items: HashMap<String, &Item> = compared.iter().map(|(_, _, item)| (item_id(item), item)).collect();
    let entities = Entities::from_entities(
        people
            .iter()
            .map(|p| translate::user_entity(&shape, &users[*p]))
            .chain(items.iter().map(|(id, item)| translate::item_entity(id, item))),
        None,
    )
    .expect("entities are distinct");
    let requests: Vec<_> = compared
        .iter()
        .map(|(r, g, item)| translate::request(&users[*r], &users[*g], &item_id(item), item, at))
        .collect();
    let prepared = started.elapsed();

    let authorizer = Authorizer::new();
    let mut cedar = Vec::with_capacity(count);
    let mut responses = Vec::with_capacity(count);
    let cedar_started = Instant::now();
    for request in &requests {
        let started = Instant::now();
        let response = authorizer.is_authorized(request, &policies, &entities);
        cedar.push(started.elapsed());
        responses.push(black_box(response));
    }
    let cedar_total = cedar_started.elapsed();

    for ((response, (requester, grantee, item)), n) in responses.iter().zip(&compared).zip(&picked) {
        let latch = latch_decisions[*n];
        let errors: Vec<String> = response.diagnostics().errors().map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "query {n}: cedar errors {errors:?}");
        let allows = response.decision() == Decision::Allow;
        if allows != latch {
            let reasons: Vec<String> = response.diagnostics().reason().map(|id| id.to_string()).collect();
            panic!(
                "query {n}: cedar {} (policies {reasons:?}) but latch {}: requester {}, grantee {}, item {item:?}, at {at}",
                if allows { "allows" } else { "denies" },
                if latch { "allows" } else { "denies" },
                users[*requester].user_id,
                users[*grantee].user_id,
            );
        }
    }
    let allowed = picked.iter().filter(|n| latch_decisions[**n]).count();

    let percentile = |samples: &mut Vec<Duration>, p: f64| {
        samples.sort();
        samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)]
    };
    let mut latch: Vec<Duration> = picked.iter().map(|n| latch_in_order[*n]).collect();
    let (cedar_p50, cedar_p99) = (percentile(&mut cedar, 0.5), percentile(&mut cedar, 0.99));
    let (latch_p50, latch_p99) = (percentile(&mut latch, 0.5), percentile(&mut latch, 0.99));
    let ratio = |c: Duration, l: Duration| c.as_secs_f64() / l.as_secs_f64();
    println!(
        "cedar vs latch: {count} of the {} queries (every {step}th; {allowed} allowed, decisions identical), all {} \
         flows as {} policies; {} users and {} items as entities",
        queries.len(),
        index.len(),
        policies.policies().count(),
        people.len(),
        items.len()
    );
    println!(
        "  cedar: policies translated and parsed in {translated:.2?}, entities and requests built in {prepared:.2?}, \
         {count} authorizations in {cedar_total:.2?}"
    );
    println!(
        "cedar: p50 {cedar_p50:.2?}, p99 {cedar_p99:.2?}   latch: p50 {latch_p50:.2?}, p99 {latch_p99:.2?}   \
         ratio (cedar/latch) p50 {:.0}x, p99 {:.0}x",
        ratio(cedar_p50, latch_p50),
        ratio(cedar_p99, latch_p99)
    );
}
