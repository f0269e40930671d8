//! User, group and subject RPCs that need more than a line.

use latch_proto::identity::v1 as pb;
use latch_runtime::Caller;
use latch_runtime::auth::caller;
use latch_runtime::pagination::{Page, PageScope};
use latch_runtime::{ServiceError, ServiceResult};
use tonic::{Request, Response, Status};

use super::{IdentityGrpc, convert, etag_version};
use crate::domain::user::UserDraft;
use crate::service::{GroupDraft, draft_of};

const USER_FIELDS: &[&str] = &[
    "user_name",
    "email",
    "display_name",
    "active",
    "attributes",
    "manager_id",
    "external_id",
];

/// A manager reference may be a user id or a user name; empty means none.
fn manager_id(service: &crate::IdentityService, value: &str) -> ServiceResult<Option<String>> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    service
        .directory()
        .find_user(value.trim())
        .map(|u| Some(u.id.clone()))
        .ok_or_else(|| ServiceError::invalid("user.manager_id", format!("no user {value:?}")))
}

fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

impl IdentityGrpc {
    pub(super) async fn create_user_impl(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.get_ref();
        let user = request
            .user
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("user", "is required"))?;
        let draft = UserDraft {
            user_name: user.user_name.clone(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            active: user.active,
            attributes: convert::attributes_from_proto(&user.attributes),
            manager_id: manager_id(&self.service, &user.manager_id)?,
            external_id: non_empty(&user.external_id),
            scim_extra: Default::default(),
        };
        let created = self
            .service
            .create_user(&caller.actor(), draft, &request.request_id)
            .await?;
        Ok(Response::new(convert::user(&created, &self.service.directory())))
    }

    pub(super) async fn update_user_impl(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.get_ref();
        let patch = request
            .user
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("user", "is required"))?;
        let id = if patch.id.is_empty() {
            patch.name.trim_start_matches("users/")
        } else {
            patch.id.as_str()
        };
        let paths: Vec<&str> = match &request.update_mask {
            Some(mask) if !mask.paths.is_empty() => mask.paths.iter().map(String::as_str).collect(),
            _ => USER_FIELDS.to_vec(),
        };
        let expected = etag_version("user.etag", &patch.etag)?;
        // Without an etag the fields outside the mask come from a fresh read, guarded by its
        // version: a concurrent write makes us read again instead of being undone.
        let mut attempts = 0;
        let updated = loop {
            attempts += 1;
            let current = self.service.get_user(id)?;
            let mut draft = draft_of(&current);
            for path in &paths {
                match *path {
                    "user_name" => draft.user_name = patch.user_name.clone(),
                    "email" => draft.email = patch.email.clone(),
                    "display_name" => draft.display_name = patch.display_name.clone(),
                    "active" => draft.active = patch.active,
                    "attributes" => draft.attributes = convert::attributes_from_proto(&patch.attributes),
                    "manager_id" => draft.manager_id = manager_id(&self.service, &patch.manager_id)?,
                    "external_id" => draft.external_id = non_empty(&patch.external_id),
                    other => {
                        return Err(ServiceError::invalid(
                            "update_mask",
                            format!("unknown field {other:?}; updatable: {}", USER_FIELDS.join(", ")),
                        )
                        .into());
                    }
                }
            }
            let version = expected.unwrap_or(current.version);
            match self
                .service
                .replace_user(&caller.actor(), &current.id, draft, Some(version))
                .await
            {
                Err(ServiceError::Aborted(_)) if expected.is_none() && attempts < 5 => continue,
                result => break result?,
            }
        };
        Ok(Response::new(convert::user(&updated, &self.service.directory())))
    }

    pub(super) fn list_users_impl(
        &self,
        caller: &Caller,
        request: &pb::ListUsersRequest,
    ) -> ServiceResult<pb::ListUsersResponse> {
        let scope = PageScope::new("identity.users", &caller.user_id, (&request.query, &request.attribute));
        let page = Page::parse(request.page_size, &request.page_token, &scope)?;
        let query = request.query.trim().to_lowercase();
        let attribute = match request.attribute.trim() {
            "" => None,
            text => Some(
                text.split_once('=')
                    .ok_or_else(|| ServiceError::invalid("attribute", "must be key=value"))?,
            ),
        };
        let directory = self.service.directory();
        let matching: Vec<_> = directory
            .users_sorted()
            .into_iter()
            .filter(|u| {
                query.is_empty()
                    || u.user_name.to_lowercase().contains(&query)
                    || u.email.to_lowercase().contains(&query)
                    || u.display_name.to_lowercase().contains(&query)
            })
            .filter(|u| attribute.is_none_or(|(key, value)| u.attribute(key.trim()).iter().any(|v| v == value.trim())))
            .collect();
        let (users, next_page_token) = page.fill(&matching, &scope, |u| convert::user(u, &directory));
        Ok(pb::ListUsersResponse {
            users,
            next_page_token,
            total_size: matching.len() as i64,
        })
    }

    pub(super) async fn create_group_impl(
        &self,
        request: Request<pb::CreateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.get_ref();
        let group = request
            .group
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("group", "is required"))?;
        let members = {
            let directory = self.service.directory();
            group
                .members
                .iter()
                .enumerate()
                .map(|(i, m)| convert::member(&format!("group.members[{i}]"), Some(m), &directory))
                .collect::<ServiceResult<Vec<_>>>()?
        };
        let draft = GroupDraft {
            display_name: group.display_name.clone(),
            external_id: non_empty(&group.external_id),
            members: Some(members),
        };
        let created = self
            .service
            .create_group(&caller.actor(), draft, &request.request_id)
            .await?;
        Ok(Response::new(convert::group(&created, &self.service.directory())))
    }

    pub(super) fn list_groups_impl(
        &self,
        caller: &Caller,
        request: &pb::ListGroupsRequest,
    ) -> ServiceResult<pb::ListGroupsResponse> {
        let scope = PageScope::new("identity.groups", &caller.user_id, &request.query);
        let page = Page::parse(request.page_size, &request.page_token, &scope)?;
        let query = request.query.trim().to_lowercase();
        let directory = self.service.directory();
        let matching: Vec<_> = directory
            .groups_sorted()
            .into_iter()
            .filter(|g| query.is_empty() || g.display_name.to_lowercase().contains(&query))
            .collect();
        let (groups, next_page_token) = page.fill(&matching, &scope, |g| convert::group(g, &directory));
        Ok(pb::ListGroupsResponse {
            groups,
            next_page_token,
            total_size: matching.len() as i64,
        })
    }

    pub(super) fn resolve_subject_impl(&self, request: &pb::ResolveSubjectRequest) -> ServiceResult<pb::Subject> {
        let at = convert::optional_instant("at", request.at.as_ref(), self.service.now())?;
        let directory = self.service.directory();
        let subject = directory
            .resolve_subject(&request.user_id, at)
            .ok_or_else(|| ServiceError::NotFound(format!("user {:?}", request.user_id)))?;
        Ok(pb::Subject {
            user: Some(convert::user(&subject.user, &directory)),
            groups: subject
                .groups
                .iter()
                .map(|g| pb::GroupRef {
                    id: g.id.clone(),
                    display_name: g.display_name.clone(),
                })
                .collect(),
            manager: subject.manager.as_deref().map(convert::user_ref),
            direct_reports: subject.direct_reports.iter().map(|u| convert::user_ref(u)).collect(),
            on_call: subject.on_call.iter().map(|s| convert::schedule_ref(s)).collect(),
            as_of_sequence: subject.as_of_sequence,
        })
    }
}
