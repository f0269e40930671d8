//! The generated Latch contracts, one module per proto package.
#![forbid(unsafe_code)]
#![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]

pub mod time;

/// The encoded `FileDescriptorSet` of every Latch package, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/latch_descriptor.bin"));

pub mod common {
    pub mod v1 {
        tonic::include_proto!("latch.common.v1");
    }
}

pub mod identity {
    pub mod v1 {
        tonic::include_proto!("latch.identity.v1");
    }
}

pub mod connector {
    pub mod v1 {
        tonic::include_proto!("latch.connector.v1");
    }
}

pub mod catalog {
    pub mod v1 {
        tonic::include_proto!("latch.catalog.v1");
    }
}

pub mod flow {
    pub mod v1 {
        tonic::include_proto!("latch.flow.v1");
    }
}

pub mod request {
    pub mod v1 {
        tonic::include_proto!("latch.request.v1");
    }
}
