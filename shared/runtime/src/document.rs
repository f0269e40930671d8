//! Every document Latch reads from outside (flows, flows as code, directory imports, SCIM
//! bodies) goes through [`parse`]: bounded in size and depth before any real parsing, strict
//! (an unknown or repeated key is an error naming its path, so a typo never removes a control),
//! and parsed off the async runtime by [`parse_blocking`] so no caller can stall the workers
//! that drive revocations.

mod strict;
#[cfg(test)]
mod tests;

use std::sync::LazyLock;

use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use crate::error::{FieldViolation, ServiceError, ServiceResult};
use crate::text;

pub use strict::{StrictValue, read_json};

/// The deepest nesting of maps and lists any document may have. Real flows need about eight.
pub const MAX_DEPTH: usize = 32;

/// How large a document may be, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
}

impl Limits {
    /// One flow definition.
    pub const FLOW: Limits = Limits {
        max_bytes: 256 * 1024,
        max_depth: MAX_DEPTH,
    };
    /// A whole set of flows (flows as code) or a directory import.
    pub const BULK: Limits = Limits {
        max_bytes: 4 * 1024 * 1024,
        max_depth: MAX_DEPTH,
    };
}

/// Parses YAML or JSON (JSON is YAML) into `T`, strictly. Errors name the field path
/// (`requestors.rows[0].operator`), or `field` for the document as a whole.
pub fn parse<T: DeserializeOwned>(field: &str, text: &str, limits: Limits) -> ServiceResult<T> {
    check_size(field, text, limits)?;
    check_flow_depth(field, text, limits)?;
    parse_checked(field, text, limits)
}

/// The parse proper, once the cheap bounds have held.
fn parse_checked<T: DeserializeOwned>(field: &str, text: &str, limits: Limits) -> ServiceResult<T> {
    let value = strict::read(field, text, limits.max_depth)?;
    strict::into_typed(field, value)
}

/// [`parse`] on a blocking thread, at most a few at a time: parsing is CPU work, and the async
/// runtime's workers also run the revoke jobs that must keep their deadlines.
pub async fn parse_blocking<T>(field: &str, text: String, limits: Limits) -> ServiceResult<T>
where
    T: DeserializeOwned + Send + 'static,
{
    // The cheap checks first, on the caller's task: an oversized document never takes a permit.
    check_size(field, &text, limits)?;
    check_flow_depth(field, &text, limits)?;
    let _permit = PARSERS
        .acquire()
        .await
        .map_err(|_| ServiceError::Unavailable("shutting down".into()))?;
    let field_owned = field.to_string();
    tokio::task::spawn_blocking(move || parse_checked::<T>(&field_owned, &text, limits))
        .await
        .map_err(|error| ServiceError::Internal(format!("document parser stopped: {error}")))?
}

/// Documents parsed at once; more wait their turn instead of taking every core.
static PARSERS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(2));

fn check_size(field: &str, text: &str, limits: Limits) -> ServiceResult<()> {
    if text.len() > limits.max_bytes {
        return Err(ServiceError::invalid(
            field,
            format!("is {} bytes; at most {} are allowed", text.len(), limits.max_bytes),
        ));
    }
    Ok(())
}

/// Flow-style nesting (`[[[[…`) is what makes a YAML parser slow long before its own recursion
/// limit applies, so it is counted on the raw text first. Quoted strings and comments are
/// skipped; anything else that opens a bracket counts, which may only over-count.
fn check_flow_depth(field: &str, text: &str, limits: Limits) -> ServiceResult<()> {
    let mut depth = 0usize;
    let mut chars = text.chars().peekable();
    let mut previous = '\n';
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(inner) = chars.next() {
                    match inner {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            // A single quote starts a string only where a scalar can start (`it's` is plain text).
            '\'' if matches!(previous, ' ' | '\t' | '\n' | '[' | '{' | ',' | ':' | '-') => {
                while let Some(inner) = chars.next() {
                    if inner == '\'' {
                        if chars.peek() == Some(&'\'') {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
            }
            '#' if matches!(previous, ' ' | '\t' | '\n') => {
                for inner in chars.by_ref() {
                    if inner == '\n' {
                        break;
                    }
                }
            }
            '[' | '{' => {
                depth += 1;
                if depth > limits.max_depth {
                    return Err(too_deep(field, limits));
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        previous = c;
    }
    Ok(())
}

fn too_deep(field: &str, limits: Limits) -> ServiceError {
    ServiceError::invalid(field, format!("nests deeper than {} levels", limits.max_depth))
}

/// A violation at `path` inside the document `field`; the path when there is one.
fn violation(field: &str, path: &str, rule: impl Into<String>) -> FieldViolation {
    let at = if path.is_empty() || path == "." {
        field.to_string()
    } else {
        path.to_string()
    };
    FieldViolation::new(text::prefix(&at, 200), rule)
}
