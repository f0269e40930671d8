//! A SCIM 2.0 service provider (RFC 7643/7644) at `/scim/v2`, so Okta, Entra ID and any other
//! conformant client can provision users and groups. Authenticated with a SCIM-scoped token.

mod discovery;
mod error;
pub mod filter;
mod handlers;
mod listing;
mod member_patch;
pub mod patch;
mod resources;
pub mod schema;
pub mod schema_check;

use axum::Router;
use axum::routing::{get, post};

use crate::IdentityService;

pub use error::{CONTENT_TYPE, ScimError};

#[derive(Clone)]
pub(crate) struct ScimState {
    service: IdentityService,
    /// `https://host` clients use, when configured; else taken from each request.
    public_url: Option<String>,
}

/// The SCIM routes, to be nested under `/scim/v2`. `public_url` (e.g. `https://latch.example.com`)
/// is used for resource locations; without it they come from the request's Host header.
pub fn router(service: IdentityService, public_url: Option<String>) -> Router {
    Router::new()
        .route("/ServiceProviderConfig", get(handlers::service_provider_config))
        .route("/ResourceTypes", get(handlers::resource_types))
        .route("/ResourceTypes/{id}", get(handlers::resource_type))
        .route("/Schemas", get(handlers::schemas))
        .route("/Schemas/{id}", get(handlers::schema))
        .route("/Users", get(handlers::list_users).post(handlers::create_user))
        .route("/Users/.search", post(handlers::search_users))
        .route(
            "/Users/{id}",
            get(handlers::get_user)
                .put(handlers::replace_user)
                .patch(handlers::patch_user)
                .delete(handlers::delete_user),
        )
        .route("/Groups", get(handlers::list_groups).post(handlers::create_group))
        .route("/Groups/.search", post(handlers::search_groups))
        .route(
            "/Groups/{id}",
            get(handlers::get_group)
                .put(handlers::replace_group)
                .patch(handlers::patch_group)
                .delete(handlers::delete_group),
        )
        .route("/Bulk", post(handlers::bulk))
        .route("/Me", get(handlers::me))
        .fallback(handlers::not_found)
        .with_state(ScimState {
            service,
            public_url: public_url.map(|u| u.trim_end_matches('/').to_string()),
        })
}
