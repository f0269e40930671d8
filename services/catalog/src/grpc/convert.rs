//! Domain ↔ proto conversions for the catalog API.

use latch_connector_sdk::convert::description_to_proto;
use latch_proto::catalog::v1 as pb;
use latch_runtime::{ServiceError, ServiceResult};

use crate::directory::PrincipalKind;
use crate::domain::principal::Principal;
use crate::domain::records::{AccessScope, Bundle, Integration, ResourceRecord, Space, StatusState, SyncSummary};
use crate::domain::tags::TagSelector;
use crate::domain::target::{AccessScopeQuery, IntegrationTarget, ResolvedItem, Selection, SelectionMode, Target};
use crate::service::CatalogState;

pub use latch_runtime::wire::timestamp;

pub fn principal(principal: &Principal) -> pb::Principal {
    match principal {
        Principal::User(id) => pb::Principal {
            kind: pb::principal::Kind::User as i32,
            id: id.clone(),
        },
        Principal::Group(id) => pb::Principal {
            kind: pb::principal::Kind::Group as i32,
            id: id.clone(),
        },
    }
}

pub fn principal_ref(field: &str, principal: &pb::Principal) -> ServiceResult<(PrincipalKind, String)> {
    let kind = match pb::principal::Kind::try_from(principal.kind) {
        Ok(pb::principal::Kind::User) => PrincipalKind::User,
        Ok(pb::principal::Kind::Group) => PrincipalKind::Group,
        _ => {
            return Err(ServiceError::invalid(
                format!("{field}.kind"),
                "must be KIND_USER or KIND_GROUP",
            ));
        }
    };
    if principal.id.trim().is_empty() {
        return Err(ServiceError::invalid(
            format!("{field}.id"),
            "must name a user or group",
        ));
    }
    Ok((kind, principal.id.trim().to_string()))
}

pub fn space(space: &Space) -> pb::Space {
    pb::Space {
        name: format!("spaces/{}", space.id),
        id: space.id.clone(),
        display_name: space.name.clone(),
        admins: space.admins.iter().map(principal).collect(),
        create_time: Some(timestamp(space.created_at)),
    }
}

fn sync_summary(summary: &SyncSummary) -> pb::SyncSummary {
    pb::SyncSummary {
        sync_time: summary.synced_at.map(timestamp),
        resources: summary.resources,
        added: summary.added,
        removed: summary.removed,
        error: summary.error.clone(),
    }
}

pub fn sync(summary: &SyncSummary) -> pb::SyncIntegrationResponse {
    pb::SyncIntegrationResponse {
        summary: Some(sync_summary(summary)),
    }
}

pub fn integration(integration: &Integration, state: &CatalogState) -> pb::Integration {
    let state_value = match integration.status.state {
        StatusState::Unknown => pb::integration_status::State::Unknown,
        StatusState::Ok => pb::integration_status::State::Ok,
        StatusState::Error => pb::integration_status::State::Error,
    };
    pb::Integration {
        name: format!("integrations/{}", integration.id),
        id: integration.id.clone(),
        display_name: integration.name.clone(),
        connector: integration.connector.clone(),
        endpoint: integration.endpoint.clone(),
        config: integration.config.clone().into_iter().collect(),
        secrets_set: integration.secrets_set.clone(),
        owner: integration.owner.as_ref().map(principal),
        space: integration.space.clone().unwrap_or_default(),
        status: Some(pb::IntegrationStatus {
            state: state_value as i32,
            problems: integration.status.problems.clone(),
            check_time: integration.status.checked_at.map(timestamp),
        }),
        resource_types: state
            .descriptions
            .get(&integration.id)
            .map(|d| description_to_proto(d).resource_types)
            .unwrap_or_default(),
        last_sync: Some(sync_summary(&integration.last_sync)),
        create_time: Some(timestamp(integration.created_at)),
        update_time: Some(timestamp(integration.updated_at)),
        etag: latch_runtime::wire::etag(integration.version),
    }
}

pub fn resource(record: &ResourceRecord) -> pb::Resource {
    pb::Resource {
        name: format!("integrations/{}/resources/{}", record.integration_id, record.id),
        integration_id: record.integration_id.clone(),
        id: record.id.clone(),
        display_name: record.name.clone(),
        path: record.path.clone(),
        parent_id: record.parent_id.clone(),
        r#type: record.resource_type.clone(),
        tags: record.tags().into_iter().collect(),
        system_tags: record.system_tags.clone().into_iter().collect(),
        admin_tags: record.admin_tags.clone().into_iter().collect(),
        owners: record.owners.iter().map(principal).collect(),
        owner_hint: record.owner_hint.clone(),
        present: record.present,
        sync_time: Some(timestamp(record.synced_at)),
    }
}

fn tag_selector(field: &str, selector: &pb::TagSelector) -> ServiceResult<TagSelector> {
    let text = if selector.values.is_empty() {
        selector.key.clone()
    } else {
        format!("{}={}", selector.key, selector.values.join("|"))
    };
    TagSelector::parse(&text).map_err(|e| ServiceError::invalid(field, e))
}

fn tag_selector_to_proto(selector: &TagSelector) -> pb::TagSelector {
    pb::TagSelector {
        key: selector.key.clone(),
        values: selector.values.clone(),
    }
}

pub fn integration_target(field: &str, target: &pb::IntegrationTarget) -> ServiceResult<IntegrationTarget> {
    let selection = target.selection.clone().unwrap_or_default();
    let mode = match pb::selection::Mode::try_from(selection.mode) {
        Ok(pb::selection::Mode::Any | pb::selection::Mode::Unspecified) => SelectionMode::Any,
        Ok(pb::selection::Mode::Include) => SelectionMode::Include,
        Ok(pb::selection::Mode::Exclude) => SelectionMode::Exclude,
        Err(_) => {
            return Err(ServiceError::invalid(
                format!("{field}.selection.mode"),
                "must be ANY, INCLUDE or EXCLUDE",
            ));
        }
    };
    let tags = selection
        .tags
        .iter()
        .enumerate()
        .map(|(i, t)| tag_selector(&format!("{field}.selection.tags[{i}]"), t))
        .collect::<ServiceResult<Vec<_>>>()?;
    Ok(IntegrationTarget {
        integration: target.integration.trim().to_string(),
        resource_type: target.resource_type.trim().to_string(),
        permissions: target.permissions.iter().map(|p| p.trim().to_string()).collect(),
        selection: Selection {
            mode,
            resource_ids: selection.resource_ids,
            resource_names: selection.resource_names,
            tags,
        },
    })
}

pub fn integration_target_to_proto(target: &IntegrationTarget) -> pb::IntegrationTarget {
    let mode = match target.selection.mode {
        SelectionMode::Any => pb::selection::Mode::Any,
        SelectionMode::Include => pb::selection::Mode::Include,
        SelectionMode::Exclude => pb::selection::Mode::Exclude,
    };
    pb::IntegrationTarget {
        integration: target.integration.clone(),
        resource_type: target.resource_type.clone(),
        permissions: target.permissions.clone(),
        selection: Some(pb::Selection {
            mode: mode as i32,
            resource_ids: target.selection.resource_ids.clone(),
            resource_names: target.selection.resource_names.clone(),
            tags: target.selection.tags.iter().map(tag_selector_to_proto).collect(),
        }),
    }
}

pub fn bundle(bundle: &Bundle) -> pb::Bundle {
    pb::Bundle {
        name: format!("bundles/{}", bundle.id),
        id: bundle.id.clone(),
        display_name: bundle.name.clone(),
        description: bundle.description.clone(),
        space: bundle.space.clone().unwrap_or_default(),
        targets: bundle.targets.iter().map(integration_target_to_proto).collect(),
        create_time: Some(timestamp(bundle.created_at)),
    }
}

pub fn query(field: &str, query: &pb::AccessScopeQuery) -> ServiceResult<AccessScopeQuery> {
    let selectors = |name: &str, list: &[pb::TagSelector]| {
        list.iter()
            .enumerate()
            .map(|(i, t)| tag_selector(&format!("{field}.{name}[{i}]"), t))
            .collect::<ServiceResult<Vec<_>>>()
    };
    Ok(AccessScopeQuery {
        integrations: query.integrations.clone(),
        resource_types: query.resource_types.clone(),
        name_patterns: query.name_patterns.clone(),
        include_tags: selectors("include_tags", &query.include_tags)?,
        exclude_tags: selectors("exclude_tags", &query.exclude_tags)?,
    })
}

pub fn query_to_proto(query: &AccessScopeQuery) -> pb::AccessScopeQuery {
    pb::AccessScopeQuery {
        integrations: query.integrations.clone(),
        resource_types: query.resource_types.clone(),
        name_patterns: query.name_patterns.clone(),
        include_tags: query.include_tags.iter().map(tag_selector_to_proto).collect(),
        exclude_tags: query.exclude_tags.iter().map(tag_selector_to_proto).collect(),
    }
}

pub fn scope(scope: &AccessScope) -> pb::AccessScope {
    pb::AccessScope {
        name: format!("accessScopes/{}", scope.id),
        id: scope.id.clone(),
        display_name: scope.name.clone(),
        description: scope.description.clone(),
        space: scope.space.clone().unwrap_or_default(),
        query: Some(query_to_proto(&scope.query)),
        create_time: Some(timestamp(scope.created_at)),
    }
}

pub fn target(field: &str, target: &pb::Target) -> ServiceResult<Target> {
    match &target.kind {
        Some(pb::target::Kind::Integration(t)) => Ok(Target::Integration(integration_target(
            &format!("{field}.integration"),
            t,
        )?)),
        Some(pb::target::Kind::Bundle(b)) => Ok(Target::Bundle(b.clone())),
        Some(pb::target::Kind::Scope(s)) => Ok(Target::Scope {
            scope: s.scope.clone(),
            permissions: s.permissions.clone(),
        }),
        None => Err(ServiceError::invalid(
            field,
            "must be an integration target, a bundle or an access scope",
        )),
    }
}

pub fn item(item: &ResolvedItem) -> pb::ResolvedItem {
    pb::ResolvedItem {
        integration_id: item.integration_id.clone(),
        resource_id: item.resource_id.clone(),
        resource_type: item.resource_type.clone(),
        permission: item.permission.clone(),
        resource_path: item.resource_path.clone(),
    }
}
