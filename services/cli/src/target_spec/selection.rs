//! The `@SELECTION` part of a target spec: `any`, `only:ITEMS` or `except:ITEMS`.

use std::fmt;
use std::str::FromStr;

use latch_proto::catalog::v1::{Selection, selection::Mode};

use crate::tag_selector::TagSelectorArg;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SelectionSpec {
    /// Every resource of the type.
    #[default]
    Any,
    /// Only resources matching one of the items.
    Only(Vec<SelectionItem>),
    /// Every resource of the type but those matching one of the items.
    Except(Vec<SelectionItem>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectionItem {
    Id(String),
    Name(String),
    Tag(TagSelectorArg),
}

impl SelectionSpec {
    pub fn to_proto(&self) -> Selection {
        let (mode, items) = match self {
            Self::Any => (Mode::Any, &[][..]),
            Self::Only(items) => (Mode::Include, &items[..]),
            Self::Except(items) => (Mode::Exclude, &items[..]),
        };
        let mut selection = Selection {
            mode: mode as i32,
            ..Default::default()
        };
        for item in items {
            match item {
                SelectionItem::Id(id) => selection.resource_ids.push(id.clone()),
                SelectionItem::Name(name) => selection.resource_names.push(name.clone()),
                SelectionItem::Tag(tag) => selection.tags.push(tag.to_proto()),
            }
        }
        selection
    }

    /// Items come back grouped by kind (ids, names, tags), as the proto keeps them. An unknown
    /// or unspecified mode reads as `any`, which is what the server does with it.
    pub fn from_proto(selection: &Selection) -> Self {
        let items = || {
            let ids = selection.resource_ids.iter().cloned().map(SelectionItem::Id);
            let names = selection.resource_names.iter().cloned().map(SelectionItem::Name);
            let tags = selection
                .tags
                .iter()
                .map(|tag| SelectionItem::Tag(TagSelectorArg::from_proto(tag)));
            ids.chain(names).chain(tags).collect()
        };
        match Mode::try_from(selection.mode) {
            Ok(Mode::Include) => Self::Only(items()),
            Ok(Mode::Exclude) => Self::Except(items()),
            Ok(Mode::Any | Mode::Unspecified) | Err(_) => Self::Any,
        }
    }

    /// `any`, `only` or `except`, for JSON.
    pub fn mode_name(&self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::Only(_) => "only",
            Self::Except(_) => "except",
        }
    }
}

impl fmt::Display for SelectionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mode, items) = match self {
            Self::Any => return write!(f, "any"),
            Self::Only(items) => ("only", items),
            Self::Except(items) => ("except", items),
        };
        let items: Vec<String> = items.iter().map(SelectionItem::to_string).collect();
        write!(f, "{mode}:{}", items.join(";"))
    }
}

impl fmt::Display for SelectionItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "id={id}"),
            Self::Name(name) => write!(f, "name={name}"),
            Self::Tag(tag) => write!(f, "tag={tag}"),
        }
    }
}

impl FromStr for SelectionSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text == "any" {
            return Ok(Self::Any);
        }
        if let Some(items) = text.strip_prefix("only:") {
            return parse_items("only", items).map(Self::Only);
        }
        if let Some(items) = text.strip_prefix("except:") {
            return parse_items("except", items).map(Self::Except);
        }
        Err(format!("the selection {text:?} is not any, only:ITEMS or except:ITEMS"))
    }
}

fn parse_items(mode: &str, text: &str) -> Result<Vec<SelectionItem>, String> {
    if text.trim().is_empty() {
        return Err(format!("no items after {mode}:"));
    }
    text.split(';').map(parse_item).collect()
}

fn parse_item(text: &str) -> Result<SelectionItem, String> {
    let item = text.trim();
    if item.is_empty() {
        return Err("the selection has an empty item (two ';' in a row, or one at the end)".into());
    }
    let non_empty = |what: &str, value: &str| {
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("the item {item:?} has an empty {what}"));
        }
        Ok(value.to_string())
    };
    match item.split_once('=') {
        Some(("id", id)) => non_empty("id", id).map(SelectionItem::Id),
        Some(("name", name)) => non_empty("name", name).map(SelectionItem::Name),
        Some(("tag", tag)) => tag.parse().map(SelectionItem::Tag),
        _ => Err(format!(
            "the item {item:?} is not id=ID, name=NAME or tag=KEY[=V1|V2...]"
        )),
    }
}
