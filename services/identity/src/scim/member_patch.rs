//! Group PATCHes that only add or remove members (what Okta and Entra ID send on every
//! membership change) become member deltas applied under the writer lock: concurrent patches
//! then never conflict, however many arrive at once.

use serde_json::Value;

use super::error::ScimError;
use super::filter::{CompareOp, Filter};
use super::patch::{PatchOpKind, PatchOperation, PatchPath, parse_patch_path};
use super::resources::member;
use crate::domain::directory::Directory;
use crate::domain::group::Member;

enum Step {
    Add(Vec<Value>),
    Remove(Vec<Value>),
    RemoveById(String),
}

fn step(operation: &PatchOperation) -> Option<Step> {
    let path = operation.path.as_deref()?;
    match parse_patch_path(path).ok()? {
        PatchPath::Attr(attr)
            if attr.uri.is_none() && attr.sub_attr.is_none() && attr.attr.eq_ignore_ascii_case("members") =>
        {
            let values = match &operation.value {
                Some(Value::Array(values)) => values.clone(),
                Some(value @ Value::Object(_)) => vec![value.clone()],
                _ => return None,
            };
            match operation.op {
                PatchOpKind::Add => Some(Step::Add(values)),
                PatchOpKind::Remove => Some(Step::Remove(values)),
                PatchOpKind::Replace => None,
            }
        }
        PatchPath::Filtered {
            attr,
            filter,
            sub_attr: None,
        } if operation.op == PatchOpKind::Remove && attr.attr.eq_ignore_ascii_case("members") => match filter {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: Value::String(id),
            } if path.attr.eq_ignore_ascii_case("value") && path.sub_attr.is_none() => Some(Step::RemoveById(id)),
            _ => None,
        },
        _ => None,
    }
}

/// The member changes these operations make, or `None` when they do anything else (the caller
/// then applies them to the whole resource).
pub fn member_changes(
    operations: &[PatchOperation],
    directory: &Directory,
) -> Option<Result<Vec<(Member, bool)>, ScimError>> {
    let steps: Vec<Step> = operations.iter().map(step).collect::<Option<_>>()?;
    let mut changes = Vec::new();
    for step in steps {
        match step {
            Step::Add(values) => {
                for (index, value) in values.iter().enumerate() {
                    match member(value, directory) {
                        Some(m) => changes.push((m, true)),
                        None => {
                            return Some(Err(ScimError::bad_request(
                                "invalidValue",
                                format!("members[{index}].value: no user or group with that id"),
                            )));
                        }
                    }
                }
            }
            // Removing someone who is not there (or no longer exists) is not an error.
            Step::Remove(values) => {
                changes.extend(values.iter().filter_map(|v| member(v, directory)).map(|m| (m, false)))
            }
            Step::RemoveById(id) => {
                if let Some(m) = member(&serde_json::json!({ "value": id }), directory) {
                    changes.push((m, false));
                }
            }
        }
    }
    Some(Ok(changes))
}
