//! One guard in front of every gRPC method: before a handler sees a request, every text field in
//! it (at any depth, in lists and maps) is checked against the rule for its kind. No NUL or other
//! control character reaches a name or an id, no text is larger than its documented maximum, and
//! the violation names the field path. The rules live here, once, rather than in each handler,
//! so a new field is covered the day it is added.

use std::sync::LazyLock;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full, Limited};
use prost_reflect::{DescriptorPool, DynamicMessage, MapKey, MethodDescriptor, Value};
use tonic::Status;
use tower::{Layer, Service};

use crate::error::{FieldViolation, ServiceError};
use crate::text;

/// The largest request message accepted (tonic's own default limit, stated here).
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// Violations reported at most per request.
const MAX_REPORTED: usize = 20;

/// What kind of text a field holds, by the field's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// Ids, names, keys, states, durations: no control characters, at most 256 characters.
    Name,
    /// Locations and opaque tokens (`endpoint`, `path`, `page_token`): like a name, at most 2,048.
    Locator,
    /// Free text (`justification`, `reason`, `note`, `description`): line breaks allowed, at most
    /// 4,096 characters.
    Text,
    /// Connector settings and secrets: line breaks allowed (certificates), at most 16,384.
    Setting,
    /// Whole documents (`definition`, `document`): line breaks allowed, bounded by the message
    /// size here and by the document reader's own limits.
    Document,
}

impl TextKind {
    pub fn of_field(name: &str) -> Self {
        match name {
            "definition" | "document" => Self::Document,
            "config" | "secrets" => Self::Setting,
            "description" | "reason" | "justification" | "note" | "query" | "values" | "error" | "detail"
            | "message" | "text" => Self::Text,
            "endpoint" | "path" | "resource_path" | "page_token" | "url" | "otpauth_uri" => Self::Locator,
            _ => Self::Name,
        }
    }

    pub fn max_chars(self) -> usize {
        match self {
            Self::Name => text::MAX_NAME_CHARS,
            Self::Locator => 2048,
            Self::Text => text::MAX_TEXT_CHARS,
            Self::Setting => 16 * 1024,
            Self::Document => MAX_MESSAGE_BYTES,
        }
    }

    pub fn check(self, field: &str, value: &str) -> Result<(), FieldViolation> {
        match self {
            Self::Name | Self::Locator => text::check_name(field, value, self.max_chars()),
            Self::Text | Self::Setting | Self::Document => text::check_text(field, value, self.max_chars()),
        }
    }
}

static POOL: LazyLock<Option<DescriptorPool>> =
    LazyLock::new(|| DescriptorPool::decode(latch_proto::FILE_DESCRIPTOR_SET).ok());

/// Checks every text in `message`, naming fields by their path (`integration.config.host`).
pub fn check_message(message: &DynamicMessage) -> Vec<FieldViolation> {
    let mut found = Vec::new();
    walk(message, "", &mut found);
    found
}

fn walk(message: &DynamicMessage, path: &str, found: &mut Vec<FieldViolation>) {
    for (field, value) in message.fields() {
        let at = if path.is_empty() {
            field.name().to_string()
        } else {
            format!("{path}.{}", field.name())
        };
        check_value(TextKind::of_field(field.name()), value, &at, found);
    }
}

fn check_value(kind: TextKind, value: &Value, at: &str, found: &mut Vec<FieldViolation>) {
    if found.len() >= MAX_REPORTED {
        return;
    }
    match value {
        Value::String(text) => {
            if let Err(violation) = kind.check(at, text) {
                found.push(violation);
            }
        }
        Value::Message(message) => walk(message, at, found),
        Value::List(items) => {
            for (index, item) in items.iter().enumerate() {
                check_value(kind, item, &format!("{at}[{index}]"), found);
            }
        }
        Value::Map(entries) => {
            for (key, item) in entries {
                let key_text = match key {
                    MapKey::String(key) => {
                        if let Err(violation) = TextKind::Name.check(&format!("{at} (a key)"), key) {
                            found.push(violation);
                            continue;
                        }
                        key.clone()
                    }
                    other => format!("{other:?}"),
                };
                check_value(kind, item, &format!("{at}.{key_text}"), found);
            }
        }
        _ => {}
    }
}

/// The layer the server bootstrap puts behind authentication.
#[derive(Clone, Default)]
pub struct InputGuardLayer;

impl<S> Layer<S> for InputGuardLayer {
    type Service = InputGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InputGuard { inner }
    }
}

#[derive(Clone)]
pub struct InputGuard<S> {
    inner: S,
}

fn method(path: &str) -> Option<MethodDescriptor> {
    let (service, method) = path.trim_start_matches('/').split_once('/')?;
    POOL.as_ref()?
        .get_service_by_name(service)?
        .methods()
        .find(|m| m.name() == method)
}

/// Reads the unary request's one message: `None` when it is not a plain single frame (the
/// handler's own decoding then answers).
fn single_message(bytes: &[u8]) -> Option<&[u8]> {
    let (&compressed, rest) = bytes.split_first()?;
    if compressed != 0 || rest.len() < 4 {
        return None;
    }
    let length = u32::from_be_bytes(rest[..4].try_into().ok()?) as usize;
    let body = &rest[4..];
    (body.len() == length).then_some(body)
}

impl<S, ResponseBody> Service<http::Request<tonic::body::Body>> for InputGuard<S>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<ResponseBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ResponseBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        Box::pin(async move {
            let Some(method) = method(request.uri().path()).filter(|m| !m.is_client_streaming()) else {
                return inner.call(request).await;
            };
            let (parts, body) = request.into_parts();
            // The frame header adds five bytes to the message.
            let bytes = match Limited::new(body, MAX_MESSAGE_BYTES + 5).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => {
                    return Ok(Status::resource_exhausted(format!(
                        "the request is larger than {MAX_MESSAGE_BYTES} bytes"
                    ))
                    .into_http());
                }
            };
            if let Some(message) = single_message(&bytes)
                && let Ok(decoded) = DynamicMessage::decode(method.input(), message)
            {
                let violations = check_message(&decoded);
                if !violations.is_empty() {
                    return Ok(Status::from(ServiceError::InvalidArgument(violations)).into_http());
                }
            }
            let request = http::Request::from_parts(parts, tonic::body::Body::new(Full::new(bytes)));
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(type_name: &str, fields: &[(&str, Value)]) -> DynamicMessage {
        let descriptor = POOL.as_ref().unwrap().get_message_by_name(type_name).unwrap();
        let mut message = DynamicMessage::new(descriptor);
        for (name, value) in fields {
            message.set_field_by_name(name, value.clone());
        }
        message
    }

    #[test]
    fn every_method_of_every_latch_service_is_known() {
        let pool = POOL.as_ref().expect("descriptor set decodes");
        assert!(pool.services().count() >= 5);
        assert!(method("/latch.identity.v1.IdentityService/ImportDirectory").is_some());
        assert!(method("/grpc.health.v1.Health/Check").is_none());
    }

    #[test]
    fn nul_and_control_characters_are_refused_in_names_at_any_depth() {
        let pool = POOL.as_ref().unwrap();
        let service = pool.services().find(|s| s.name() == "IdentityService").unwrap();
        let create = service.methods().find(|m| m.name() == "CreateGroup").unwrap();
        let mut request = DynamicMessage::new(create.input());
        let group_field = create
            .input()
            .fields()
            .find(|f| f.kind().as_message().is_some())
            .unwrap();
        let mut group = DynamicMessage::new(group_field.kind().as_message().unwrap().clone());
        group.set_field_by_name("name", Value::String("ops\0".into()));
        request.set_field(&group_field, Value::Message(group));
        let found = check_message(&request);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].field, format!("{}.name", group_field.name()));
        assert!(found[0].rule.contains("control characters"));
    }

    #[test]
    fn free_text_keeps_line_breaks_and_is_bounded() {
        assert!(
            TextKind::of_field("justification")
                .check("justification", "why\nbecause")
                .is_ok()
        );
        let long = "x".repeat(text::MAX_TEXT_CHARS + 1);
        let error = TextKind::of_field("justification")
            .check("justification", &long)
            .unwrap_err();
        assert!(error.rule.contains("at most 4096"));
        assert!(error.rule.len() < 100, "the value is never echoed");
    }

    #[test]
    fn map_keys_and_values_are_checked() {
        let pool = POOL.as_ref().unwrap();
        let Some(integration) = pool
            .all_messages()
            .find(|m| m.name() == "Integration" && m.get_field_by_name("config").is_some())
        else {
            panic!("Integration with a config map");
        };
        let mut config = std::collections::HashMap::new();
        config.insert(MapKey::String("host\n".into()), Value::String("db".into()));
        config.insert(MapKey::String("port".into()), Value::String("5\u{0}432".into()));
        let message = message(integration.full_name(), &[("config", Value::Map(config))]);
        let mut fields: Vec<_> = check_message(&message).into_iter().map(|v| v.field).collect();
        fields.sort();
        assert_eq!(fields, ["config (a key)", "config.port"]);
    }
}
