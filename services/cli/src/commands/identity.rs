//! `latch identity …`: directory import and the change feed.

use std::path::PathBuf;

use clap::Subcommand;
use latch_proto::identity::v1 as pb;
use serde::Serialize;

use crate::args::OutputFormat;
use crate::context::Context;
use crate::error::CliError;
use crate::output;
use crate::render::change::{ChangeView, change_line};

#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Apply a directory document (YAML or JSON: users, groups, schedules) idempotently
    Import {
        /// The document; - reads stdin
        file: PathBuf,
        /// Report what would change without changing anything
        #[arg(long)]
        dry_run: bool,
    },
    /// Print identity changes as they commit, until Ctrl-C
    Watch {
        /// Replay changes after this sequence number first
        #[arg(long, value_name = "SEQUENCE", default_value_t = 0, value_parser = clap::value_parser!(i64).range(0..))]
        after: i64,
    },
}

#[derive(Debug, Serialize)]
struct ImportView<'a> {
    dry_run: bool,
    created: &'a [String],
    changed: &'a [String],
    unchanged: i32,
}

pub async fn run(ctx: &Context, command: IdentityCommand) -> Result<(), CliError> {
    match command {
        IdentityCommand::Import { file, dry_run } => import(ctx, file, dry_run).await,
        IdentityCommand::Watch { after } => watch(ctx, after).await,
    }
}

async fn import(ctx: &Context, file: PathBuf, dry_run: bool) -> Result<(), CliError> {
    // Read before connecting, so a wrong path is reported without a round trip.
    let document = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|error| CliError::io("cannot read stdin", error))?
    } else {
        std::fs::read_to_string(&file)
            .map_err(|error| CliError::io(format!("cannot read {}", file.display()), error))?
    };
    let mut client = ctx.client().await?;
    let report = client
        .import_directory(pb::ImportDirectoryRequest { document, dry_run })
        .await?
        .into_inner();
    let view = ImportView {
        dry_run,
        created: &report.created,
        changed: &report.changed,
        unchanged: report.unchanged,
    };
    output::emit(ctx.output, &view, || import_text(&report, dry_run))
}

fn import_text(report: &pb::ImportDirectoryResponse, dry_run: bool) -> String {
    let mut lines = Vec::new();
    if dry_run {
        lines.push("dry run: nothing was changed".to_string());
    }
    let (created, changed) = if dry_run {
        ("would create", "would change")
    } else {
        ("created", "changed")
    };
    for (title, names) in [(created, &report.created), (changed, &report.changed)] {
        lines.push(format!("{title} ({}):", names.len()));
        lines.extend(names.iter().map(|name| format!("  {name}")));
    }
    lines.push(format!("unchanged: {}", report.unchanged));
    lines.join("\n")
}

/// Ends cleanly on Ctrl-C or when the server closes the stream.
async fn watch(ctx: &Context, after: i64) -> Result<(), CliError> {
    let mut client = ctx.client().await?;
    let mut stream = client
        .watch_changes(pb::WatchChangesRequest { after_sequence: after })
        .await?
        .into_inner();
    loop {
        let next = tokio::select! {
            next = stream.message() => next?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let Some(change) = next else {
            return Ok(());
        };
        match ctx.output {
            OutputFormat::Json => output::json_line(&ChangeView::from(&change))?,
            OutputFormat::Table => output::line(change_line(&change))?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_report_lists_created_changed_and_unchanged() {
        let report = pb::ImportDirectoryResponse {
            created: vec!["users/ada".into()],
            changed: vec!["groups/ops".into(), "schedules/primary".into()],
            unchanged: 4,
        };
        assert_eq!(
            import_text(&report, false),
            "created (1):\n  users/ada\nchanged (2):\n  groups/ops\n  schedules/primary\nunchanged: 4"
        );
        assert!(import_text(&report, true).starts_with("dry run: nothing was changed\nwould create (1):"));
    }
}
