//! Each context's secrets box: its own key ring (`<context>.encryption_keys`) over the
//! deployment's key, which then only opens values sealed before the context had keys of its
//! own. In a split deployment every context that seals secrets must have its own ring, and a
//! process is given no other context's, so it never holds a key that opens another context's
//! secrets.

use crate::LatchConfig;
use crate::crypto::SecretBox;
use crate::service_identity::ServiceName;

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
