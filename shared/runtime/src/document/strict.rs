//! The strict reading of a document: a JSON value in which no map repeats a key and nothing
//! nests deeper than the limit, then the typed value, refusing every key the type ignores.

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::violation;
use crate::error::{FieldViolation, ServiceError, ServiceResult};
use crate::text;

/// A document read strictly, as plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct StrictValue(pub Value);

/// Reads YAML or JSON `text` into a value, refusing repeated keys, YAML tags, non-finite numbers
/// and nesting deeper than `max_depth`.
pub(super) fn read(field: &str, text: &str, max_depth: usize) -> ServiceResult<Value> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    let seed = Seed { depth: 0, max_depth };
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(deserializer, &mut track);
    match seed.deserialize(tracked) {
        Ok(value) => Ok(value),
        Err(error) => {
            let path = track.path().to_string();
            Err(ServiceError::InvalidArgument(vec![violation(
                field,
                &path,
                text::prefix(&error.to_string(), 300),
            )]))
        }
    }
}

/// Reads a JSON body strictly (a repeated key, nesting deeper than `max_depth`, a key or a text
/// breaking [`crate::text`]'s rules are errors), for bodies that are not typed documents (SCIM).
/// The error names the path and the rule, never the value.
pub fn read_json(body: &[u8], max_depth: usize) -> Result<Value, FieldViolation> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let seed = Seed { depth: 0, max_depth };
    let mut track = serde_path_to_error::Track::new();
    let value = seed
        .deserialize(serde_path_to_error::Deserializer::new(&mut deserializer, &mut track))
        .and_then(|value| deserializer.end().map(|()| value))
        .map_err(|error| violation("body", &track.path().to_string(), text::prefix(&error.to_string(), 300)))?;
    check_texts(&value, "")?;
    Ok(value)
}

/// Keys are names; texts are free text (line breaks allowed) of at most
/// [`text::MAX_TEXT_CHARS`].
fn check_texts(value: &Value, path: &str) -> Result<(), FieldViolation> {
    let at = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(s) => text::check_text(if path.is_empty() { "body" } else { path }, s, text::MAX_TEXT_CHARS),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(index, item)| check_texts(item, &format!("{path}[{index}]"))),
        Value::Object(entries) => entries.iter().try_for_each(|(key, item)| {
            text::check_name(&at("(a key)"), key, text::MAX_NAME_CHARS)?;
            check_texts(item, &at(&text::prefix(key, 64)))
        }),
        _ => Ok(()),
    }
}

/// Turns the value into `T`: every key `T` would ignore is a violation at its path, as is any
/// value of the wrong shape.
pub(super) fn into_typed<T: DeserializeOwned>(field: &str, value: Value) -> ServiceResult<T> {
    let mut unknown = Vec::new();
    let mut note = |path: serde_ignored::Path<'_>| unknown.push(path_text(&path));
    let ignored = serde_ignored::Deserializer::new(value, &mut note);
    let result: Result<T, _> = serde_path_to_error::deserialize(ignored);
    let mut violations: Vec<FieldViolation> = unknown
        .iter()
        .map(|path| violation(field, path, "is not a known field (check the spelling)"))
        .collect();
    match result {
        Ok(typed) if violations.is_empty() => Ok(typed),
        Ok(_) => Err(ServiceError::InvalidArgument(violations)),
        Err(error) => {
            let path = error.path().to_string();
            violations.push(violation(field, &path, text::prefix(&error.inner().to_string(), 300)));
            Err(ServiceError::InvalidArgument(violations))
        }
    }
}

/// `a.b[0].c`, the same shape serde_path_to_error uses.
fn path_text(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", path_text(parent)),
        Path::Map { parent, key } => {
            let parent = path_text(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => path_text(parent),
    }
}

impl<'de> de::Deserialize<'de> for StrictValue {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Seed {
            depth: 0,
            max_depth: super::MAX_DEPTH,
        }
        .deserialize(deserializer)
        .map(StrictValue)
    }
}

#[derive(Clone, Copy)]
struct Seed {
    depth: usize,
    max_depth: usize,
}

impl Seed {
    fn deeper<E: de::Error>(self) -> Result<Seed, E> {
        if self.depth >= self.max_depth {
            return Err(E::custom(format!("nests deeper than {} levels", self.max_depth)));
        }
        Ok(Seed {
            depth: self.depth + 1,
            ..self
        })
    }
}

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("plain data (maps, lists, text, numbers, true/false)")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("is not a finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut entries = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if entries.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "the key {} appears twice",
                    text::quote(&key)
                )));
            }
            let value = map.next_value_seed(inner)?;
            entries.insert(key, value);
        }
        Ok(Value::Object(entries))
    }
}
