//! The plan of `flows apply`: `+` created, `~` changed, `-` deleted, the unchanged count, and
//! whether anything was written.

use latch_proto::flow::v1::ApplyFlowsResponse;
use serde::Serialize;

use super::count;

#[derive(Debug, Serialize)]
pub struct PlanView {
    pub created: Vec<String>,
    pub changed: Vec<String>,
    pub deleted: Vec<String>,
    pub unchanged: i32,
    pub applied: bool,
    pub dry_run: bool,
}

impl PlanView {
    pub fn new(response: &ApplyFlowsResponse, dry_run: bool) -> Self {
        Self {
            created: response.created.clone(),
            changed: response.changed.clone(),
            deleted: response.deleted.clone(),
            unchanged: response.unchanged,
            applied: response.applied,
            dry_run,
        }
    }
}

pub fn plan_text(response: &ApplyFlowsResponse, dry_run: bool) -> String {
    let marked = |mark: char, names: &[String]| {
        names
            .iter()
            .map(move |name| format!("{mark} {name}"))
            .collect::<Vec<_>>()
    };
    let mut lines = marked('+', &response.created);
    lines.extend(marked('~', &response.changed));
    lines.extend(marked('-', &response.deleted));
    let changes = lines.len();
    lines.push(format!("{} unchanged", response.unchanged));
    let outcome = if dry_run {
        "dry run: nothing was changed".to_string()
    } else if !response.applied {
        "nothing was changed".to_string()
    } else if changes == 0 {
        "nothing to change".to_string()
    } else {
        format!(
            "applied: {} created, {} changed, {} deleted",
            response.created.len(),
            response.changed.len(),
            response.deleted.len()
        )
    };
    lines.push(String::new());
    lines.push(outcome);
    if dry_run && changes > 0 {
        let plural = count(i64::try_from(changes).unwrap_or(i64::MAX), "change");
        lines.push(format!("run without --dry-run to apply {plural}"));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(applied: bool) -> ApplyFlowsResponse {
        ApplyFlowsResponse {
            created: vec!["new one".into()],
            changed: vec!["prod orders read".into()],
            deleted: vec!["old one".into()],
            unchanged: 2,
            applied,
        }
    }

    #[test]
    fn marks_each_change_and_counts_the_rest() {
        let text = plan_text(&plan(true), false);
        assert_eq!(
            text,
            "+ new one\n~ prod orders read\n- old one\n2 unchanged\n\napplied: 1 created, 1 changed, 1 deleted"
        );
    }

    #[test]
    fn a_dry_run_says_nothing_was_changed() {
        let text = plan_text(&plan(false), true);
        assert!(
            text.starts_with("+ new one\n~ prod orders read\n- old one\n2 unchanged\n"),
            "{text}"
        );
        assert!(text.contains("dry run: nothing was changed"), "{text}");
        assert!(text.ends_with("apply 3 changes"), "{text}");
        let json = serde_json::to_value(PlanView::new(&plan(false), true)).unwrap();
        assert_eq!(json["dry_run"], true);
        assert_eq!(json["applied"], false);
        assert_eq!(json["deleted"][0], "old one");
    }

    #[test]
    fn nothing_to_do() {
        let unchanged = ApplyFlowsResponse {
            unchanged: 4,
            applied: true,
            ..Default::default()
        };
        assert_eq!(plan_text(&unchanged, false), "4 unchanged\n\nnothing to change");
    }
}
