use std::collections::BTreeMap;

use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize, PartialEq)]
struct Flow {
    name: String,
    #[serde(default)]
    approval: Option<Approval>,
    #[serde(default)]
    settings: Settings,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Approval {
    steps: Vec<String>,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
struct Settings {
    #[serde(default)]
    require_mfa: bool,
}

fn rules(error: ServiceError) -> Vec<(String, String)> {
    match error {
        ServiceError::InvalidArgument(violations) => violations.into_iter().map(|v| (v.field, v.rule)).collect(),
        other => panic!("expected invalid argument, got {other:?}"),
    }
}

#[test]
fn a_well_formed_document_parses() {
    let flow: Flow = parse(
        "definition",
        "name: x\napproval: {steps: [a]}\nsettings: {require_mfa: true}\n",
        Limits::FLOW,
    )
    .unwrap();
    assert_eq!(flow.approval.unwrap().steps, ["a"]);
    assert!(flow.settings.require_mfa);
    let json: Flow = parse("definition", r#"{"name": "x"}"#, Limits::FLOW).unwrap();
    assert_eq!(json.name, "x");
}

#[test]
fn a_misspelt_key_is_refused_with_its_path() {
    let found = rules(parse::<Flow>("definition", "name: x\napprovals: {steps: [a]}\n", Limits::FLOW).unwrap_err());
    assert_eq!(found[0].0, "approvals", "{found:?}");
    let found =
        rules(parse::<Flow>("definition", "name: x\nsettings: {requre_mfa: true}\n", Limits::FLOW).unwrap_err());
    assert_eq!(found[0].0, "settings.requre_mfa", "{found:?}");
    assert!(found[0].1.contains("not a known field"));
}

#[test]
fn a_repeated_key_is_refused_even_in_free_maps_and_json() {
    let found = rules(parse::<Flow>("definition", "name: x\nname: y\n", Limits::FLOW).unwrap_err());
    assert!(found[0].1.contains("\"name\" appears twice"), "{found:?}");
    let found = rules(parse::<Flow>("definition", "name: x\ntags: {a: '1', a: '2'}\n", Limits::FLOW).unwrap_err());
    assert_eq!(found[0].0, "tags", "{found:?}");
    let found = rules(parse::<Flow>("definition", r#"{"name": "x", "name": "y"}"#, Limits::FLOW).unwrap_err());
    assert!(found[0].1.contains("appears twice"), "{found:?}");
}

#[test]
fn deep_nesting_is_refused_quickly_whatever_the_style() {
    for text in [
        "[".repeat(50_000),
        "{a: ".repeat(50_000),
        "- ".repeat(50_000),
        (0..200).map(|i| format!("{}a:\n", " ".repeat(i))).collect::<String>(),
    ] {
        let started = std::time::Instant::now();
        let found = rules(parse::<Flow>("definition", &text, Limits::BULK).unwrap_err());
        assert!(
            found[0].1.contains("nests deeper than 32 levels") || found[0].1.contains("recursion"),
            "{found:?}"
        );
        // Generous: a debug build on a loaded machine; before the bound this took seconds.
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}

#[test]
fn brackets_inside_strings_and_comments_do_not_count() {
    let text = format!("name: \"{}\" # {}\n", "[".repeat(100), "{".repeat(100));
    let flow: Flow = parse("definition", &text, Limits::FLOW).unwrap();
    assert_eq!(flow.name.len(), 100);
    let single = format!("name: '{}it''s'\n", "[".repeat(100));
    assert!(parse::<Flow>("definition", &single, Limits::FLOW).is_ok());
}

#[test]
fn size_is_checked_before_parsing() {
    let text = format!("name: {}\n", "x".repeat(Limits::FLOW.max_bytes));
    let found = rules(parse::<Flow>("definition", &text, Limits::FLOW).unwrap_err());
    assert_eq!(found[0].0, "definition");
    assert!(found[0].1.contains("at most 262144"), "{found:?}");
}

#[test]
fn tags_anchors_and_non_finite_numbers_are_not_plain_data() {
    assert!(parse::<Flow>("definition", "name: !custom x\n", Limits::FLOW).is_err());
    let found = rules(parse::<serde_json::Value>("definition", "a: .inf\n", Limits::FLOW).unwrap_err());
    assert!(found[0].1.contains("finite"), "{found:?}");
    let laughs = "a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n";
    assert!(parse::<serde_json::Value>("definition", laughs, Limits::BULK).is_err());
}

#[test]
fn errors_never_echo_a_huge_value() {
    let text = format!("name: [{}]\n", "y".repeat(100_000));
    let error = parse::<Flow>("definition", &text, Limits::FLOW).unwrap_err();
    assert!(error.to_string().len() < 1_000, "{}", error.to_string().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn blocking_parses_leave_the_runtime_free() {
    // The one worker keeps ticking while a large document is parsed elsewhere.
    let big = format!(
        "name: x\ntags:\n{}",
        (0..40_000).map(|i| format!("  k{i}: v\n")).collect::<String>()
    );
    let parse = tokio::spawn(parse_blocking::<Flow>("document", big, Limits::BULK));
    let mut ticks = 0;
    while !parse.is_finished() {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        ticks += 1;
    }
    let flow = parse.await.unwrap().unwrap();
    assert_eq!(flow.tags.len(), 40_000);
    assert!(ticks > 0);
}

#[test]
fn json_bodies_are_read_strictly() {
    let value = read_json(br#"{"userName": "ann", "emails": [{"value": "a@x.io"}]}"#, MAX_DEPTH).unwrap();
    assert_eq!(value["userName"], "ann");
    let repeated = read_json(br#"{"userName": "ann", "userName": "root"}"#, MAX_DEPTH).unwrap_err();
    assert!(repeated.rule.contains("appears twice"), "{repeated}");
    let deep = read_json("[".repeat(100_000).as_bytes(), MAX_DEPTH).unwrap_err();
    assert!(deep.rule.contains("nests deeper"), "{deep}");
    let nul = read_json(br#"{"externalId": "a\u0000b"}"#, MAX_DEPTH).unwrap_err();
    assert_eq!(nul.field, "externalId");
    let big = format!(
        r#"{{"urn:x:enterprise": {{"department": "{}"}}}}"#,
        "d".repeat(1_500_000)
    );
    let big = read_json(big.as_bytes(), MAX_DEPTH).unwrap_err();
    assert_eq!(big.field, "urn:x:enterprise.department");
    assert!(big.to_string().len() < 200);
    assert!(read_json(br#"{"a": 1} trailing"#, MAX_DEPTH).is_err());
}
