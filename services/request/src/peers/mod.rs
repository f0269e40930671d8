//! The other contexts as the request context reaches them: through each one's generated gRPC
//! client, over a [`latch_runtime::peer::Peer`] (in memory when they share this process).

pub mod catalog;
pub mod flow;
mod flow_wire;
pub mod identity;
