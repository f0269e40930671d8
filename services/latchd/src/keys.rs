//! Each context's secrets box: its own key ring (`<context>.encryption_keys`) over the
//! deployment's key, which then only opens values sealed before the context had keys of its
//! own. In a split deployment every context that seals secrets must have its own ring, so a
//! process never holds a key that opens another context's secrets.

use latch_runtime::LatchConfig;
use latch_runtime::crypto::SecretBox;
use latch_runtime::reseal::{ResealReport, SealedColumn, reseal};
use latch_runtime::service_identity::ServiceName;

/// The setting holding `context`'s ring, and the ring; `None` for a context that seals nothing.
fn ring_of(config: &LatchConfig, context: ServiceName) -> Option<(&'static str, &str)> {
    match context {
        ServiceName::Identity => Some(("identity.encryption_keys", config.identity.encryption_keys.0.as_str())),
        ServiceName::Catalog => Some(("catalog.encryption_keys", config.catalog.encryption_keys.0.as_str())),
        ServiceName::Request => Some(("request.encryption_keys", config.request.encryption_keys.0.as_str())),
        ServiceName::Flow | ServiceName::Gateway => None,
    }
}

/// In a split process, the rings of contexts it does not run are refused: each context's keys
/// are given only to the processes that run it.
pub fn refuse_foreign_rings(config: &LatchConfig, runs: &[ServiceName]) -> anyhow::Result<()> {
    for context in [ServiceName::Identity, ServiceName::Catalog, ServiceName::Request] {
        if let Some((setting, ring)) = ring_of(config, context)
            && !ring.trim().is_empty()
            && !runs.contains(&context)
        {
            anyhow::bail!(
                "{setting} is set in a process that does not run the {context} service: give each context's keys only to its own processes"
            );
        }
    }
    Ok(())
}

/// `context`'s box. `split`: this process does not run every context, so the context's own
/// ring is required.
pub fn context_secrets(
    config: &LatchConfig,
    deployment: &SecretBox,
    context: ServiceName,
    split: bool,
) -> anyhow::Result<SecretBox> {
    let Some((setting, ring)) = ring_of(config, context) else {
        return Ok(deployment.clone());
    };
    if split && ring.trim().is_empty() {
        anyhow::bail!(
            "{setting} (LATCH_{}) is required when services run in separate processes: the {context} service seals its \
             secrets with keys no other process holds (id:base64, e.g. k1:$(openssl rand -base64 32))",
            setting.to_uppercase().replace('.', "__")
        );
    }
    Ok(deployment.for_context(ring, setting)?)
}

fn sealed_column(context: ServiceName) -> Option<(SealedColumn, &'static [latch_runtime::database::Migration])> {
    match context {
        ServiceName::Identity => Some((latch_identity::store::SEALED, latch_identity::store::MIGRATIONS)),
        ServiceName::Catalog => Some((latch_catalog::store::SEALED, latch_catalog::store::MIGRATIONS)),
        ServiceName::Request => Some((latch_request::store::SEALED, latch_request::store::MIGRATIONS)),
        ServiceName::Flow | ServiceName::Gateway => None,
    }
}

/// `latchd --reseal`: every secret of the contexts in `contexts` (the sealing ones of them)
/// sealed again under the newest key of the context's ring. On SQLite, with the server
/// stopped (the data directory's lock says so); on PostgreSQL, beside running replicas.
pub async fn reseal_all(
    config: &LatchConfig,
    contexts: &[ServiceName],
) -> anyhow::Result<Vec<(ServiceName, ResealReport)>> {
    let _lock = if config.is_postgres() {
        None
    } else {
        Some(latch_runtime::database::lock_data_dir(&config.data_dir)?)
    };
    let deployment = SecretBox::from_config_or_file(&config.encryption_key, &config.data_dir)?;
    let split = contexts.len() < crate::ALL_SERVICES.len();
    let mut reports = Vec::new();
    for context in contexts {
        let Some((column, migrations)) = sealed_column(*context) else {
            continue;
        };
        let secrets = context_secrets(config, &deployment, *context, split)?;
        let db = latch_runtime::database::connect_context(config, context.as_str(), migrations).await?;
        let report = reseal(&db, column, &secrets)
            .await
            .map_err(|e| anyhow::anyhow!("{context}: {e}"))?;
        reports.push((*context, report));
    }
    Ok(reports)
}
