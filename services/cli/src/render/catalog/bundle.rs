//! Bundles: named sets of integration targets, shown in the spec syntax they are typed in.

use latch_proto::catalog::v1::{Bundle, IntegrationTarget};
use serde::Serialize;

use crate::output::{details, render, table};
use crate::render::optional;
use crate::tag_selector::TagSelectorArg;
use crate::target_spec::{SelectionItem, SelectionSpec, TargetSpec};
use crate::timestamp;

#[derive(Debug, Serialize)]
pub struct BundleView {
    pub name: String,
    pub id: String,
    pub display_name: String,
    pub description: String,
    pub space: Option<String>,
    pub targets: Vec<TargetView>,
    pub create_time: Option<String>,
}

impl From<&Bundle> for BundleView {
    fn from(bundle: &Bundle) -> Self {
        Self {
            name: bundle.name.clone(),
            id: bundle.id.clone(),
            display_name: bundle.display_name.clone(),
            description: bundle.description.clone(),
            space: optional(&bundle.space),
            targets: bundle.targets.iter().map(TargetView::from).collect(),
            create_time: timestamp::format_optional(bundle.create_time.as_ref()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TargetView {
    /// The target as `--target` takes it.
    pub spec: String,
    pub integration: String,
    pub resource_type: String,
    pub permissions: Vec<String>,
    pub selection: SelectionView,
}

#[derive(Debug, Serialize)]
pub struct SelectionView {
    /// `any`, `only` or `except`.
    pub mode: &'static str,
    pub resource_ids: Vec<String>,
    pub resource_names: Vec<String>,
    pub tags: Vec<TagView>,
}

#[derive(Debug, Serialize)]
pub struct TagView {
    pub key: String,
    pub values: Vec<String>,
}

impl From<&IntegrationTarget> for TargetView {
    fn from(target: &IntegrationTarget) -> Self {
        let spec = TargetSpec::from_proto(target);
        let mut selection = SelectionView {
            mode: spec.selection.mode_name(),
            resource_ids: Vec::new(),
            resource_names: Vec::new(),
            tags: Vec::new(),
        };
        if let SelectionSpec::Only(items) | SelectionSpec::Except(items) = &spec.selection {
            for item in items {
                match item {
                    SelectionItem::Id(id) => selection.resource_ids.push(id.clone()),
                    SelectionItem::Name(name) => selection.resource_names.push(name.clone()),
                    SelectionItem::Tag(TagSelectorArg { key, values }) => selection.tags.push(TagView {
                        key: key.clone(),
                        values: values.clone(),
                    }),
                }
            }
        }
        Self {
            spec: spec.to_string(),
            integration: spec.integration,
            resource_type: spec.resource_type,
            permissions: spec.permissions,
            selection,
        }
    }
}

pub fn bundles_table(bundles: &[Bundle]) -> String {
    let mut rows = table(["id", "name", "space", "targets", "description"]);
    for bundle in bundles {
        rows.add_row(vec![
            bundle.id.clone(),
            bundle.display_name.clone(),
            bundle.space.clone(),
            bundle.targets.len().to_string(),
            bundle.description.clone(),
        ]);
    }
    render(&rows)
}

/// The fields, then one target per line in `--target` syntax.
pub fn bundle_details(bundle: &Bundle) -> String {
    let fields = details(vec![
        ("id", bundle.id.clone()),
        ("name", bundle.display_name.clone()),
        ("description", bundle.description.clone()),
        ("space", bundle.space.clone()),
        ("created", timestamp::format(bundle.create_time.as_ref())),
    ]);
    if bundle.targets.is_empty() {
        return format!("{}\n\nno targets", render(&fields));
    }
    let targets: Vec<String> = bundle
        .targets
        .iter()
        .map(|target| format!("  {}", TargetSpec::from_proto(target)))
        .collect();
    format!(
        "{}\n\ntargets ({}):\n{}",
        render(&fields),
        bundle.targets.len(),
        targets.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle() -> Bundle {
        let spec: TargetSpec = "prod-pg/table:read@only:tag=env=prod|staging;name=orders"
            .parse()
            .unwrap();
        Bundle {
            id: "b-1".into(),
            display_name: "analyst".into(),
            targets: vec![
                spec.to_proto(),
                "prod-pg/database:connect".parse::<TargetSpec>().unwrap().to_proto(),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn details_list_targets_in_spec_syntax() {
        let text = bundle_details(&bundle());
        assert!(text.contains("targets (2):"), "{text}");
        assert!(
            text.contains("  prod-pg/table:read@only:name=orders;tag=env=prod|staging"),
            "{text}"
        );
        assert!(
            text.contains("  prod-pg/database:connect\n") || text.ends_with("  prod-pg/database:connect"),
            "{text}"
        );
    }

    #[test]
    fn json_has_the_spec_and_its_parts() {
        let json = serde_json::to_value(BundleView::from(&bundle())).unwrap();
        let target = &json["targets"][0];
        assert_eq!(
            target["spec"],
            "prod-pg/table:read@only:name=orders;tag=env=prod|staging"
        );
        assert_eq!(target["selection"]["mode"], "only");
        assert_eq!(
            target["selection"]["tags"][0]["values"],
            serde_json::json!(["prod", "staging"])
        );
        assert_eq!(json["targets"][1]["selection"]["mode"], "any");
    }
}
