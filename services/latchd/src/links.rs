//! Where this process finds each context it calls: over memory when the context runs here,
//! otherwise at the address in `peers.<context>`. Either way callers get the same [`Peer`] and
//! talk to it through the callee's generated gRPC client.

use std::collections::HashMap;

use latch_runtime::auth::SharedAuthenticator;
use latch_runtime::config::PeersConfig;
use latch_runtime::peer::{MemoryConnector, Peer};
use latch_runtime::server::GrpcRoutes;
use latch_runtime::service_identity::{ServiceKey, ServiceName};
use latch_tls::client::TlsConnector;

pub struct Links {
    key: ServiceKey,
    dialer: TlsConnector,
    local: HashMap<ServiceName, MemoryConnector>,
    remote: PeersConfig,
}

impl Links {
    pub fn new(key: ServiceKey, remote: PeersConfig, dialer: TlsConnector) -> Self {
        Self {
            key,
            dialer,
            local: HashMap::new(),
            remote,
        }
    }

    /// Serves `service` (just added to `routes`) to the contexts built after it.
    pub fn serve(
        &mut self,
        service: ServiceName,
        routes: &GrpcRoutes,
        authenticator: SharedAuthenticator,
    ) -> tokio::task::JoinHandle<()> {
        let (connector, task) = routes.spawn_in_process(authenticator);
        self.local.insert(service, connector);
        task
    }

    /// `me`'s link to `callee`; an error naming the setting when `callee` is neither here nor
    /// configured.
    pub fn peer(&self, callee: ServiceName, me: ServiceName) -> anyhow::Result<Peer> {
        if let Some(connector) = self.local.get(&callee) {
            return Ok(Peer::in_process(callee, connector.clone(), me, self.key.clone()));
        }
        match self.remote.of(callee) {
            Some(url) => Peer::remote(callee, url, me, self.key.clone(), &self.dialer),
            None => anyhow::bail!(
                "the {me} service needs the {callee} service: run it in this process (--services …,{callee}) \
                 or set peers.{callee} (LATCH_PEERS__{}) to its gRPC address",
                callee.as_str().to_uppercase()
            ),
        }
    }
}
