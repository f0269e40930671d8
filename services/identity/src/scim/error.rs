//! SCIM error responses (RFC 7644 §3.12): a JSON body with `status`, `scimType` and `detail`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latch_runtime::ServiceError;
use serde_json::json;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const CONTENT_TYPE: &str = "application/scim+json";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, None, detail)
    }
}

impl From<ServiceError> for ScimError {
    fn from(error: ServiceError) -> Self {
        let detail = error.to_string();
        match error {
            ServiceError::InvalidArgument(_) => Self::bad_request("invalidValue", detail),
            ServiceError::NotFound(_) => Self::not_found(detail),
            ServiceError::AlreadyExists(_) => Self::new(StatusCode::CONFLICT, Some("uniqueness"), detail),
            ServiceError::Aborted(_) => Self::new(StatusCode::PRECONDITION_FAILED, None, detail),
            ServiceError::FailedPrecondition(_) => Self::new(StatusCode::BAD_REQUEST, Some("mutability"), detail),
            ServiceError::PermissionDenied(_) => Self::new(StatusCode::FORBIDDEN, None, detail),
            ServiceError::Unauthenticated(_) => Self::unauthorized(detail),
            ServiceError::ResourceExhausted(_) => Self::new(StatusCode::TOO_MANY_REQUESTS, Some("tooMany"), detail),
            ServiceError::Unavailable(_) => Self::new(StatusCode::SERVICE_UNAVAILABLE, None, detail),
            ServiceError::Internal(_) => {
                tracing::error!(error = %detail, "scim request failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    "internal error; see the server log",
                )
            }
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = scim_type.into();
        }
        let mut response = (self.status, body.to_string()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"latch-scim\""),
            );
        }
        response
    }
}
