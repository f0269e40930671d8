//! Resources and resolved items carry integration ids; tables show names. One extra list call,
//! made only for table output.

use std::collections::HashMap;

use latch_proto::catalog::v1::ListIntegrationsRequest;

use crate::client::CatalogClient;
use crate::context::Context;
use crate::error::CliError;

/// Integration id → display name; empty for JSON output, which keeps the ids.
pub async fn for_tables(ctx: &Context, client: &mut CatalogClient) -> Result<HashMap<String, String>, CliError> {
    if ctx.json() {
        return Ok(HashMap::new());
    }
    let integrations = client
        .list_integrations(ListIntegrationsRequest { space: String::new() })
        .await?
        .into_inner()
        .integrations;
    Ok(integrations
        .into_iter()
        .map(|integration| (integration.id, integration.display_name))
        .collect())
}
