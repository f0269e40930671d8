//! Flow templates: the duration, approval and settings a new flow can start from.

use latch_proto::flow::v1::Template;
use serde::Serialize;

use crate::output::{render, table};

#[derive(Debug, Serialize)]
pub struct TemplateView {
    pub name: String,
    pub description: String,
    pub typical_duration: String,
    pub maximum: String,
}

impl From<&Template> for TemplateView {
    fn from(template: &Template) -> Self {
        Self {
            name: template.name.clone(),
            description: template.description.clone(),
            typical_duration: template.typical_duration.clone(),
            maximum: template.maximum.clone(),
        }
    }
}

pub fn templates_table(templates: &[Template]) -> String {
    let mut rows = table(["name", "description", "typical duration", "maximum"]);
    for template in templates {
        rows.add_row(vec![
            template.name.clone(),
            template.description.clone(),
            template.typical_duration.clone(),
            template.maximum.clone(),
        ]);
    }
    render(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_template() {
        let templates = [Template {
            name: "break-glass".into(),
            description: "Emergency access".into(),
            typical_duration: "1h".into(),
            maximum: "4h".into(),
        }];
        let text = templates_table(&templates);
        assert!(text.starts_with("NAME"), "{text}");
        assert!(text.contains("TYPICAL DURATION"), "{text}");
        let row = text.lines().nth(1).unwrap_or_default();
        assert!(row.starts_with("break-glass") && row.ends_with("4h"), "{text}");
    }
}
