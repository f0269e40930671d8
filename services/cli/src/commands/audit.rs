//! `latch audit …`: read, verify and export the audit log (admins and auditors).

use std::io::Write;

use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};
use latch_proto::request::v1 as pb;
use prost_types::Timestamp;
use serde::Serialize;

use super::paging::{self, Page};
use crate::args::PageArgs;
use crate::context::Context;
use crate::error::CliError;
use crate::output::{self, render, table};
use crate::timestamp::{format, parse_rfc3339};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Events oldest first: requests, approvals, grants, revocations, admin changes
    List {
        #[command(flatten)]
        filter: FilterArgs,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Walk the hash chain and prove it intact, or name the first broken link (exit 1)
    Verify {
        /// Also check the signed checkpoints: finds a chain cut short or rewritten with
        /// recomputed hashes (exit 1)
        #[arg(long)]
        checkpoints: bool,
        /// Also check a checkpoint you kept: the last line of an earlier `latch audit export`
        /// (implies --checkpoints)
        #[arg(long, value_name = "FILE")]
        checkpoint_file: Option<std::path::PathBuf>,
    },
    /// The Ed25519 public key audit checkpoints are signed with, to verify them outside Latch
    PublicKey,
    /// Stream every matching event as JSON lines or CSV, for your own storage
    Export {
        #[command(flatten)]
        filter: FilterArgs,
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Write to this file instead of standard output
        #[arg(long, short = 'f', value_name = "FILE")]
        file: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

/// A time: RFC 3339, or a date (midnight UTC).
fn parse_time(text: &str) -> Result<Timestamp, String> {
    if let Ok(date) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        let at = date.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_else(Utc::now);
        return Ok(crate::timestamp::to_proto(at));
    }
    parse_rfc3339(text)
}

#[derive(Debug, Clone, Args)]
pub struct FilterArgs {
    /// From this time (RFC 3339 or YYYY-MM-DD), inclusive
    #[arg(long, value_parser = parse_time)]
    from: Option<Timestamp>,
    /// Until this time (RFC 3339 or YYYY-MM-DD), exclusive
    #[arg(long, value_parser = parse_time)]
    to: Option<Timestamp>,
    /// Who acted: user name or id, or `latch`
    #[arg(long)]
    actor: Option<String>,
    /// Whose access: user name or id
    #[arg(long)]
    grantee: Option<String>,
    /// A resource id or name
    #[arg(long)]
    resource: Option<String>,
    /// A flow name
    #[arg(long)]
    flow: Option<String>,
    /// An event type (request.approved), or a prefix ending in a dot (request.)
    #[arg(long = "type", value_name = "TYPE")]
    action: Option<String>,
}

impl FilterArgs {
    fn filter(&self) -> pb::AuditFilter {
        pb::AuditFilter {
            from: self.from,
            to: self.to,
            actor: self.actor.clone().unwrap_or_default(),
            grantee: self.grantee.clone().unwrap_or_default(),
            resource: self.resource.clone().unwrap_or_default(),
            flow: self.flow.clone().unwrap_or_default(),
            action: self.action.clone().unwrap_or_default(),
        }
    }
}

#[derive(Debug, Serialize)]
struct EventView {
    sequence: i64,
    id: String,
    time: String,
    actor: String,
    action: String,
    subject: String,
    source: String,
    grantee: String,
    flow: String,
    before: serde_json::Value,
    after: serde_json::Value,
    detail: String,
    hash: String,
}

impl From<&pb::AuditEvent> for EventView {
    fn from(e: &pb::AuditEvent) -> Self {
        let parse = |text: &str| serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
        Self {
            sequence: e.sequence,
            id: e.id.clone(),
            time: format(e.time.as_ref()),
            actor: e.actor.clone(),
            action: e.action.clone(),
            subject: e.subject.clone(),
            source: e.source.clone(),
            grantee: e.grantee.clone(),
            flow: e.flow.clone(),
            before: parse(&e.before),
            after: parse(&e.after),
            detail: e.detail.clone(),
            hash: e.hash.clone(),
        }
    }
}

fn events_table(events: &[pb::AuditEvent]) -> String {
    let mut t = table(["seq", "time", "actor", "type", "subject", "detail"]);
    for e in events {
        let sequence = if e.sequence == 0 {
            "-".to_string()
        } else {
            e.sequence.to_string()
        };
        t.add_row(vec![
            sequence,
            format(e.time.as_ref()),
            e.actor.clone(),
            e.action.clone(),
            e.subject.clone(),
            e.detail.clone(),
        ]);
    }
    render(&t)
}

#[derive(Debug, Serialize)]
struct VerifyView {
    intact: bool,
    verified: i64,
    pending: i64,
    head_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_broken: Option<BrokenView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checkpoints: Option<CheckpointsView>,
}

#[derive(Debug, Serialize)]
struct CheckpointsView {
    verified: i64,
    latest_sequence: i64,
    key_id: String,
    public_key: String,
    problems: Vec<ProblemView>,
}

#[derive(Debug, Serialize)]
struct ProblemView {
    sequence: i64,
    kind: &'static str,
    reason: String,
}

fn problem_kind(kind: i32) -> &'static str {
    match pb::CheckpointProblemKind::try_from(kind) {
        Ok(pb::CheckpointProblemKind::BadSignature) => "bad_signature",
        Ok(pb::CheckpointProblemKind::OtherKey) => "other_key",
        Ok(pb::CheckpointProblemKind::HeadMismatch) => "head_mismatch",
        Ok(pb::CheckpointProblemKind::Truncated) => "truncated",
        _ => "unknown",
    }
}

fn checkpoints_view(report: &pb::VerifyAuditLogResponse) -> Option<CheckpointsView> {
    report.checkpoints_checked.then(|| {
        let key = report.signing_key.clone().unwrap_or_default();
        CheckpointsView {
            verified: report.checkpoints_verified,
            latest_sequence: report.latest_checkpoint_sequence,
            key_id: key.key_id,
            public_key: key.public_key,
            problems: report
                .checkpoint_problems
                .iter()
                .map(|p| ProblemView {
                    sequence: p.sequence,
                    kind: problem_kind(p.kind),
                    reason: p.reason.clone(),
                })
                .collect(),
        }
    })
}

fn verify_text(report: &pb::VerifyAuditLogResponse, checkpoints: Option<&CheckpointsView>) -> String {
    let chain_intact = report.first_broken_id.is_empty() && report.first_broken_sequence == 0;
    let mut text = if chain_intact {
        format!(
            "chain intact: {} event(s) verified, {} waiting to be sealed\nhead hash: {}",
            report.verified, report.pending, report.head_hash
        )
    } else {
        format!(
            "BROKEN at sequence {} (event {}): {}\n{} event(s) before it verified",
            report.first_broken_sequence, report.first_broken_id, report.reason, report.verified
        )
    };
    if let Some(checkpoints) = checkpoints {
        text.push_str(&format!(
            "\ncheckpoints: {} verified, the latest at sequence {}; signing key {} (ed25519, public key {})",
            checkpoints.verified, checkpoints.latest_sequence, checkpoints.key_id, checkpoints.public_key
        ));
        for problem in &checkpoints.problems {
            text.push_str(&format!(
                "\nCHECKPOINT {} at sequence {}: {}",
                problem.kind.to_uppercase().replace('_', " "),
                problem.sequence,
                problem.reason
            ));
        }
    }
    if report.intact {
        format!("intact: {}", text.trim_start_matches("chain intact: "))
    } else {
        text
    }
}

#[derive(Debug, Serialize)]
struct BrokenView {
    sequence: i64,
    id: String,
    reason: String,
}

pub async fn run(ctx: &Context, command: AuditCommand) -> Result<(), CliError> {
    let mut client = ctx.audit_client().await?;
    match command {
        AuditCommand::List { filter, page } => {
            let filter = filter.filter();
            let page_size = page.page_size.unwrap_or(0);
            let fetched = paging::fetch(page.all, |token| {
                let mut client = client.clone();
                let filter = filter.clone();
                async move {
                    let response = client
                        .list_audit_events(pb::ListAuditEventsRequest {
                            filter: Some(filter),
                            page_size,
                            page_token: token,
                        })
                        .await?
                        .into_inner();
                    Ok(Page {
                        items: response.events,
                        next_page_token: response.next_page_token,
                        total_size: 0,
                    })
                }
            })
            .await?;
            let views: Vec<EventView> = fetched.items.iter().map(EventView::from).collect();
            output::emit(ctx.output, &views, || events_table(&fetched.items))?;
            if !ctx.json()
                && let Some(note) = paging::more_note(&fetched, "events")
            {
                output::note(note)?;
            }
            Ok(())
        }
        AuditCommand::Verify {
            checkpoints,
            checkpoint_file,
        } => {
            let kept_checkpoints = match &checkpoint_file {
                Some(path) => vec![super::audit_checkpoint_file::read(path)?],
                None => Vec::new(),
            };
            let report = client
                .verify_audit_log(pb::VerifyAuditLogRequest {
                    checkpoints: checkpoints || checkpoint_file.is_some(),
                    kept_checkpoints,
                })
                .await?
                .into_inner();
            let chain_intact = report.first_broken_id.is_empty() && report.first_broken_sequence == 0;
            let view = VerifyView {
                intact: report.intact,
                verified: report.verified,
                pending: report.pending,
                head_hash: report.head_hash.clone(),
                first_broken: (!chain_intact).then(|| BrokenView {
                    sequence: report.first_broken_sequence,
                    id: report.first_broken_id.clone(),
                    reason: report.reason.clone(),
                }),
                checkpoints: checkpoints_view(&report),
            };
            output::emit(ctx.output, &view, || verify_text(&report, view.checkpoints.as_ref()))?;
            if report.intact {
                Ok(())
            } else if !chain_intact {
                Err(CliError::Other(format!(
                    "the audit log is broken at sequence {}",
                    report.first_broken_sequence
                )))
            } else {
                Err(CliError::Other(format!(
                    "the audit log fails {} checkpoint check(s)",
                    report.checkpoint_problems.len()
                )))
            }
        }
        AuditCommand::PublicKey => {
            let key = client
                .get_audit_signing_key(pb::GetAuditSigningKeyRequest {})
                .await?
                .into_inner();
            #[derive(Serialize)]
            struct KeyView {
                algorithm: String,
                key_id: String,
                public_key: String,
            }
            let view = KeyView {
                algorithm: key.algorithm.clone(),
                key_id: key.key_id.clone(),
                public_key: key.public_key.clone(),
            };
            output::emit(ctx.output, &view, || {
                format!("{} key {}: {}", key.algorithm, key.key_id, key.public_key)
            })?;
            Ok(())
        }
        AuditCommand::Export { filter, format, file } => {
            let mut stream = client
                .export_audit_events(pb::ExportAuditEventsRequest {
                    filter: Some(filter.filter()),
                    format: match format {
                        ExportFormat::Jsonl => "jsonl",
                        ExportFormat::Csv => "csv",
                    }
                    .into(),
                })
                .await?
                .into_inner();
            let io = |context: &str| {
                let context = context.to_string();
                move |source| CliError::Io { context, source }
            };
            let mut out: Box<dyn Write> = match &file {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path).map_err(io(&format!("cannot create {}", path.display())))?,
                )),
                None => Box::new(std::io::stdout().lock()),
            };
            while let Some(chunk) = stream.message().await? {
                out.write_all(&chunk.data).map_err(io("cannot write the export"))?;
            }
            out.flush().map_err(io("cannot write the export"))?;
            Ok(())
        }
    }
}
