//! The conformance kit: what every connector's tests run against a real target system.
//!
//! ```ignore
//! let case = ConformanceCase::new(config, "table", "table:app/public/orders", "read");
//! latch_connector_sdk::conformance::check(&connector, &case).await.unwrap();
//! ```

use chrono::{TimeDelta, Utc};

use crate::connector::Connector;
use crate::error::ConnectorError;
use crate::model::{Config, GrantRequest, Grantee};

/// One resource and permission of a working integration to exercise.
#[derive(Debug, Clone)]
pub struct ConformanceCase {
    pub config: Config,
    pub resource_type: String,
    pub resource_id: String,
    pub permission: String,
    pub grantee: Grantee,
}

impl ConformanceCase {
    pub fn new(config: Config, resource_type: &str, resource_id: &str, permission: &str) -> Self {
        Self {
            config,
            resource_type: resource_type.into(),
            resource_id: resource_id.into(),
            permission: permission.into(),
            grantee: Grantee {
                user_id: "conformance-user".into(),
                user_name: "conformance".into(),
                email: "conformance@example.com".into(),
                attributes: Default::default(),
            },
        }
    }
}

impl ConformanceCase {
    /// A grant of the case's resource and permission for an hour, under a fresh grant id.
    fn grant_request(&self, prefix: &str) -> GrantRequest {
        GrantRequest {
            grant_id: format!("{prefix}-{}", Utc::now().timestamp_nanos_opt().unwrap_or_default()),
            grantee: self.grantee.clone(),
            resource_type: self.resource_type.clone(),
            resource_id: self.resource_id.clone(),
            permission: self.permission.clone(),
            expires_at: Some(Utc::now() + TimeDelta::hours(1)),
            context: Default::default(),
        }
    }
}

fn fail(what: impl Into<String>) -> Result<(), String> {
    Err(what.into())
}

/// Runs every check; the error names the first broken rule.
pub async fn check<C: Connector + ?Sized>(connector: &C, case: &ConformanceCase) -> Result<(), String> {
    let description = connector.describe();
    if description.name.is_empty() || description.resource_types.is_empty() {
        return fail("describe: a connector has a name and at least one resource type");
    }
    for kind in &description.resource_types {
        if kind.permissions.is_empty() || kind.permissions.iter().any(|p| p.name.is_empty()) {
            return fail(format!("describe: resource type {} needs named permissions", kind.name));
        }
    }
    let Some(kind) = description.resource_type(&case.resource_type) else {
        return fail(format!(
            "describe: the case's resource type {} is not described",
            case.resource_type
        ));
    };
    if !kind.has_permission(&case.permission) {
        return fail(format!(
            "describe: {} does not list permission {}",
            case.resource_type, case.permission
        ));
    }

    let problems = connector
        .validate_config(&case.config)
        .await
        .map_err(|e| format!("validate_config: {e}"))?;
    if !problems.is_empty() {
        return fail(format!(
            "validate_config: a working config reported problems: {problems:?}"
        ));
    }
    let mut broken = case.config.clone();
    for field in description.config_fields.iter().filter(|f| f.required) {
        broken.remove(&field.name);
    }
    if description.config_fields.iter().any(|f| f.required) {
        match connector.validate_config(&broken).await {
            Ok(problems) if problems.is_empty() => {
                return fail("validate_config: a config without its required fields must report problems");
            }
            _ => {}
        }
    }

    let resources = connector
        .list_resources(&case.config)
        .await
        .map_err(|e| format!("list_resources: {e}"))?;
    if !resources.iter().any(|r| r.id == case.resource_id) {
        return fail(format!(
            "list_resources: the case's resource {} is missing",
            case.resource_id
        ));
    }
    if let Some(stray) = resources
        .iter()
        .find(|r| description.resource_type(&r.resource_type).is_none())
    {
        return fail(format!(
            "list_resources: {} has undescribed type {}",
            stray.id, stray.resource_type
        ));
    }

    let request = case.grant_request("conformance");
    let grant_id = request.grant_id.clone();
    let first = connector
        .grant(&case.config, &request)
        .await
        .map_err(|e| format!("grant: {e}"))?;
    let second = connector
        .grant(&case.config, &request)
        .await
        .map_err(|e| format!("grant again: {e}"))?;
    if first.account != second.account {
        return fail("grant: granting the same grant_id twice must return the same account");
    }
    let held = connector
        .list_grants(&case.config)
        .await
        .map_err(|e| format!("list_grants: {e}"))?;
    let matching: Vec<_> = held.iter().filter(|g| g.grant_id == grant_id).collect();
    if matching.len() != 1 {
        return fail(format!(
            "list_grants: expected the grant once after granting twice, found {}",
            matching.len()
        ));
    }
    if matching[0].resource_id != case.resource_id || matching[0].permission != case.permission {
        return fail("list_grants: the record must name the granted resource and permission");
    }

    connector
        .extend(&case.config, &grant_id, Some(Utc::now() + TimeDelta::hours(2)))
        .await
        .map_err(|e| format!("extend: {e}"))?;
    let again = connector
        .grant(&case.config, &request)
        .await
        .map_err(|e| format!("grant after extend: {e}"))?;
    if again.account != first.account {
        return fail("extend: the grant keeps its account");
    }

    match connector
        .extend(
            &case.config,
            "conformance-never-granted",
            Some(Utc::now() + TimeDelta::hours(2)),
        )
        .await
    {
        Err(ConnectorError::NotFound(_)) => {}
        Err(other) => {
            return fail(format!(
                "extend: a grant the system does not hold must be NOT_FOUND, got {other}"
            ));
        }
        Ok(()) => return fail("extend: a grant the system does not hold cannot be extended"),
    }

    let bad = GrantRequest {
        grant_id: format!("{grant_id}-bad"),
        permission: "no-such-permission".into(),
        ..request.clone()
    };
    match connector.grant(&case.config, &bad).await {
        Err(ConnectorError::InvalidArgument { field, .. }) if field == "permission" => {}
        Err(other) => {
            return fail(format!(
                "grant: an unknown permission must be INVALID_ARGUMENT on permission, got {other}"
            ));
        }
        Ok(_) => return fail("grant: an unknown permission must be refused"),
    }

    connector
        .revoke(&case.config, &grant_id)
        .await
        .map_err(|e| format!("revoke: {e}"))?;
    connector
        .revoke(&case.config, &grant_id)
        .await
        .map_err(|e| format!("revoke twice: {e}"))?;
    connector
        .revoke(&case.config, "conformance-never-granted")
        .await
        .map_err(|e| format!("revoke of an unknown grant must succeed: {e}"))?;
    let held = connector
        .list_grants(&case.config)
        .await
        .map_err(|e| format!("list_grants: {e}"))?;
    if held.iter().any(|g| g.grant_id == grant_id) {
        return fail("list_grants: a revoked grant must be gone");
    }
    Ok(())
}

/// Callers a served connector must refuse: one with no client certificate, and one whose
/// certificate (from the right authority) names a Latch service other than the catalog.
#[derive(Clone, Debug)]
pub struct Strangers {
    pub anonymous: latch_tls::client::TlsConnector,
    pub wrong_service: latch_tls::client::TlsConnector,
}

/// Over gRPC at `endpoint` (`https://…`): `Grant` from a caller in plain text, with no
/// certificate, or with a certificate of the wrong service is refused, and grants nothing
/// (`authorized`, the catalog's own client, does not list it afterwards).
pub async fn check_caller_authentication(
    endpoint: &str,
    strangers: &Strangers,
    authorized: &dyn Connector,
    case: &ConformanceCase,
) -> Result<(), String> {
    use latch_proto::connector::v1::connector_service_client::ConnectorServiceClient;

    let request = case.grant_request("conformance-stranger");
    let grant_id = request.grant_id.clone();
    let plain = endpoint.replacen("https://", "http://", 1);
    let attempts = [
        ("plain text", plain.as_str(), latch_tls::client::TlsConnector::plain()),
        ("no client certificate", endpoint, strangers.anonymous.clone()),
        (
            "a certificate naming another service",
            endpoint,
            strangers.wrong_service.clone(),
        ),
    ];
    for (who, address, dialer) in attempts {
        let target = tonic::transport::Endpoint::from_shared(address.to_string())
            .map_err(|e| format!("endpoint {address}: {e}"))?
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(10));
        let channel = dialer.channel(target);
        let answer = ConnectorServiceClient::new(channel)
            .grant(crate::convert::grant_request_to_proto(&case.config, &request))
            .await;
        if answer.is_ok() {
            return fail(format!(
                "caller authentication: a Grant from a caller with {who} was accepted"
            ));
        }
    }
    let held = authorized
        .list_grants(&case.config)
        .await
        .map_err(|e| format!("list_grants: {e}"))?;
    if held.iter().any(|g| g.grant_id == grant_id) {
        return fail("caller authentication: a refused Grant left a grant behind");
    }
    Ok(())
}
