//! The target spec grammar: good specs, bad specs and round trips through the proto.

use super::*;
use crate::tag_selector::TagSelectorArg;

fn parse(text: &str) -> Result<TargetSpec, TargetSpecError> {
    text.parse()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| item.to_string()).collect()
}

#[test]
fn without_selection_means_every_resource_of_the_type() {
    let spec = parse("prod-pg/table:read").unwrap();
    assert_eq!(
        spec,
        TargetSpec {
            integration: "prod-pg".into(),
            resource_type: "table".into(),
            permissions: strings(&["read"]),
            selection: SelectionSpec::Any,
        }
    );
    assert_eq!(parse("prod-pg/table:read@any").unwrap(), spec);
    assert_eq!(parse(" prod-pg / table : read ").unwrap(), spec);
}

#[test]
fn parses_several_permissions_in_order() {
    let spec = parse("pg/database:connect,create, temp").unwrap();
    assert_eq!(spec.permissions, strings(&["connect", "create", "temp"]));
}

#[test]
fn parses_the_documented_example() {
    let spec = parse("prod-pg/table:read@only:tag=env=prod|staging;name=orders").unwrap();
    assert_eq!(
        spec.selection,
        SelectionSpec::Only(vec![
            SelectionItem::Tag(TagSelectorArg {
                key: "env".into(),
                values: strings(&["prod", "staging"]),
            }),
            SelectionItem::Name("orders".into()),
        ])
    );
    let proto = spec.to_proto();
    let selection = proto.selection.unwrap();
    assert_eq!(
        selection.mode,
        latch_proto::catalog::v1::selection::Mode::Include as i32
    );
    assert_eq!(selection.resource_names, ["orders"]);
    assert_eq!(selection.tags[0].key, "env");
    assert_eq!(selection.tags[0].values, ["prod", "staging"]);
}

#[test]
fn ids_in_the_selection_may_hold_separators() {
    let spec = parse("pg/table:read@except:id=table:app/public/orders;id=x@y;tag=pii").unwrap();
    assert_eq!(
        spec.selection,
        SelectionSpec::Except(vec![
            SelectionItem::Id("table:app/public/orders".into()),
            SelectionItem::Id("x@y".into()),
            SelectionItem::Tag(TagSelectorArg {
                key: "pii".into(),
                values: vec![],
            }),
        ])
    );
}

#[test]
fn rejects_malformed_specs_showing_the_syntax() {
    let cases = [
        ("", "no '/'"),
        ("prod-pg", "no '/'"),
        ("prod-pg:read", "no '/'"),
        ("prod-pg/table", "no ':'"),
        ("/table:read", "integration is empty"),
        ("pg/:read", "resource type is empty"),
        ("a/b/table:read", "contains '/'"),
        ("pg/table:", "no permissions"),
        ("pg/table:read,", "empty entry"),
        ("pg/table:read,,write", "empty entry"),
        ("pg/table:read@", "not any, only:ITEMS or except:ITEMS"),
        ("pg/table:read@all", "not any, only:ITEMS or except:ITEMS"),
        ("pg/table:read@ONLY:id=x", "not any, only:ITEMS or except:ITEMS"),
        ("pg/table:read@only:", "no items after only:"),
        ("pg/table:read@except:", "no items after except:"),
        ("pg/table:read@only:id=", "empty id"),
        ("pg/table:read@only:name=", "empty name"),
        ("pg/table:read@only:id=a;;id=b", "empty item"),
        ("pg/table:read@only:id=a;", "empty item"),
        ("pg/table:read@only:orders", "not id=ID, name=NAME or tag=KEY"),
        ("pg/table:read@only:path=a", "not id=ID, name=NAME or tag=KEY"),
        ("pg/table:read@only:tag=", "empty key"),
        ("pg/table:read@only:tag=env=", "empty value"),
        ("pg/table:read@only:tag=env=a||b", "empty value"),
    ];
    for (bad, reason) in cases {
        let message = parse(bad).unwrap_err().to_string();
        assert!(message.contains(reason), "{bad:?}: {message}");
        assert!(message.contains("expected INTEGRATION/TYPE:PERM"), "{bad:?}: {message}");
    }
}

#[test]
fn display_is_canonical_and_parses_back() {
    let cases = [
        ("pg/table:read", "pg/table:read"),
        ("pg/table:read@any", "pg/table:read"),
        (
            "pg/table:read,write@only:id=t1;name=orders",
            "pg/table:read,write@only:id=t1;name=orders",
        ),
        (
            "pg/table:read@except:tag=env=prod|dev;name=a;id=b",
            "pg/table:read@except:id=b;name=a;tag=env=prod|dev",
        ),
    ];
    for (input, canonical) in cases {
        let spec = parse(input).unwrap();
        let via_proto = TargetSpec::from_proto(&spec.to_proto());
        assert_eq!(via_proto.to_string(), canonical, "{input:?}");
        assert_eq!(parse(canonical).unwrap().to_string(), canonical);
    }
}

#[test]
fn every_combination_round_trips_through_the_proto() {
    // A small exhaustive sweep stands in for a property test: every mode with every mix of
    // item kinds, one or several permissions.
    let item_sets: [&[&str]; 6] = [
        &["id=t1"],
        &["name=orders"],
        &["tag=env"],
        &["id=t1", "id=table:a/b"],
        &["id=t1", "name=orders", "tag=env=prod|dev"],
        &["name=a", "name=b", "tag=pii", "tag=env=prod"],
    ];
    for permissions in ["read", "read,write,admin"] {
        for mode in ["only", "except"] {
            for items in item_sets {
                let text = format!("pg/table:{permissions}@{mode}:{}", items.join(";"));
                let spec = parse(&text).unwrap_or_else(|error| panic!("{error}"));
                let back = TargetSpec::from_proto(&spec.to_proto());
                assert_eq!(back, spec, "{text}");
                assert_eq!(parse(&back.to_string()).unwrap(), back, "{text}");
            }
        }
    }
}
