//! The demo connector: an in-memory "system" so the quickstart and the tests of other contexts
//! need no real infrastructure. It is named as such everywhere it appears.
//!
//! Knobs (integration config): `latency_ms` (0–60000) delays every call; `failure_rate` (0–1)
//! makes that share of grant, extend and revoke calls fail with UNAVAILABLE (retryable);
//! `resource_count` (0–100000) replaces the fixed estate by that many generated tables.
#![forbid(unsafe_code)]

mod catalog;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use latch_connector_sdk::{
    Config, ConfigField, Connector, ConnectorError, ConnectorResult, Description, GrantOutcome, GrantRecord,
    GrantRequest, NumberRange, Resource, check_permission, decimal_setting, integer_setting,
};
use rand::Rng;

pub const NAME: &str = "demo";

/// The largest `latency_ms`: one minute.
pub const MAX_LATENCY_MS: i64 = 60_000;

/// The largest `resource_count`: what Latch accepts from one listing.
pub const MAX_RESOURCE_COUNT: i64 = latch_connector_sdk::limits::MAX_LISTED_RESOURCES as i64;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Knobs {
    latency: Duration,
    failure_rate: f64,
    resource_count: Option<usize>,
}

/// The knobs, described with their ranges (Describe returns these).
fn knob_fields() -> [ConfigField; 3] {
    [
        ConfigField {
            name: "latency_ms".into(),
            description: format!("Delay every call by this many milliseconds (0 to {MAX_LATENCY_MS})"),
            default_value: "0".into(),
            range: Some(NumberRange::integer(0, MAX_LATENCY_MS)),
            ..ConfigField::default()
        },
        ConfigField {
            name: "failure_rate".into(),
            description: "Share (0 to 1) of grant, extend and revoke calls that fail with UNAVAILABLE".into(),
            default_value: "0".into(),
            range: Some(NumberRange::decimal(0, 1)),
            ..ConfigField::default()
        },
        ConfigField {
            name: "resource_count".into(),
            description: format!(
                "Generate this many tables (0 to {MAX_RESOURCE_COUNT}) instead of the fixed demo estate"
            ),
            range: Some(NumberRange::integer(0, MAX_RESOURCE_COUNT)),
            ..ConfigField::default()
        },
    ]
}

/// Reads the knobs from a config, checking every range again: a value stored by an older
/// version that did not check is an error here, never an allocation or a panic.
fn knobs(config: &Config) -> ConnectorResult<Knobs> {
    let [latency_ms, failure_rate, resource_count] = knob_fields();
    let latency_ms = integer_setting(config, &latency_ms)?.unwrap_or(0);
    let resource_count = integer_setting(config, &resource_count)?;
    Ok(Knobs {
        latency: Duration::from_millis(u64::try_from(latency_ms).unwrap_or(0)),
        failure_rate: decimal_setting(config, &failure_rate)?.unwrap_or(0.0),
        resource_count: resource_count.map(|count| usize::try_from(count).unwrap_or(0)),
    })
}

#[derive(Debug, Clone)]
struct HeldGrant {
    record: GrantRecord,
    password: String,
}

/// The demo connector. Grants live in this process's memory.
#[derive(Debug, Default)]
pub struct DemoConnector {
    grants: Mutex<BTreeMap<String, HeldGrant>>,
}

impl DemoConnector {
    pub fn new() -> Self {
        Self::default()
    }

    async fn behave(&self, config: &Config, may_fail: bool) -> ConnectorResult<Knobs> {
        let knobs = knobs(config)?;
        if !knobs.latency.is_zero() {
            tokio::time::sleep(knobs.latency).await;
        }
        if may_fail && knobs.failure_rate > 0.0 && rand::rng().random_bool(knobs.failure_rate) {
            return Err(ConnectorError::Unavailable(
                "demo: injected failure (failure_rate)".into(),
            ));
        }
        Ok(knobs)
    }

    fn resources(knobs: &Knobs) -> Vec<Resource> {
        match knobs.resource_count {
            Some(count) => catalog::generated(count),
            None => catalog::fixed(),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, HeldGrant>> {
        self.grants.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn account_for(grant_id: &str) -> String {
    let short: String = grant_id.chars().filter(char::is_ascii_alphanumeric).take(16).collect();
    format!("demo_{short}")
}

#[async_trait::async_trait]
impl Connector for DemoConnector {
    fn describe(&self) -> Description {
        Description {
            name: NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            resource_types: catalog::resource_types(),
            config_fields: knob_fields()
                .into_iter()
                .chain([ConfigField {
                    name: "api_key".into(),
                    description: "A pretend credential, to show how secrets are handled".into(),
                    secret: true,
                    ..ConfigField::default()
                }])
                .collect(),
        }
    }

    async fn validate_config(&self, config: &Config) -> ConnectorResult<Vec<String>> {
        // Every knob's problem, not just the first.
        Ok(knob_fields()
            .iter()
            .filter_map(|field| decimal_setting(config, field).err())
            .map(|error| error.to_string())
            .collect())
    }

    async fn list_resources(&self, config: &Config) -> ConnectorResult<Vec<Resource>> {
        let knobs = self.behave(config, false).await?;
        Ok(Self::resources(&knobs))
    }

    async fn grant(&self, config: &Config, request: &GrantRequest) -> ConnectorResult<GrantOutcome> {
        check_permission(&self.describe(), &request.resource_type, &request.permission)?;
        let knobs = self.behave(config, true).await?;
        if let Some(existing) = self.held().get(&request.grant_id) {
            return Ok(outcome(existing));
        }
        if !catalog::exists(knobs.resource_count, &request.resource_type, &request.resource_id) {
            return Err(ConnectorError::FailedPrecondition(format!(
                "demo: no {} {}",
                request.resource_type, request.resource_id
            )));
        }
        let password: String = rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(24)
            .map(char::from)
            .collect();
        let held = HeldGrant {
            record: GrantRecord {
                grant_id: request.grant_id.clone(),
                resource_type: request.resource_type.clone(),
                resource_id: request.resource_id.clone(),
                permission: request.permission.clone(),
                account: account_for(&request.grant_id),
                expires_at: request.expires_at,
            },
            password,
        };
        let mut grants = self.held();
        let held = grants.entry(request.grant_id.clone()).or_insert(held);
        Ok(outcome(held))
    }

    async fn extend(&self, config: &Config, grant_id: &str, expires_at: Option<DateTime<Utc>>) -> ConnectorResult<()> {
        self.behave(config, true).await?;
        match self.held().get_mut(grant_id) {
            Some(held) => {
                held.record.expires_at = expires_at;
                Ok(())
            }
            None => Err(ConnectorError::NotFound(format!("demo: no grant {grant_id}"))),
        }
    }

    async fn revoke(&self, config: &Config, grant_id: &str) -> ConnectorResult<()> {
        self.behave(config, true).await?;
        self.held().remove(grant_id);
        Ok(())
    }

    async fn list_grants(&self, config: &Config) -> ConnectorResult<Vec<GrantRecord>> {
        self.behave(config, false).await?;
        Ok(self.held().values().map(|h| h.record.clone()).collect())
    }
}

fn outcome(held: &HeldGrant) -> GrantOutcome {
    GrantOutcome {
        account: held.record.account.clone(),
        credentials: BTreeMap::from([
            ("user".to_string(), held.record.account.clone()),
            ("password".to_string(), held.password.clone()),
            ("endpoint".to_string(), format!("demo://{}", held.record.resource_id)),
        ]),
    }
}
