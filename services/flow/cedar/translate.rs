//! Flows, people and requests translated into Cedar, shared by the differential test
//! (`tests/cedar_differential.rs`, which proves the translation decides exactly like Latch) and the
//! evaluation bench (`benches/evaluate.rs`, which times Cedar on it). Included from both with
//! `#[path = "../cedar/translate.rs"] mod translate;`.
//!
//! The translation follows the documented rules (the module docs of `conditions`, `window` and
//! `evaluate`), written independently in Cedar:
//!
//! * People are `User` entities. Each subject a condition row can look at (the user, the groups,
//!   each identity attribute of the [`Shape`]) is a record `{ all: Set<String>, s0: String, s1:
//!   String, … }` of its lowercased values: `is` tests `all.containsAny([...])`; Cedar has no
//!   quantifier over sets, so `contains` and `starts_with` test `like` patterns (`*v*`, `v*`) on
//!   every slot the shape allows. Negative operators are `!(positive twin)`.
//! * Cedar has no time zones: for each of [`ZONES`] the local weekday, previous calendar day's
//!   weekday and minute of day of the instant are computed with chrono-tz and passed in the
//!   context. Daylight saving therefore lives in chrono-tz for both sides; what is compared is the
//!   window logic (days, inclusive start, exclusive end, windows crossing midnight, empty windows).
//!   Windows are whole minutes, so the minute of day decides exactly even for instants with
//!   seconds.
//! * The item is the resource entity (`Item`, with its integration and resource id) and the
//!   permission the action; a flow covers it when the record of the three is in the flow's set
//!   literal. The conjuncts are in the order of [`evaluate`](latch_flow::domain::evaluate): status,
//!   requestors, window, grantee, items.
//!
//! Durations are not modelled: flows must not require one and requests carry none.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{Context, Entity, EntityId, EntityTypeName, EntityUid, Request, RestrictedExpression};
use chrono::{DateTime, Datelike, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use latch_flow::domain::conditions::{Attribute, Combine, Condition, Conditions, Facts, Operator};
use latch_flow::domain::evaluate::{CompiledFlow, Item};
use latch_flow::domain::model::FlowKind;
use latch_flow::domain::window::When;

/// The zones whose local clocks every request carries; a flow's window must be in one of them.
pub const ZONES: [Tz; 7] = [
    chrono_tz::UTC,
    chrono_tz::Europe::Berlin,
    chrono_tz::America::New_York,
    chrono_tz::Asia::Kolkata,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Asia::Kathmandu,
    chrono_tz::Pacific::Chatham,
];

/// What translated people look like.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    /// The identity attribute keys every `User` has a record for (empty when the person lacks the
    /// attribute); conditions may name only these.
    pub named_keys: &'a [&'a str],
    /// Slots (`s0…`) of the user record: the most of id, user name and email a person has.
    pub user_slots: usize,
    /// Slots of the groups record: the most group ids and names a person has.
    pub group_slots: usize,
    /// Slots of each attribute record: the most values a person has for one attribute.
    pub attribute_slots: usize,
}

impl Shape<'_> {
    fn slots(&self, attribute: &Attribute) -> usize {
        match attribute {
            Attribute::User => self.user_slots,
            Attribute::Group => self.group_slots,
            Attribute::Named(_) => self.attribute_slots,
        }
    }
}

/// The Cedar policy of one flow: one `permit` that holds when everything the flow demands holds.
pub fn policy(shape: &Shape<'_>, flow: &CompiledFlow) -> String {
    let spec = &flow.spec;
    assert!(
        !spec.settings.require_duration,
        "flow {}: durations are not part of the cedar model",
        flow.id
    );
    let for_whom = &spec.for_whom;
    let direct_reports = if for_whom.direct_reports {
        "(context.grantee has manager && context.grantee.manager == principal)".to_string()
    } else {
        "false".to_string()
    };
    let others = for_whom
        .others
        .as_ref()
        .map_or("false".to_string(), |c| conditions_expr(shape, c, "context.grantee"));
    let items = flow
        .items
        .iter()
        .map(|i| {
            format!(
                "{{integration: {}, resource_id: {}, permission: Action::{}}}",
                literal(&i.integration_id),
                literal(&i.resource_id),
                literal(&i.permission)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "permit (principal, action, resource)\nwhen {{\n  \
         {active} // active\n  \
         && {self_serve} // self-serve\n  \
         && ({requestors}) // requestors\n  \
         && ({window}) // when\n  \
         && ((principal == context.grantee && {themselves}) || (principal != context.grantee && ({direct_reports} || {others}))) // for whom\n  \
         && [{items}].contains({{integration: resource.integration, resource_id: resource.resource_id, permission: action}}) // items\n}};",
        active = spec.active,
        self_serve = spec.kind == FlowKind::SelfServe,
        requestors = conditions_expr(shape, &spec.requestors, "principal"),
        window = window_expr(&flow.when),
        themselves = for_whom.themselves,
    )
}

fn conditions_expr(shape: &Shape<'_>, conditions: &Conditions, person: &str) -> String {
    let (joiner, empty) = match conditions.combine {
        Combine::And => (" && ", "true"),
        Combine::Or => (" || ", "false"),
    };
    if conditions.rows.is_empty() {
        return empty.to_string();
    }
    conditions
        .rows
        .iter()
        .map(|row| format!("({})", row_expr(shape, row, person)))
        .collect::<Vec<_>>()
        .join(joiner)
}

fn row_expr(shape: &Shape<'_>, row: &Condition, person: &str) -> String {
    let subject = match &row.attribute {
        Attribute::User => format!("{person}.user"),
        Attribute::Group => format!("{person}.groups"),
        Attribute::Named(key) => {
            assert!(
                shape.named_keys.contains(&key.as_str()),
                "attribute {key} has no record"
            );
            format!("{person}.attrs.{key}")
        }
    };
    let values: Vec<String> = row.values.iter().map(|v| v.to_lowercase()).collect();
    let like_any = |pattern: &dyn Fn(&str) -> String| {
        (0..shape.slots(&row.attribute))
            .map(|slot| {
                let alternatives = values
                    .iter()
                    .map(|v| format!("{subject}.s{slot} like {}", pattern(&like_escape(v))))
                    .collect::<Vec<_>>()
                    .join(" || ");
                format!("({subject} has s{slot} && ({alternatives}))")
            })
            .collect::<Vec<_>>()
            .join(" || ")
    };
    let is = || {
        let set = values.iter().map(|v| literal(v)).collect::<Vec<_>>().join(", ");
        format!("{subject}.all.containsAny([{set}])")
    };
    match row.operator {
        Operator::Is => is(),
        Operator::IsNot => format!("!({})", is()),
        Operator::Contains => like_any(&|v| format!("\"*{v}*\"")),
        Operator::DoesNotContain => format!("!({})", like_any(&|v| format!("\"*{v}*\""))),
        Operator::StartsWith => like_any(&|v| format!("\"{v}*\"")),
    }
}

fn window_expr(when: &When) -> String {
    let When::Only {
        days,
        start,
        end,
        time_zone,
    } = when
    else {
        return "true".to_string();
    };
    assert!(ZONES.contains(time_zone), "zone {time_zone} is not in the context");
    let key = zone_key(time_zone);
    let listed = days
        .iter()
        .map(|d| d.num_days_from_monday().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let (start, end) = (minute_of_day(*start), minute_of_day(*end));
    let (dow, prev, minute) = (
        format!("context.{key}_dow"),
        format!("context.{key}_prev_dow"),
        format!("context.{key}_min"),
    );
    if start < end {
        format!("[{listed}].contains({dow}) && {start} <= {minute} && {minute} < {end}")
    } else if end < start {
        format!(
            "([{listed}].contains({dow}) && {minute} >= {start}) || ([{listed}].contains({prev}) && {minute} < {end})"
        )
    } else {
        "false".to_string()
    }
}

fn minute_of_day(time: NaiveTime) -> u32 {
    time.hour() * 60 + time.minute()
}

/// A Cedar string literal (values come from an alphabet without quotes or backslashes).
fn literal(value: &str) -> String {
    assert!(!value.contains(['"', '\\']), "value {value:?} needs escaping");
    format!("\"{value}\"")
}

/// The text of a value inside a `like` pattern, where `*` is the wildcard.
fn like_escape(value: &str) -> String {
    assert!(!value.contains(['"', '\\']), "value {value:?} needs escaping");
    value.replace('*', "\\*")
}

fn zone_key(tz: &Tz) -> String {
    let name: String = tz
        .name()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("tz_{name}")
}

/// The subject's values as documented: the user by id, user name or email (those it has), every
/// transitive group by id and name, or an attribute's values; lowercased.
fn subject_values(person: &Facts, attribute: &Attribute) -> Vec<String> {
    let values: Vec<&String> = match attribute {
        Attribute::User => [&person.user_id, &person.user_name, &person.email]
            .into_iter()
            .filter(|v| !v.is_empty())
            .collect(),
        Attribute::Group => person.groups.iter().flat_map(|(id, name)| [id, name]).collect(),
        Attribute::Named(key) => person
            .attributes
            .get(key)
            .map(|v| v.iter().collect())
            .unwrap_or_default(),
    };
    values.into_iter().map(|v| v.to_lowercase()).collect()
}

fn subject_record(shape: &Shape<'_>, person: &Facts, attribute: &Attribute) -> RestrictedExpression {
    let values = subject_values(person, attribute);
    let slots = shape.slots(attribute);
    assert!(
        values.len() <= slots,
        "{}: {} values of {} exceed the {slots} slots",
        person.user_id,
        values.len(),
        attribute.label()
    );
    let slots = values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("s{i}"), RestrictedExpression::new_string(v.clone())));
    let all = RestrictedExpression::new_set(values.iter().cloned().map(RestrictedExpression::new_string));
    RestrictedExpression::new_record([("all".to_string(), all)].into_iter().chain(slots))
        .expect("slot names are distinct")
}

pub fn uid(kind: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(
        EntityTypeName::from_str(kind).expect("entity type names are identifiers"),
        EntityId::new(id),
    )
}

/// A person as a `User` (named by user id), with a manager reference when they have one.
pub fn user_entity(shape: &Shape<'_>, person: &Facts) -> Entity {
    let attrs = shape.named_keys.iter().map(|key| {
        (
            key.to_string(),
            subject_record(shape, person, &Attribute::Named(key.to_string())),
        )
    });
    let mut fields = HashMap::from([
        ("user".to_string(), subject_record(shape, person, &Attribute::User)),
        ("groups".to_string(), subject_record(shape, person, &Attribute::Group)),
        (
            "attrs".to_string(),
            RestrictedExpression::new_record(attrs).expect("named keys are distinct"),
        ),
    ]);
    if let Some(manager) = &person.manager_id {
        fields.insert(
            "manager".to_string(),
            RestrictedExpression::new_entity_uid(uid("User", manager)),
        );
    }
    Entity::new(uid("User", &person.user_id), fields, HashSet::new()).expect("a user entity")
}

/// An item as an `Item` named `id` (any name unique among the items; the policies look only at
/// its integration and resource id, and at the action for the permission).
pub fn item_entity(id: &str, item: &Item) -> Entity {
    let fields = HashMap::from([
        (
            "integration".to_string(),
            RestrictedExpression::new_string(item.integration_id.clone()),
        ),
        (
            "resource_id".to_string(),
            RestrictedExpression::new_string(item.resource_id.clone()),
        ),
    ]);
    Entity::new(uid("Item", id), fields, HashSet::new()).expect("an item entity")
}

/// The local weekday (0 = Monday), previous calendar day's weekday and minute of day of `at` in
/// `tz`.
pub fn local_clock(tz: &Tz, at: DateTime<Utc>) -> (u32, u32, u32) {
    let local = at.with_timezone(tz);
    let previous = local.date_naive().pred_opt().expect("a day before");
    (
        local.weekday().num_days_from_monday(),
        previous.weekday().num_days_from_monday(),
        local.hour() * 60 + local.minute(),
    )
}

/// `requester` asks for `item` (the `Item` entity named `item_id`) for `grantee` at `at`: the
/// grantee and every zone's local clock are the context.
pub fn request(requester: &Facts, grantee: &Facts, item_id: &str, item: &Item, at: DateTime<Utc>) -> Request {
    let mut context = vec![(
        "grantee".to_string(),
        RestrictedExpression::new_entity_uid(uid("User", &grantee.user_id)),
    )];
    for tz in &ZONES {
        let key = zone_key(tz);
        let (dow, prev, minute) = local_clock(tz, at);
        context.push((format!("{key}_dow"), RestrictedExpression::new_long(dow.into())));
        context.push((format!("{key}_prev_dow"), RestrictedExpression::new_long(prev.into())));
        context.push((format!("{key}_min"), RestrictedExpression::new_long(minute.into())));
    }
    Request::new(
        uid("User", &requester.user_id),
        uid("Action", &item.permission),
        uid("Item", item_id),
        Context::from_pairs(context).expect("context keys are distinct"),
        None,
    )
    .expect("a request without a schema")
}
