//! Model ↔ proto conversions shared by the server harness and the client.

use chrono::{DateTime, Utc};
use latch_proto::common::v1::Attribute;
use latch_proto::connector::v1 as pb;

use crate::error::ConnectorError;
use crate::model::{
    Config, ConfigField, Description, GrantOutcome, GrantRecord, GrantRequest, Grantee, Permission, Resource,
    ResourceType,
};

pub fn config(map: &std::collections::HashMap<String, String>) -> Config {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

pub fn config_to_proto(config: &Config) -> std::collections::HashMap<String, String> {
    config.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// `at` on the wire, clamped into the range a protobuf `Timestamp` may hold.
pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    latch_proto::time::timestamp(at)
}

/// An optional timestamp field; one outside the range a `Timestamp` may hold is refused.
pub fn instant(field: &str, ts: Option<&prost_types::Timestamp>) -> Result<Option<DateTime<Utc>>, ConnectorError> {
    ts.map(|ts| {
        latch_proto::time::to_datetime(ts).ok_or_else(|| {
            ConnectorError::invalid(
                field,
                format!("is not a valid timestamp (it must lie in {})", latch_proto::time::RANGE),
            )
        })
    })
    .transpose()
}

pub fn description_to_proto(description: &Description) -> pb::DescribeResponse {
    pb::DescribeResponse {
        name: description.name.clone(),
        version: description.version.clone(),
        resource_types: description
            .resource_types
            .iter()
            .map(|t| pb::ResourceType {
                name: t.name.clone(),
                description: t.description.clone(),
                permissions: t
                    .permissions
                    .iter()
                    .map(|p| pb::Permission {
                        name: p.name.clone(),
                        description: p.description.clone(),
                    })
                    .collect(),
            })
            .collect(),
        config_fields: description
            .config_fields
            .iter()
            .map(|f| pb::ConfigField {
                name: f.name.clone(),
                description: f.description.clone(),
                required: f.required,
                secret: f.secret,
                default_value: f.default_value.clone(),
            })
            .collect(),
    }
}

pub fn description(response: pb::DescribeResponse) -> Description {
    Description {
        name: response.name,
        version: response.version,
        resource_types: response
            .resource_types
            .into_iter()
            .map(|t| ResourceType {
                name: t.name,
                description: t.description,
                permissions: t
                    .permissions
                    .into_iter()
                    .map(|p| Permission {
                        name: p.name,
                        description: p.description,
                    })
                    .collect(),
            })
            .collect(),
        config_fields: response
            .config_fields
            .into_iter()
            .map(|f| ConfigField {
                name: f.name,
                description: f.description,
                required: f.required,
                secret: f.secret,
                default_value: f.default_value,
                // The contract does not carry ranges yet: a remote connector checks its own.
                range: None,
            })
            .collect(),
    }
}

pub fn resource_to_proto(resource: Resource) -> pb::Resource {
    pb::Resource {
        id: resource.id,
        name: resource.name,
        path: resource.path,
        parent_id: resource.parent_id,
        r#type: resource.resource_type,
        tags: resource.tags.into_iter().collect(),
        owner_hint: resource.owner_hint,
    }
}

pub fn resource(resource: pb::Resource) -> Resource {
    Resource {
        id: resource.id,
        name: resource.name,
        path: resource.path,
        parent_id: resource.parent_id,
        resource_type: resource.r#type,
        tags: resource.tags.into_iter().collect(),
        owner_hint: resource.owner_hint,
    }
}

pub fn grant_request(request: pb::GrantRequest) -> Result<(Config, GrantRequest), ConnectorError> {
    let grantee = request.grantee.unwrap_or_default();
    let expires_at = instant("expires_at", request.expires_at.as_ref())?;
    Ok((
        config(&request.config),
        GrantRequest {
            grant_id: request.grant_id,
            grantee: Grantee {
                user_id: grantee.user_id,
                user_name: grantee.user_name,
                email: grantee.email,
                attributes: grantee.attributes.into_iter().map(|a| (a.key, a.values)).collect(),
            },
            resource_type: request.resource_type,
            resource_id: request.resource_id,
            permission: request.permission,
            expires_at,
            context: request.context.into_iter().collect(),
        },
    ))
}

pub fn grant_request_to_proto(config: &Config, request: &GrantRequest) -> pb::GrantRequest {
    pb::GrantRequest {
        grant_id: request.grant_id.clone(),
        config: config_to_proto(config),
        grantee: Some(pb::Grantee {
            user_id: request.grantee.user_id.clone(),
            user_name: request.grantee.user_name.clone(),
            email: request.grantee.email.clone(),
            attributes: request
                .grantee
                .attributes
                .iter()
                .map(|(key, values)| Attribute {
                    key: key.clone(),
                    values: values.clone(),
                })
                .collect(),
        }),
        resource_type: request.resource_type.clone(),
        resource_id: request.resource_id.clone(),
        permission: request.permission.clone(),
        expires_at: request.expires_at.map(timestamp),
        context: request.context.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    }
}

pub fn outcome_to_proto(outcome: GrantOutcome) -> pb::GrantResponse {
    pb::GrantResponse {
        account: outcome.account,
        credentials: outcome.credentials.into_iter().collect(),
    }
}

pub fn outcome(response: pb::GrantResponse) -> GrantOutcome {
    GrantOutcome {
        account: response.account,
        credentials: response.credentials.into_iter().collect(),
    }
}

pub fn record_to_proto(record: GrantRecord) -> pb::GrantRecord {
    pb::GrantRecord {
        grant_id: record.grant_id,
        resource_type: record.resource_type,
        resource_id: record.resource_id,
        permission: record.permission,
        account: record.account,
        expires_at: record.expires_at.map(timestamp),
    }
}

pub fn record(record: pb::GrantRecord) -> Result<GrantRecord, ConnectorError> {
    Ok(GrantRecord {
        expires_at: instant("expires_at", record.expires_at.as_ref())?,
        grant_id: record.grant_id,
        resource_type: record.resource_type,
        resource_id: record.resource_id,
        permission: record.permission,
        account: record.account,
    })
}
