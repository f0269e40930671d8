//! `flows explain`: for one item, each covering flow with who may get it (in words), when, how
//! it is approved, and the users who qualify now.

use latch_proto::flow::v1::ExplainedFlow;
use serde::Serialize;

use super::count;
use crate::output::{details, render};

#[derive(Debug, Serialize)]
pub struct ExplainedFlowView {
    pub flow_id: String,
    pub flow_name: String,
    pub kind: String,
    pub who: String,
    pub when: String,
    pub approval: String,
    pub users: Vec<String>,
}

impl From<&ExplainedFlow> for ExplainedFlowView {
    fn from(flow: &ExplainedFlow) -> Self {
        Self {
            flow_id: flow.flow_id.clone(),
            flow_name: flow.flow_name.clone(),
            kind: flow.kind.clone(),
            who: flow.who.clone(),
            when: flow.when.clone(),
            approval: flow.approval.clone(),
            users: flow.users.clone(),
        }
    }
}

/// One block per flow: `name (kind)` then its fields, indented.
pub fn explain_text(item: &str, flows: &[ExplainedFlow]) -> String {
    if flows.is_empty() {
        return format!("no flow covers {item}");
    }
    let blocks: Vec<String> = flows
        .iter()
        .map(|flow| {
            let users = if flow.users.is_empty() {
                "nobody now".to_string()
            } else {
                format!(
                    "{} ({})",
                    flow.users.join(", "),
                    count(i64::try_from(flow.users.len()).unwrap_or(i64::MAX), "user")
                )
            };
            let fields = render(&details(vec![
                ("who", flow.who.clone()),
                ("when", flow.when.clone()),
                ("approval", flow.approval.clone()),
                ("users", users),
            ]));
            let indented: Vec<String> = fields.lines().map(|line| format!("  {line}")).collect();
            format!("{} ({})\n{}", flow.flow_name, flow.kind, indented.join("\n"))
        })
        .collect();
    format!(
        "{item} is covered by {}:\n\n{}",
        count(i64::try_from(flows.len()).unwrap_or(i64::MAX), "flow"),
        blocks.join("\n\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flow_reads_who_when_approval_and_users() {
        let flows = [ExplainedFlow {
            flow_id: "f-1".into(),
            flow_name: "prod orders read".into(),
            kind: "self_serve".into(),
            who: "department is Engineering".into(),
            when: "any time".into(),
            approval: "automatic".into(),
            users: vec!["ada".into(), "boss".into()],
        }];
        let text = explain_text("demo/table:orders:read", &flows);
        assert!(
            text.starts_with("demo/table:orders:read is covered by 1 flow:\n\nprod orders read (self_serve)\n"),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|line| line.starts_with("  who:") && line.ends_with("department is Engineering")),
            "{text}"
        );
        assert!(text.lines().any(|line| line.ends_with("ada, boss (2 users)")), "{text}");
    }

    #[test]
    fn an_uncovered_item_says_so() {
        assert_eq!(explain_text("demo/x:read", &[]), "no flow covers demo/x:read");
    }
}
