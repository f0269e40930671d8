//! `latchd --reseal`: where each context keeps its sealed column, and the re-seal of every
//! context asked for (the key-ring rules are `latch_runtime::key_rings`).

use latch_runtime::LatchConfig;
use latch_runtime::crypto::SecretBox;
use latch_runtime::key_rings::context_secrets;
use latch_runtime::reseal::{ResealReport, SealedColumn, reseal};
use latch_runtime::service_identity::ServiceName;

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
