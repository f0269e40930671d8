use std::collections::BTreeMap;

use latch_connector_demo::DemoConnector;
use latch_connector_sdk::conformance::{ConformanceCase, check};
use latch_connector_sdk::{Config, Connector, ConnectorError, GrantRequest};

fn config(pairs: &[(&str, &str)]) -> Config {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn the_demo_connector_passes_the_conformance_kit() {
    let connector = DemoConnector::new();
    let case = ConformanceCase::new(config(&[]), "table", "table:orders-prod/orders", "read");
    check(&connector, &case).await.expect("conformance");
}

#[tokio::test]
async fn the_demo_connector_passes_over_grpc_too() {
    let served = latch_connector_sdk::testing::serve_on_loopback(std::sync::Arc::new(DemoConnector::new())).await;
    let remote =
        latch_connector_sdk::client::RemoteConnector::connect(&served.endpoint, &served.callers.catalog_dialer())
            .await
            .unwrap();
    let case = ConformanceCase::new(config(&[]), "bucket", "bucket:exports-prod", "write");
    check(&remote, &case).await.expect("conformance over gRPC");
    latch_connector_sdk::conformance::check_caller_authentication(
        &served.endpoint,
        &served.callers.strangers(),
        &remote,
        &case,
    )
    .await
    .expect("only the catalog may call");
}

#[tokio::test]
async fn failure_rate_one_always_fails_retryably_and_bad_knobs_are_reported() {
    let connector = DemoConnector::new();
    let request = GrantRequest {
        grant_id: "g1".into(),
        grantee: Default::default(),
        resource_type: "table".into(),
        resource_id: "table:orders-prod/orders".into(),
        permission: "read".into(),
        expires_at: None,
        context: BTreeMap::new(),
    };
    let error = connector
        .grant(&config(&[("failure_rate", "1")]), &request)
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error}");
    let problems = connector
        .validate_config(&config(&[("failure_rate", "2")]))
        .await
        .unwrap();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains("failure_rate"));
    let missing = GrantRequest {
        resource_id: "table:nope".into(),
        ..request
    };
    assert!(matches!(
        connector.grant(&config(&[]), &missing).await,
        Err(ConnectorError::FailedPrecondition(_))
    ));
}

#[tokio::test]
async fn generated_estates_have_the_requested_size() {
    let connector = DemoConnector::new();
    let resources = connector
        .list_resources(&config(&[("resource_count", "1000")]))
        .await
        .unwrap();
    assert_eq!(resources.len(), 1000);
    assert!(resources.iter().all(|r| r.tags.contains_key("env")));
}

/// Values an older version stored unchecked: each call refuses them with the field and the
/// range, instead of a 1.6 TB allocation (abort), a capacity-overflow panic or a 30-year sleep.
#[tokio::test]
async fn out_of_range_knobs_are_errors_in_every_call_never_aborts() {
    let connector = DemoConnector::new();
    let request = GrantRequest {
        grant_id: "g1".into(),
        grantee: Default::default(),
        resource_type: "table".into(),
        resource_id: "table:orders-prod/orders".into(),
        permission: "read".into(),
        expires_at: None,
        context: BTreeMap::new(),
    };
    for (field, value, rule) in [
        (
            "resource_count",
            "10000000000",
            "must be a whole number from 0 to 100000",
        ),
        ("resource_count", "1e18", "must be a whole number from 0 to 100000"),
        ("resource_count", "100001", "must be a whole number from 0 to 100000"),
        ("resource_count", "-1", "must be a whole number from 0 to 100000"),
        ("latency_ms", "1e18", "must be a whole number from 0 to 60000"),
        (
            "latency_ms",
            "18446744073709551616",
            "must be a whole number from 0 to 60000",
        ),
        ("failure_rate", "NaN", "must be a number from 0 to 1"),
        ("failure_rate", "1e18", "must be a number from 0 to 1"),
    ] {
        let bad = config(&[(field, value)]);
        let expected = ConnectorError::invalid(format!("config.{field}"), rule);
        assert_eq!(
            connector.list_resources(&bad).await.unwrap_err(),
            expected,
            "{field}={value}"
        );
        assert_eq!(
            connector.grant(&bad, &request).await.unwrap_err(),
            expected,
            "{field}={value}"
        );
        assert_eq!(
            connector.revoke(&bad, "g1").await.unwrap_err(),
            expected,
            "{field}={value}"
        );
        assert_eq!(
            connector.validate_config(&bad).await.unwrap(),
            [format!("config.{field}: {rule}")],
            "{field}={value}"
        );
    }
    let largest = config(&[
        ("resource_count", "100000"),
        ("latency_ms", "0"),
        ("failure_rate", "0.5"),
    ]);
    assert_eq!(connector.list_resources(&largest).await.unwrap().len(), 100_000);
}

#[test]
fn every_numeric_knob_documents_its_range() {
    let description = DemoConnector::new().describe();
    for name in ["latency_ms", "failure_rate", "resource_count"] {
        let field = description.config_fields.iter().find(|f| f.name == name).unwrap();
        let range = field.range.unwrap_or_else(|| panic!("{name} has no range"));
        assert!(
            field.description.contains(&range.max.to_string()),
            "{}",
            field.description
        );
    }
}
