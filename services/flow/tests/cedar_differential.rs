//! Proof of exactness: the flow evaluator against Cedar.
//!
//! Generated directories and flows are translated into Cedar policies, one `permit` per flow that
//! holds when everything the flow demands holds, and both engines decide the same generated
//! requests (requester, grantee, item, instant). Any disagreement fails with the seed, the flow,
//! its policy, both people's facts and the instant.
//!
//! The translation (people, items, requests and one policy per flow) lives in
//! `cedar/translate.rs`, whose module docs give its rules; the evaluation bench times Cedar on the
//! same translation. Here every subject record has `MAX_SLOTS` slots, and the zones of the
//! generated windows are the translation's `ZONES`.
//!
//! Durations are not modelled: every request has `duration: None` and no flow requires one.
//!
//! Reproduce one world with `LATCH_CEDAR_SEED=<seed printed on failure>`.

#[path = "../cedar/translate.rs"]
mod translate;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Instant;

use cedar_policy::{Authorizer, Decision, Entities, Policy, PolicyId, PolicySet, Request as CedarRequest};
use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use latch_flow::domain::conditions::{Attribute, Combine, Condition, Conditions, Facts, Operator};
use latch_flow::domain::evaluate::{CompiledFlow, Item, Request, evaluate};
use latch_flow::domain::model::{Approval, FlowKind, FlowSpec, ForWhom, GrantFor, Settings, WhenSpec};
use latch_flow::domain::window::When;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

const BASE_SEED: u64 = 0x1a7c_ced4_0000;
const WORLDS: u64 = 20;
const FLOWS_PER_WORLD: usize = 20;
const QUERIES_PER_FLOW: usize = 500;
/// Every n-th query is also decided against the whole world's policy set.
const WHOLE_SET_EVERY: usize = 4;
/// Slots per subject record; a subject never has more values (asserted).
const MAX_SLOTS: usize = 12;
const GROUPS_PER_WORLD: usize = 6;

/// Identity attribute keys flows may name; nobody has a `location`.
const NAMED_KEYS: [&str; 4] = ["department", "title", "skills", "location"];
const DEPARTMENTS: [&str; 5] = ["Engineering", "Finance", "Sales", "eng-ops", "Data Eng"];
const TITLES: [&str; 5] = ["Staff Engineer", "SRE", "Analyst", "", "Director"];
const SKILLS: [&str; 7] = ["rust", "Go", "golang", "SQL", "rust-async", "k8s", "Zürich"];
const LOCATIONS: [&str; 2] = ["Berlin", "NYC"];
const USER_NAMES: [&str; 14] = [
    "ada", "bob", "Cleo", "dan", "eve", "Fay", "gus", "hal", "ivy", "jo", "kim", "lee", "Émile", "ned",
];
const GROUP_NAMES: [&str; 8] = [
    "SRE",
    "Engineering",
    "eng-oncall",
    "Finance",
    "Sales",
    "Admins",
    "data-eng",
    "ops",
];
const INTEGRATIONS: [&str; 3] = ["pg", "aws", "gh"];
const RESOURCES: [&str; 4] = ["orders", "billing", "logs", "users"];
const PERMISSIONS: [&str; 3] = ["read", "write", "admin"];
const DAY_NAMES: [(&str, &str); 7] = [
    ("mon", "monday"),
    ("tue", "tuesday"),
    ("wed", "wednesday"),
    ("thu", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
    ("sun", "sunday"),
];
/// Instants of daylight-saving changes in the zones above, to draw instants around.
const DST_CHANGES: [&str; 8] = [
    "2026-03-29T01:00:00Z",
    "2026-10-25T01:00:00Z",
    "2026-03-08T07:00:00Z",
    "2026-11-01T06:00:00Z",
    "2026-04-04T15:00:00Z",
    "2026-10-03T15:30:00Z",
    "2026-04-04T14:00:00Z",
    "2026-09-26T14:00:00Z",
];

#[test]
fn latch_and_cedar_decide_every_generated_request_alike() {
    let started = Instant::now();
    let seeds: Vec<u64> = match std::env::var("LATCH_CEDAR_SEED") {
        Ok(seed) => vec![seed.parse().expect("LATCH_CEDAR_SEED is a u64")],
        Err(_) => (0..WORLDS).map(|w| BASE_SEED + w).collect(),
    };
    let mut tally = Tally::default();
    for seed in seeds {
        check_world(seed, &mut tally);
    }
    println!("{tally:#?}\nin {:.1?}", started.elapsed());
    tally.assert_healthy();
}

// ---------------------------------------------------------------------------------------------
// The world: a directory, an item pool and flows over them.

struct World {
    seed: u64,
    people: Vec<Facts>,
    items: Vec<Item>,
    flows: Vec<CompiledFlow>,
}

fn generate_world(seed: u64) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let people = generate_directory(&mut rng);
    let items: Vec<Item> = INTEGRATIONS
        .iter()
        .flat_map(|i| {
            RESOURCES
                .iter()
                .flat_map(move |r| PERMISSIONS.iter().map(move |p| (i, r, p)))
        })
        .map(|(i, r, p)| Item {
            integration_id: i.to_string(),
            resource_id: r.to_string(),
            permission: p.to_string(),
        })
        .collect();
    let flows = (0..FLOWS_PER_WORLD)
        .map(|index| generate_flow(&mut rng, index, &people, &items))
        .collect();
    World {
        seed,
        people,
        items,
        flows,
    }
}

fn generate_directory(rng: &mut StdRng) -> Vec<Facts> {
    let mut group_names = GROUP_NAMES.to_vec();
    group_names.shuffle(rng);
    let groups: Vec<(String, String)> = (0..GROUPS_PER_WORLD)
        .map(|i| (format!("g{i}"), group_names[i].to_string()))
        .collect();
    // Nesting without cycles: a group's parent comes before it.
    let parent: Vec<Option<usize>> = (0..GROUPS_PER_WORLD)
        .map(|i| (i > 0 && rng.random_bool(0.5)).then(|| rng.random_range(0..i)))
        .collect();

    let mut names = USER_NAMES.to_vec();
    names.shuffle(rng);
    let count = rng.random_range(8..=12);
    let mut people: Vec<Facts> = Vec::with_capacity(count);
    for (index, name) in names.into_iter().take(count).enumerate() {
        let mut transitive = BTreeSet::new();
        for _ in 0..rng.random_range(0..=2) {
            let mut group = Some(rng.random_range(0..GROUPS_PER_WORLD));
            while let Some(g) = group {
                transitive.insert(g);
                group = parent[g];
            }
        }
        let mut attributes = std::collections::BTreeMap::new();
        if rng.random_bool(0.9) {
            attributes.insert("department".to_string(), vec![pick(rng, &DEPARTMENTS)]);
        }
        if rng.random_bool(0.7) {
            attributes.insert("title".to_string(), vec![pick(rng, &TITLES)]);
        }
        let skills: Vec<String> = (0..rng.random_range(0..=3)).map(|_| pick(rng, &SKILLS)).collect();
        if !skills.is_empty() || rng.random_bool(0.5) {
            attributes.insert("skills".to_string(), skills);
        }
        let email = match rng.random_range(0..4) {
            0 => String::new(),
            1 => format!("{}@Corp.io", name.to_uppercase()),
            _ => format!("{name}@example.com"),
        };
        people.push(Facts {
            user_id: format!("u{index:02}"),
            user_name: if rng.random_bool(0.05) {
                String::new()
            } else {
                name.to_string()
            },
            email,
            groups: transitive.into_iter().map(|g| groups[g].clone()).collect(),
            attributes,
            manager_id: (index > 0 && rng.random_bool(0.8)).then(|| format!("u{:02}", rng.random_range(0..index))),
        });
    }
    people
}

fn generate_flow(rng: &mut StdRng, index: usize, people: &[Facts], items: &[Item]) -> CompiledFlow {
    let (when_spec, when) = generate_when(rng);
    let others = rng.random_bool(0.5).then(|| generate_conditions(rng, people));
    let item_count = if rng.random_bool(0.02) {
        0
    } else {
        rng.random_range(1..=6)
    };
    let spec = FlowSpec {
        name: format!("flow-{index}"),
        kind: if rng.random_bool(0.05) {
            FlowKind::Automatic
        } else {
            FlowKind::SelfServe
        },
        space: None,
        active: rng.random_bool(0.92),
        labels: vec![],
        requestors: generate_conditions(rng, people),
        when: when_spec,
        for_whom: ForWhom {
            themselves: rng.random_bool(0.75),
            direct_reports: rng.random_bool(0.5),
            others,
        },
        targets: vec![],
        grant_for: if rng.random_bool(0.5) {
            GrantFor::Indefinite
        } else {
            GrantFor::default()
        },
        approval: Approval::Automatic,
        settings: Settings::default(),
    }
    .normalized();
    debug_assert!(
        !spec.settings.require_duration,
        "durations are not part of the cedar model"
    );
    CompiledFlow {
        id: format!("f{index}"),
        spec,
        when,
        items: items.choose_multiple(rng, item_count).cloned().collect(),
    }
}

fn generate_conditions(rng: &mut StdRng, people: &[Facts]) -> Conditions {
    let row_count = match rng.random_range(0..100) {
        0..2 => 0,
        2..50 => 1,
        50..85 => 2,
        _ => 3,
    };
    Conditions {
        combine: if rng.random_bool(0.6) {
            Combine::And
        } else {
            Combine::Or
        },
        rows: (0..row_count).map(|_| generate_row(rng, people)).collect(),
    }
}

fn generate_row(rng: &mut StdRng, people: &[Facts]) -> Condition {
    let attribute = match rng.random_range(0..10) {
        0..2 => Attribute::User,
        2..5 => Attribute::Group,
        _ => Attribute::Named(NAMED_KEYS.choose(rng).unwrap().to_string()),
    };
    let operator = *[
        Operator::Is,
        Operator::IsNot,
        Operator::Contains,
        Operator::DoesNotContain,
        Operator::StartsWith,
    ]
    .choose(rng)
    .unwrap();
    let candidates: Vec<String> = match &attribute {
        Attribute::User => people
            .iter()
            .flat_map(|p| [p.user_id.clone(), p.user_name.clone(), p.email.clone()])
            .collect(),
        Attribute::Group => people
            .iter()
            .flat_map(|p| p.groups.iter().flat_map(|(id, name)| [id.clone(), name.clone()]))
            .chain(["g9".to_string()])
            .collect(),
        Attribute::Named(key) => match key.as_str() {
            "department" => DEPARTMENTS.map(String::from).to_vec(),
            "title" => TITLES.map(String::from).to_vec(),
            "skills" => SKILLS.map(String::from).to_vec(),
            _ => LOCATIONS.map(String::from).to_vec(),
        },
    };
    let values = (0..rng.random_range(1..=3))
        .map(|_| row_value(rng, operator, &candidates))
        .collect();
    Condition {
        attribute,
        operator,
        values,
    }
}

/// A value likely to match sometimes: a candidate (or a piece of one for `contains` and
/// `starts_with`) in random case, or a short random word.
fn row_value(rng: &mut StdRng, operator: Operator, candidates: &[String]) -> String {
    let base: Vec<char> = if rng.random_bool(0.2) || candidates.is_empty() {
        let alphabet: Vec<char> = "abegilnorstu-.@é".chars().collect();
        (0..rng.random_range(1..=3))
            .map(|_| *alphabet.choose(rng).unwrap())
            .collect()
    } else {
        candidates.choose(rng).unwrap().chars().collect()
    };
    let piece: String = match operator {
        Operator::Is | Operator::IsNot => base.into_iter().collect(),
        Operator::Contains | Operator::DoesNotContain if !base.is_empty() => {
            let start = rng.random_range(0..base.len());
            let end = rng.random_range(start + 1..=base.len());
            base[start..end].iter().collect()
        }
        Operator::StartsWith if !base.is_empty() => base[..rng.random_range(1..=base.len())].iter().collect(),
        _ => String::new(),
    };
    vary_case(rng, &piece)
}

fn generate_when(rng: &mut StdRng) -> (WhenSpec, When) {
    if rng.random_bool(0.3) {
        return (WhenSpec::Always, When::Always);
    }
    let time_zone = *translate::ZONES.choose(rng).unwrap();
    if rng.random_bool(0.04) {
        // Empty windows can only be built directly: no days, or start == end.
        let minute = NaiveTime::from_hms_opt(rng.random_range(0..24), 0, 0).unwrap();
        let (days, end) = if rng.random_bool(0.5) {
            (vec![], minute + TimeDelta::minutes(90))
        } else {
            (vec![Weekday::Mon, Weekday::Wed, Weekday::Sat], minute)
        };
        let spec = WhenSpec::Only {
            days: days.iter().map(|d| d.to_string()).collect(),
            start: hhmm(minute),
            end: hhmm(end),
            time_zone: time_zone.name().to_string(),
        };
        let when = When::Only {
            days,
            start: minute,
            end,
            time_zone,
        };
        return (spec, when);
    }
    let mut days: Vec<String> = Vec::new();
    for (short, long) in DAY_NAMES {
        if rng.random_bool(0.55) {
            let spelling = if rng.random_bool(0.5) { short } else { long };
            days.push(vary_case(rng, spelling));
        }
    }
    let days = if days.is_empty() { vec!["Fri".to_string()] } else { days };
    let minute = |rng: &mut StdRng| -> u32 {
        match rng.random_range(0..4) {
            0 => rng.random_range(0..48) * 30,
            1 => rng.random_range(0..24) * 60,
            _ => rng.random_range(0..1440),
        }
    };
    let (mut start, mut end) = (minute(rng), minute(rng));
    if rng.random_bool(0.15) {
        end = 0; // "until midnight"
    }
    if start == end {
        start = (start + 1 + rng.random_range(0..1438)) % 1440;
    }
    let (start, end) = (minute_time(start), minute_time(end));
    let spec = WhenSpec::Only {
        days: days.clone(),
        start: hhmm(start),
        end: hhmm(end),
        time_zone: time_zone.name().to_string(),
    };
    let when = When::parse(&days, &hhmm(start), &hhmm(end), time_zone.name())
        .unwrap_or_else(|errors| panic!("generated window {spec:?} refused: {errors:?}"));
    (spec, when)
}

// ---------------------------------------------------------------------------------------------
// Queries.

struct Query<'w> {
    requester: &'w Facts,
    grantee: &'w Facts,
    item: &'w Item,
    at: DateTime<Utc>,
}

/// A request aimed at `flow`: often a requester its conditions admit (by Latch's reading, which
/// only skews the draw; the verdict is Cedar's), an item it covers and an instant at the edge of
/// its window.
fn generate_query<'w>(rng: &mut StdRng, world: &'w World, flow: &'w CompiledFlow) -> Query<'w> {
    let admitted: Vec<&Facts> = world.people.iter().filter(|p| flow.spec.requestors.holds(p)).collect();
    let requester = match admitted.choose(rng) {
        Some(person) if rng.random_bool(0.6) => *person,
        _ => world.people.choose(rng).unwrap(),
    };
    let reports: Vec<&Facts> = world
        .people
        .iter()
        .filter(|p| p.manager_id.as_deref() == Some(requester.user_id.as_str()))
        .collect();
    let grantee = match rng.random_range(0..100) {
        0..45 => requester,
        45..70 if !reports.is_empty() => reports.choose(rng).unwrap(),
        _ => world.people.choose(rng).unwrap(),
    };
    let flow_items: Vec<&Item> = flow.items.iter().collect();
    let item = match flow_items.choose(rng) {
        Some(item) if rng.random_bool(0.8) => *item,
        _ => world.items.choose(rng).unwrap(),
    };
    Query {
        requester,
        grantee,
        item,
        at: generate_instant(rng, &flow.when),
    }
}

fn generate_instant(rng: &mut StdRng, when: &When) -> DateTime<Utc> {
    let uniform = |rng: &mut StdRng| {
        let from = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        from + TimeDelta::seconds(rng.random_range(0..5 * 365 * 86_400))
    };
    let roll = rng.random_range(0..100);
    if roll < 30 {
        return uniform(rng);
    }
    if roll < 45 {
        let change: DateTime<Utc> = DST_CHANGES.choose(rng).unwrap().parse().unwrap();
        return change + TimeDelta::seconds(rng.random_range(-4 * 3600..=4 * 3600));
    }
    let When::Only {
        days,
        start,
        end,
        time_zone,
    } = when
    else {
        return uniform(rng);
    };
    // A local date on a listed day (the day after, for the end of a window crossing midnight),
    // then a wall-clock time on or near an edge of the window, or inside it.
    let mut date = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + TimeDelta::days(rng.random_range(0..5 * 365));
    if let Some(day) = days.choose(rng) {
        while date.weekday() != *day {
            date = date.succ_opt().unwrap();
        }
    }
    let crossing = end < start;
    let local = match rng.random_range(0..3) {
        0 => date.and_time(*start),
        1 if crossing => date.succ_opt().unwrap().and_time(*end),
        1 => date.and_time(*end),
        _ => date.and_time(*start) + TimeDelta::minutes(rng.random_range(0..1440)),
    };
    let nudge = *[-3600, -60, -1, 0, 0, 0, 1, 59, 60, 3600].choose(rng).unwrap();
    let local = local + TimeDelta::seconds(nudge);
    match time_zone.from_local_datetime(&local) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(first, second) => {
            let chosen = if rng.random_bool(0.5) { first } else { second };
            chosen.with_timezone(&Utc)
        }
        LocalResult::None => uniform(rng),
    }
}

// ---------------------------------------------------------------------------------------------
// Translation to Cedar (the rules live in `cedar/translate.rs`).

/// Every person has at most this many values per subject, so each record has this many slots.
const SHAPE: translate::Shape<'static> = translate::Shape {
    named_keys: &NAMED_KEYS,
    user_slots: MAX_SLOTS,
    group_slots: MAX_SLOTS,
    attribute_slots: MAX_SLOTS,
};

fn cedar_policy(flow: &CompiledFlow) -> String {
    translate::policy(&SHAPE, flow)
}

/// Every person as a `User` and every item as an `Item` (named by its index in the pool).
fn cedar_entities(world: &World) -> Entities {
    let people = world.people.iter().map(|person| translate::user_entity(&SHAPE, person));
    let items = world
        .items
        .iter()
        .enumerate()
        .map(|(index, item)| translate::item_entity(&index.to_string(), item));
    Entities::from_entities(people.chain(items), None).unwrap()
}

fn cedar_request(world: &World, query: &Query<'_>) -> CedarRequest {
    let item_index = world.items.iter().position(|i| i == query.item).unwrap();
    translate::request(
        query.requester,
        query.grantee,
        &item_index.to_string(),
        query.item,
        query.at,
    )
}

// ---------------------------------------------------------------------------------------------
// The check.

fn check_world(seed: u64, tally: &mut Tally) {
    let world = generate_world(seed);
    let entities = cedar_entities(&world);
    let authorizer = Authorizer::new();
    let texts: Vec<String> = world.flows.iter().map(cedar_policy).collect();
    let policies: Vec<Policy> = world
        .flows
        .iter()
        .zip(&texts)
        .map(|(flow, text)| {
            Policy::parse(Some(PolicyId::new(&flow.id)), text)
                .unwrap_or_else(|e| panic!("seed {seed}: policy of {} does not parse: {e:?}\n{text}", flow.id))
        })
        .collect();
    let single: Vec<PolicySet> = policies
        .iter()
        .map(|p| PolicySet::from_policies([p.clone()]).unwrap())
        .collect();
    let whole = PolicySet::from_policies(policies.iter().cloned()).unwrap();

    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_0f9e_5e5e);
    for (index, flow) in world.flows.iter().enumerate() {
        for n in 0..QUERIES_PER_FLOW {
            let query = generate_query(&mut rng, &world, flow);
            let request = cedar_request(&world, &query);
            let latch = latch_allows(flow, &query);
            let response = authorizer.is_authorized(&request, &single[index], &entities);
            assert_no_cedar_errors(seed, &response, &texts[index]);
            let cedar = response.decision() == Decision::Allow;
            if latch != cedar {
                panic!("{}", mismatch(&world, flow, &texts[index], &query, latch, cedar));
            }
            tally.record(flow, &query, latch);

            if n % WHOLE_SET_EVERY == 0 {
                check_whole_set(&world, &whole, &entities, &query, &request, &texts);
                tally.whole_set_queries += 1;
            }
        }
    }
}

fn latch_allows(flow: &CompiledFlow, query: &Query<'_>) -> bool {
    evaluate(
        flow,
        &Request {
            requester: query.requester,
            grantee: query.grantee,
            items: std::slice::from_ref(query.item),
            duration: None,
            at: query.at,
        },
    )
    .is_ok()
}

/// With every flow of the world at once, the policies Cedar says allow are exactly the flows
/// Latch says allow.
fn check_whole_set(
    world: &World,
    whole: &PolicySet,
    entities: &Entities,
    query: &Query<'_>,
    request: &CedarRequest,
    texts: &[String],
) {
    let response = Authorizer::new().is_authorized(request, whole, entities);
    assert_no_cedar_errors(world.seed, &response, "(the whole policy set)");
    let cedar: BTreeSet<String> = response.diagnostics().reason().map(|id| id.to_string()).collect();
    let latch: BTreeSet<String> = world
        .flows
        .iter()
        .filter(|flow| latch_allows(flow, query))
        .map(|flow| flow.id.clone())
        .collect();
    assert_eq!(response.decision() == Decision::Allow, !cedar.is_empty());
    if latch != cedar {
        let first = world
            .flows
            .iter()
            .position(|f| latch.contains(&f.id) != cedar.contains(&f.id))
            .unwrap();
        panic!(
            "whole policy set: latch allows {latch:?}, cedar {cedar:?}\n{}",
            mismatch(
                world,
                &world.flows[first],
                &texts[first],
                query,
                latch.contains(&world.flows[first].id),
                cedar.contains(&world.flows[first].id),
            )
        );
    }
}

fn assert_no_cedar_errors(seed: u64, response: &cedar_policy::Response, policy: &str) {
    let errors: Vec<String> = response.diagnostics().errors().map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "seed {seed}: cedar errors {errors:?} in\n{policy}");
}

fn mismatch(world: &World, flow: &CompiledFlow, policy: &str, query: &Query<'_>, latch: bool, cedar: bool) -> String {
    let mut report = String::new();
    let verdict = |allows: bool| if allows { "allows" } else { "denies" };
    let _ = writeln!(
        report,
        "latch {} but cedar {} (reproduce with LATCH_CEDAR_SEED={})",
        verdict(latch),
        verdict(cedar),
        world.seed
    );
    let latch_reasons = evaluate(
        flow,
        &Request {
            requester: query.requester,
            grantee: query.grantee,
            items: std::slice::from_ref(query.item),
            duration: None,
            at: query.at,
        },
    )
    .err()
    .unwrap_or_default();
    let _ = writeln!(report, "latch reasons: {latch_reasons:?}");
    let _ = writeln!(report, "flow {}: {:#?}\nwhen: {:?}", flow.id, flow.spec, flow.when);
    let _ = writeln!(report, "items: {:?}", flow.items);
    let _ = writeln!(report, "cedar policy:\n{policy}");
    let _ = writeln!(
        report,
        "requester: {:#?}\ngrantee: {:#?}",
        query.requester, query.grantee
    );
    let _ = writeln!(report, "item: {:?}", query.item);
    let _ = write!(report, "instant: {}", query.at.to_rfc3339());
    if let When::Only { time_zone, .. } = &flow.when {
        let (dow, prev, minute) = translate::local_clock(time_zone, query.at);
        let _ = write!(
            report,
            " = {} (weekday {dow}, previous {prev}, minute {minute})",
            query.at.with_timezone(time_zone).to_rfc3339()
        );
    }
    report
}

// ---------------------------------------------------------------------------------------------
// Health of the generators: both verdicts, and every part of a flow deciding on its own.

#[derive(Debug, Default)]
struct Tally {
    queries: u64,
    whole_set_queries: u64,
    allowed: u64,
    /// Denials where exactly one part of the flow failed, by part.
    denied_only_by_status: u64,
    denied_only_by_requestors: u64,
    denied_only_by_window: u64,
    denied_only_by_grantee: u64,
    denied_only_by_items: u64,
    /// Requestor rows seen holding / not holding, by operator.
    rows: std::collections::BTreeMap<String, (u64, u64)>,
    /// Queries where a window crossing midnight held / did not hold.
    crossing_window: (u64, u64),
    same_day_window: (u64, u64),
}

impl Tally {
    /// Classifies with Latch's public parts; only the health assertions use this.
    fn record(&mut self, flow: &CompiledFlow, query: &Query<'_>, allowed: bool) {
        self.queries += 1;
        self.allowed += u64::from(allowed);
        let spec = &flow.spec;
        let for_self = query.requester.user_id == query.grantee.user_id;
        let grantee_ok = if for_self {
            spec.for_whom.themselves
        } else {
            (spec.for_whom.direct_reports && query.grantee.manager_id.as_ref() == Some(&query.requester.user_id))
                || spec.for_whom.others.as_ref().is_some_and(|c| c.holds(query.grantee))
        };
        let window_ok = flow.when.contains(query.at);
        let parts = [
            spec.active && spec.kind == FlowKind::SelfServe,
            spec.requestors.holds(query.requester),
            window_ok,
            grantee_ok,
            flow.items.contains(query.item),
        ];
        if parts.iter().filter(|ok| !**ok).count() == 1 {
            let counter = match parts.iter().position(|ok| !ok).unwrap() {
                0 => &mut self.denied_only_by_status,
                1 => &mut self.denied_only_by_requestors,
                2 => &mut self.denied_only_by_window,
                3 => &mut self.denied_only_by_grantee,
                _ => &mut self.denied_only_by_items,
            };
            *counter += 1;
        }
        for row in &spec.requestors.rows {
            let entry = self.rows.entry(row.operator.label().to_string()).or_default();
            if row.holds(query.requester) {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        }
        if let When::Only { start, end, .. } = &flow.when {
            let counter = if end < start {
                &mut self.crossing_window
            } else {
                &mut self.same_day_window
            };
            if window_ok {
                counter.0 += 1;
            } else {
                counter.1 += 1;
            }
        }
    }

    fn assert_healthy(&self) {
        let enough = self.queries / 100;
        assert!(self.allowed * 20 >= self.queries, "fewer than 5% allowed: {self:#?}");
        assert!(
            (self.queries - self.allowed) * 20 >= self.queries,
            "fewer than 5% denied: {self:#?}"
        );
        for (part, count) in [
            ("status", self.denied_only_by_status),
            ("requestors", self.denied_only_by_requestors),
            ("window", self.denied_only_by_window),
            ("grantee", self.denied_only_by_grantee),
            ("items", self.denied_only_by_items),
        ] {
            assert!(count >= enough / 5, "too few denials by {part} alone: {self:#?}");
        }
        assert_eq!(self.rows.len(), 5, "every operator is generated");
        for (operator, (held, failed)) in &self.rows {
            assert!(
                *held >= enough && *failed >= enough,
                "{operator} rarely decides: {self:#?}"
            );
        }
        for (held, failed) in [self.crossing_window, self.same_day_window] {
            assert!(held >= enough && failed >= enough, "windows rarely decide: {self:#?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

fn pick(rng: &mut StdRng, pool: &[&str]) -> String {
    pool.choose(rng).unwrap().to_string()
}

fn vary_case(rng: &mut StdRng, text: &str) -> String {
    text.chars()
        .map(|c| {
            if rng.random_bool(0.3) {
                c.to_uppercase().collect::<String>()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn minute_time(minute: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).unwrap()
}

fn hhmm(time: NaiveTime) -> String {
    time.format("%H:%M").to_string()
}
