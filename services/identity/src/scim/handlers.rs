//! The SCIM endpoints.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latch_runtime::ServiceError;
use latch_runtime::auth::{TokenScope, bearer_token};
use serde_json::{Value, json};

use super::ScimState;
use super::discovery::{self, LIST_SCHEMA};
use super::error::{CONTENT_TYPE, ScimError};
use super::listing::{ListQuery, list_resources, project_one};
use super::member_patch::member_changes;
use super::patch::parse_operations;
use super::resources::{group_draft, group_json, user_draft, user_json};
use super::schema::ResourceKind;
use super::schema_check::{apply_patch, check_operations};
use crate::service::{SCIM_ACTOR, parse_etag};

type ScimResult = Result<Response, ScimError>;

/// How often a PATCH without If-Match retries after losing a race to a concurrent writer.
const PATCH_ATTEMPTS: usize = 3;

/// Checks the bearer token and returns the actor recorded for this request's changes.
async fn authorize(state: &ScimState, headers: &HeaderMap) -> Result<String, ScimError> {
    let token = bearer_token(headers)
        .ok_or_else(|| ScimError::unauthorized("send Authorization: Bearer <token> with a SCIM-scoped Latch token"))?;
    let caller = state.service.authenticate_token(token).await.map_err(ScimError::from)?;
    if caller.scope != TokenScope::Scim {
        return Err(ScimError::new(
            StatusCode::FORBIDDEN,
            None,
            "this token is not scoped to SCIM; create one with `latch tokens create --scope scim`",
        ));
    }
    // A SCIM token acts with its owner's authority, which must still be admin.
    if !caller.is_admin() {
        return Err(ScimError::new(
            StatusCode::FORBIDDEN,
            None,
            "the owner of this SCIM token is no longer an admin; an admin must issue a new one",
        ));
    }
    Ok(format!("{SCIM_ACTOR}:tokens/{}", caller.token_id))
}

fn base_url(state: &ScimState, headers: &HeaderMap) -> String {
    if let Some(public) = &state.public_url {
        return format!("{public}/scim/v2");
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    format!("{scheme}://{host}/scim/v2")
}

fn scim(status: StatusCode, body: Value) -> Response {
    let version = body
        .pointer("/meta/version")
        .and_then(Value::as_str)
        .map(str::to_string);
    let location = body
        .pointer("/meta/location")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Some(version) = version.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(header::ETAG, version);
    }
    if status == StatusCode::CREATED
        && let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok())
    {
        headers.insert(header::LOCATION, location);
    }
    response
}

/// Strict JSON within the document limits: a repeated key, deep nesting, control characters in
/// a name or a text longer than allowed are refused before anything reads the body.
fn parse_body(body: &Bytes) -> Result<Value, ScimError> {
    latch_runtime::document::read_json(body, latch_runtime::document::MAX_DEPTH)
        .map_err(|violation| ScimError::bad_request("invalidValue", violation.to_string()))
}

fn parse_query(raw: Option<String>) -> Result<ListQuery, ScimError> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| ScimError::bad_request("invalidValue", format!("query parameters: {e}")))
}

fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ScimError> {
    match headers.get(header::IF_MATCH).and_then(|h| h.to_str().ok()) {
        None | Some("*") => Ok(None),
        Some(value) => parse_etag(value).map(Some).ok_or_else(|| {
            ScimError::new(
                StatusCode::PRECONDITION_FAILED,
                None,
                "If-Match is not a version of this resource",
            )
        }),
    }
}

// ---- discovery ------------------------------------------------------------------------------

pub async fn service_provider_config(State(state): State<ScimState>, headers: HeaderMap) -> ScimResult {
    authorize(&state, &headers).await?;
    Ok(scim(
        StatusCode::OK,
        discovery::service_provider_config(&base_url(&state, &headers)),
    ))
}

fn list_of(resources: Vec<Value>) -> Value {
    json!({ "schemas": [LIST_SCHEMA], "totalResults": resources.len(), "startIndex": 1, "itemsPerPage": resources.len(), "Resources": resources })
}

pub async fn resource_types(State(state): State<ScimState>, headers: HeaderMap) -> ScimResult {
    authorize(&state, &headers).await?;
    Ok(scim(
        StatusCode::OK,
        list_of(discovery::resource_types(&base_url(&state, &headers))),
    ))
}

pub async fn resource_type(State(state): State<ScimState>, headers: HeaderMap, Path(id): Path<String>) -> ScimResult {
    authorize(&state, &headers).await?;
    discovery::resource_types(&base_url(&state, &headers))
        .into_iter()
        .find(|r| r["id"].as_str().is_some_and(|r| r.eq_ignore_ascii_case(&id)))
        .map(|r| scim(StatusCode::OK, r))
        .ok_or_else(|| ScimError::not_found(format!("resource type {id:?}")))
}

pub async fn schemas(State(state): State<ScimState>, headers: HeaderMap) -> ScimResult {
    authorize(&state, &headers).await?;
    Ok(scim(
        StatusCode::OK,
        list_of(discovery::schemas(&base_url(&state, &headers))),
    ))
}

pub async fn schema(State(state): State<ScimState>, headers: HeaderMap, Path(id): Path<String>) -> ScimResult {
    authorize(&state, &headers).await?;
    discovery::schemas(&base_url(&state, &headers))
        .into_iter()
        .find(|s| s["id"].as_str() == Some(id.as_str()))
        .map(|s| scim(StatusCode::OK, s))
        .ok_or_else(|| ScimError::not_found(format!("schema {id:?}")))
}

pub async fn bulk(State(state): State<ScimState>, headers: HeaderMap) -> ScimResult {
    authorize(&state, &headers).await?;
    Err(ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "bulk operations are not supported (see ServiceProviderConfig)",
    ))
}

pub async fn me(State(state): State<ScimState>, headers: HeaderMap) -> ScimResult {
    authorize(&state, &headers).await?;
    Err(ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "/Me is not supported: SCIM tokens belong to an identity provider, not a user",
    ))
}

pub async fn not_found() -> ScimError {
    ScimError::not_found("no such SCIM endpoint")
}

// ---- users ----------------------------------------------------------------------------------

fn users_matching(state: &ScimState, query: &ListQuery, base: &str) -> ScimResult {
    let directory = state.service.directory();
    let listed = list_resources(
        query,
        "userName",
        |name| {
            directory
                .find_user(name)
                .filter(|u| u.user_name.eq_ignore_ascii_case(name))
                .cloned()
        },
        || directory.users_sorted(),
        |u| user_json(u, &directory, base),
    )?;
    Ok(scim(StatusCode::OK, listed))
}

pub async fn list_users(State(state): State<ScimState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> ScimResult {
    authorize(&state, &headers).await?;
    users_matching(&state, &parse_query(raw)?, &base_url(&state, &headers))
}

pub async fn search_users(State(state): State<ScimState>, headers: HeaderMap, body: Bytes) -> ScimResult {
    authorize(&state, &headers).await?;
    let query = ListQuery::from_search_body(parse_body(&body)?)?;
    users_matching(&state, &query, &base_url(&state, &headers))
}

pub async fn get_user(
    State(state): State<ScimState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ScimResult {
    authorize(&state, &headers).await?;
    let query = parse_query(raw)?;
    let directory = state.service.directory();
    let user = directory
        .user(&id)
        .ok_or_else(|| ScimError::not_found(format!("user {id:?}")))?;
    Ok(scim(
        StatusCode::OK,
        project_one(user_json(user, &directory, &base_url(&state, &headers)), &query),
    ))
}

pub async fn create_user(State(state): State<ScimState>, headers: HeaderMap, body: Bytes) -> ScimResult {
    let actor = authorize(&state, &headers).await?;
    let draft = user_draft(&parse_body(&body)?, &state.service.directory())?;
    let user = state.service.create_user(&actor, draft, "").await?;
    let directory = state.service.directory();
    Ok(scim(
        StatusCode::CREATED,
        user_json(&user, &directory, &base_url(&state, &headers)),
    ))
}

pub async fn replace_user(
    State(state): State<ScimState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let actor = authorize(&state, &headers).await?;
    let expected = if_match(&headers)?;
    state
        .service
        .directory()
        .user(&id)
        .ok_or_else(|| ScimError::not_found(format!("user {id:?}")))?;
    let draft = user_draft(&parse_body(&body)?, &state.service.directory())?;
    let user = state.service.replace_user(&actor, &id, draft, expected).await?;
    let directory = state.service.directory();
    Ok(scim(
        StatusCode::OK,
        user_json(&user, &directory, &base_url(&state, &headers)),
    ))
}

pub async fn patch_user(
    State(state): State<ScimState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let actor = authorize(&state, &headers).await?;
    let expected = if_match(&headers)?;
    let operations =
        parse_operations(&parse_body(&body)?).map_err(|e| ScimError::bad_request(e.scim_type, e.message))?;
    let base = base_url(&state, &headers);
    for _attempt in 1..=PATCH_ATTEMPTS {
        let (mut resource, version) = {
            let directory = state.service.directory();
            let user = directory
                .user(&id)
                .ok_or_else(|| ScimError::not_found(format!("user {id:?}")))?;
            (user_json(user, &directory, &base), user.version)
        };
        apply_patch(ResourceKind::User, &mut resource, &operations)
            .map_err(|e| ScimError::bad_request(e.scim_type, e.message))?;
        let draft = user_draft(&resource, &state.service.directory())?;
        match state
            .service
            .replace_user(&actor, &id, draft, Some(expected.unwrap_or(version)))
            .await
        {
            Ok(user) => {
                let directory = state.service.directory();
                return Ok(scim(StatusCode::OK, user_json(&user, &directory, &base)));
            }
            Err(ServiceError::Aborted(_)) if expected.is_none() => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ScimError::new(
        StatusCode::CONFLICT,
        None,
        "the user kept changing while this patch was applied; retry",
    ))
}

pub async fn delete_user(State(state): State<ScimState>, headers: HeaderMap, Path(id): Path<String>) -> ScimResult {
    let actor = authorize(&state, &headers).await?;
    let expected = if_match(&headers)?;
    state
        .service
        .directory()
        .user(&id)
        .ok_or_else(|| ScimError::not_found(format!("user {id:?}")))?;
    state.service.delete_user(&actor, &id, expected).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- groups ---------------------------------------------------------------------------------

fn wants_members(query: &ListQuery) -> bool {
    let excluded = query
        .excluded_attributes
        .iter()
        .any(|a| a.eq_ignore_ascii_case("members"));
    let included = query.attributes.is_empty()
        || query
            .attributes
            .iter()
            .any(|a| a.to_ascii_lowercase().starts_with("members"));
    !excluded && included
}

fn groups_matching(state: &ScimState, query: &ListQuery, base: &str) -> ScimResult {
    let directory = state.service.directory();
    // Member lists are the expensive part; build them only when asked for or filtered on.
    let members = wants_members(query)
        || query
            .filter
            .as_deref()
            .is_some_and(|f| f.to_ascii_lowercase().contains("members"));
    let listed = list_resources(
        query,
        "displayName",
        |name| {
            directory
                .find_group(name)
                .filter(|g| g.display_name.eq_ignore_ascii_case(name))
                .cloned()
        },
        || directory.groups_sorted(),
        |g| group_json(g, &directory, base, members),
    )?;
    Ok(scim(StatusCode::OK, listed))
}

pub async fn list_groups(State(state): State<ScimState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> ScimResult {
    authorize(&state, &headers).await?;
    groups_matching(&state, &parse_query(raw)?, &base_url(&state, &headers))
}

pub async fn search_groups(State(state): State<ScimState>, headers: HeaderMap, body: Bytes) -> ScimResult {
    authorize(&state, &headers).await?;
    let query = ListQuery::from_search_body(parse_body(&body)?)?;
    groups_matching(&state, &query, &base_url(&state, &headers))
}

pub async fn get_group(
    State(state): State<ScimState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ScimResult {
    authorize(&state, &headers).await?;
    let query = parse_query(raw)?;
    let directory = state.service.directory();
    let group = directory
        .group(&id)
        .ok_or_else(|| ScimError::not_found(format!("group {id:?}")))?;
    Ok(scim(
        StatusCode::OK,
        project_one(
            group_json(group, &directory, &base_url(&state, &headers), wants_members(&query)),
            &query,
        ),
    ))
}

pub async fn create_group(State(state): State<ScimState>, headers: HeaderMap, body: Bytes) -> ScimResult {
    let actor = authorize(&state, &headers).await?;
    let draft = group_draft(&parse_body(&body)?, &state.service.directory())?;
    let group = state.service.create_group(&actor, draft, "").await?;
    let directory = state.service.directory();
    Ok(scim(
        StatusCode::CREATED,
        group_json(&group, &directory, &base_url(&state, &headers), true),
    ))
}

pub async fn replace_group(
    State(state): State<ScimState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let actor = authorize(&state, &headers).await?;
    let expected = if_match(&headers)?;
    state
        .service
        .directory()
        .group(&id)
        .ok_or_else(|| ScimError::not_found(format!("group {id:?}")))?;
    let draft = group_draft(&parse_body(&body)?, &state.service.directory())?;
    let group = state.service.replace_group(&actor, &id, draft, expected).await?;
    let directory = state.service.directory();
    Ok(scim(
        StatusCode::OK,
        group_json(&group, &directory, &base_url(&state, &headers), true),
    ))
}

pub async fn patch_group(
    State(state): State<ScimState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let actor = authorize(&state, &headers).await?;
    let expected = if_match(&headers)?;
    let operations =
        parse_operations(&parse_body(&body)?).map_err(|e| ScimError::bad_request(e.scim_type, e.message))?;
    let base = base_url(&state, &headers);
    check_operations(ResourceKind::Group, &operations).map_err(|e| ScimError::bad_request(e.scim_type, e.message))?;
    if expected.is_none() {
        let changes = member_changes(&operations, &state.service.directory());
        if let Some(changes) = changes {
            state
                .service
                .directory()
                .group(&id)
                .ok_or_else(|| ScimError::not_found(format!("group {id:?}")))?;
            let group = state.service.change_members(&actor, &id, &changes?).await?;
            let directory = state.service.directory();
            return Ok(scim(StatusCode::OK, group_json(&group, &directory, &base, true)));
        }
    }
    for _attempt in 1..=PATCH_ATTEMPTS {
        let (mut resource, version) = {
            let directory = state.service.directory();
            let group = directory
                .group(&id)
                .ok_or_else(|| ScimError::not_found(format!("group {id:?}")))?;
            (group_json(group, &directory, &base, true), group.version)
        };
        apply_patch(ResourceKind::Group, &mut resource, &operations)
            .map_err(|e| ScimError::bad_request(e.scim_type, e.message))?;
        let draft = group_draft(&resource, &state.service.directory())?;
        match state
            .service
            .replace_group(&actor, &id, draft, Some(expected.unwrap_or(version)))
            .await
        {
            Ok(group) => {
                let directory = state.service.directory();
                return Ok(scim(StatusCode::OK, group_json(&group, &directory, &base, true)));
            }
            Err(ServiceError::Aborted(_)) if expected.is_none() => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ScimError::new(
        StatusCode::CONFLICT,
        None,
        "the group kept changing while this patch was applied; retry",
    ))
}

pub async fn delete_group(State(state): State<ScimState>, headers: HeaderMap, Path(id): Path<String>) -> ScimResult {
    let actor = authorize(&state, &headers).await?;
    state
        .service
        .directory()
        .group(&id)
        .ok_or_else(|| ScimError::not_found(format!("group {id:?}")))?;
    state.service.delete_group(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
