//! What running every connector call in its own task ([`Isolated`]) costs per call.
//!
//! A connector that does nothing (so only the overhead shows) is called directly and through
//! `Isolated`, 200,000 revokes each on a two-worker runtime; p50 / p99 / max per call.
//!
//! Run: `cargo bench -p latch-connector-sdk --bench isolated_call`

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use latch_connector_sdk::isolated::Isolated;
use latch_connector_sdk::{
    Config, Connector, ConnectorResult, Description, GrantOutcome, GrantRecord, GrantRequest, Resource,
};

const CALLS: usize = 200_000;

struct Idle;

#[async_trait::async_trait]
impl Connector for Idle {
    fn describe(&self) -> Description {
        Description {
            name: "idle".into(),
            version: "0".into(),
            resource_types: vec![],
            config_fields: vec![],
        }
    }
    async fn validate_config(&self, _: &Config) -> ConnectorResult<Vec<String>> {
        Ok(Vec::new())
    }
    async fn list_resources(&self, _: &Config) -> ConnectorResult<Vec<Resource>> {
        Ok(Vec::new())
    }
    async fn grant(&self, _: &Config, _: &GrantRequest) -> ConnectorResult<GrantOutcome> {
        Ok(GrantOutcome::default())
    }
    async fn extend(&self, _: &Config, _: &str, _: Option<DateTime<Utc>>) -> ConnectorResult<()> {
        Ok(())
    }
    async fn revoke(&self, _: &Config, _: &str) -> ConnectorResult<()> {
        Ok(())
    }
    async fn list_grants(&self, _: &Config) -> ConnectorResult<Vec<GrantRecord>> {
        Ok(Vec::new())
    }
}

async fn measure(connector: &dyn Connector) -> (Duration, Duration, Duration) {
    // A config of the usual size: a few settings and a secret.
    let config: Config = [
        ("host", "db.internal"),
        ("port", "5432"),
        ("user", "latch"),
        ("password", "x".repeat(24).as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut samples = Vec::with_capacity(CALLS);
    for i in 0..CALLS {
        let grant_id = format!("grant-{i}");
        let started = Instant::now();
        connector.revoke(&config, &grant_id).await.expect("revoke");
        samples.push(started.elapsed());
    }
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    (at(0.5), at(0.99), samples[samples.len() - 1])
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let direct = Idle;
        let isolated = Isolated::new(Arc::new(Idle));
        // Warm up both paths.
        measure(&direct).await;
        measure(&isolated).await;
        for (name, connector) in [("direct", &direct as &dyn Connector), ("isolated", &isolated)] {
            let (p50, p99, max) = measure(connector).await;
            println!("{name:>9}: p50 {p50:>9.1?}  p99 {p99:>9.1?}  max {max:>9.1?}  ({CALLS} calls)");
        }
    });
}
