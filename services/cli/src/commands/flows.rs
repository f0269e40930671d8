//! `latch flows …`: access flows, their templates, flows as code, and what they allow.

use clap::Subcommand;
use latch_proto::flow::v1 as pb;
use prost_types::Timestamp;

use super::flow_evaluate::{self, EvaluateArgs};
use crate::client::FlowClient;
use crate::context::Context;
use crate::document_input::DocumentSource;
use crate::error::CliError;
use crate::flow_item::ItemArg;
use crate::output;
use crate::render::flow::explain::{ExplainedFlowView, explain_text};
use crate::render::flow::flows::{FlowView, flow_details, flow_summary, flows_table};
use crate::render::flow::plan::{PlanView, plan_text};
use crate::render::flow::requestable::{RequestableView, requestable_text};
use crate::render::flow::template::{TemplateView, templates_table};
use crate::timestamp::parse_rfc3339;

#[derive(Debug, Subcommand)]
pub enum FlowsCommand {
    /// Templates a new flow can start from
    Templates,
    /// Create a flow from a YAML (or JSON) document
    Create {
        /// The flow document; `-` reads stdin
        #[arg(short = 'f', long = "file", value_name = "FILE|-")]
        file: DocumentSource,
        /// Start from a template: the document brings name, requestors and targets, the
        /// template the duration, approval and settings
        #[arg(long, value_name = "NAME")]
        template: Option<String>,
    },
    /// List flows
    List {
        /// Only this space (id or name)
        #[arg(long)]
        space: Option<String>,
        /// Only flows with this label
        #[arg(long)]
        label: Option<String>,
    },
    /// Who holds what through a flow, what the reconciler has still to do, and drift
    Status {
        #[arg(value_name = "ID_OR_NAME")]
        flow: String,
    },
    /// Show one flow with its definition
    Get {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
    /// Replace a flow's definition (refused if it changed since it was read)
    Update {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
        /// The new flow document; `-` reads stdin
        #[arg(short = 'f', long = "file", value_name = "FILE|-")]
        file: DocumentSource,
    },
    /// Delete a flow
    Delete {
        #[arg(value_name = "ID_OR_NAME")]
        id: String,
    },
    /// Print every flow as one YAML document, ready for `flows apply`
    Export {
        /// Only this space (id or name)
        #[arg(long)]
        space: Option<String>,
    },
    /// Make the stored flows equal a document: prints the plan (+ created, ~ changed, - deleted)
    Apply {
        /// The flows document (a list of flows); `-` reads stdin
        #[arg(short = 'f', long = "file", value_name = "FILE|-")]
        file: DocumentSource,
        /// Also delete flows the document does not contain
        #[arg(long)]
        prune: bool,
        /// Only show the plan; change nothing
        #[arg(long)]
        dry_run: bool,
        /// The document is one space's export: prune only that space's flows
        #[arg(long)]
        space: Option<String>,
    },
    /// Which flows allow a request, and why the others do not; exits 1 when none does
    Evaluate(EvaluateArgs),
    /// The flows you may request now, with how many items each covers
    Requestable {
        /// As of this RFC 3339 time [default: now]
        #[arg(long, value_parser = parse_rfc3339)]
        at: Option<Timestamp>,
    },
    /// Admins: the flows covering an item, who qualifies, when, and how it is approved
    Explain {
        /// Splits at the first `/` and the last `:`, e.g. demo/table:orders-prod/orders:read
        #[arg(long, value_name = "INTEGRATION/RESOURCE_ID:PERMISSION")]
        item: ItemArg,
    },
}

pub async fn run(ctx: &Context, command: FlowsCommand) -> Result<(), CliError> {
    // Documents are read before connecting, so a missing file costs no round trip.
    let document = match &command {
        FlowsCommand::Create { file, .. } | FlowsCommand::Update { file, .. } | FlowsCommand::Apply { file, .. } => {
            file.read()?
        }
        _ => String::new(),
    };
    if let FlowsCommand::Status { flow } = &command {
        // Holdings live with requests.
        return super::flow_status::status(ctx, flow).await;
    }
    let mut client = ctx.flow_client().await?;
    match command {
        FlowsCommand::Status { .. } => Ok(()),
        FlowsCommand::Templates => {
            let templates = client
                .list_templates(pb::ListTemplatesRequest {})
                .await?
                .into_inner()
                .templates;
            let view = serde_json::json!({
                "templates": templates.iter().map(TemplateView::from).collect::<Vec<_>>(),
            });
            output::emit(ctx.output, &view, || {
                if templates.is_empty() {
                    "no templates".to_string()
                } else {
                    templates_table(&templates)
                }
            })
        }
        FlowsCommand::Create { template, .. } => {
            let request = pb::CreateFlowRequest {
                definition: document,
                template: template.unwrap_or_default(),
            };
            let flow = client.create_flow(request).await?.into_inner();
            output::emit(ctx.output, &FlowView::from(&flow), || flow_summary(&flow))
        }
        FlowsCommand::List { space, label } => {
            let request = pb::ListFlowsRequest {
                space: space.unwrap_or_default(),
                label: label.unwrap_or_default(),
            };
            let flows = client.list_flows(request).await?.into_inner().flows;
            let view = serde_json::json!({
                "flows": flows.iter().map(FlowView::from).collect::<Vec<_>>(),
            });
            output::emit(ctx.output, &view, || {
                if flows.is_empty() {
                    "no flows".to_string()
                } else {
                    flows_table(&flows)
                }
            })
        }
        FlowsCommand::Get { id } => {
            let flow = get(&mut client, id).await?;
            output::emit(ctx.output, &FlowView::from(&flow), || flow_details(&flow))
        }
        FlowsCommand::Update { id, .. } => {
            // The etag of what was just read: a concurrent change makes the update fail
            // rather than be overwritten.
            let current = get(&mut client, id).await?;
            let request = pb::UpdateFlowRequest {
                id: current.id,
                definition: document,
                etag: current.etag,
            };
            let flow = client.update_flow(request).await?.into_inner();
            output::emit(ctx.output, &FlowView::from(&flow), || flow_summary(&flow))
        }
        FlowsCommand::Delete { id } => {
            client.delete_flow(pb::DeleteFlowRequest { id: id.clone() }).await?;
            super::done(ctx, "deleted", &id, &format!("deleted flow {id}"))
        }
        FlowsCommand::Export { space } => {
            let request = pb::ExportFlowsRequest {
                space: space.unwrap_or_default(),
            };
            let document = client.export_flows(request).await?.into_inner().document;
            if ctx.json() {
                output::json(&serde_json::json!({ "document": document }))
            } else {
                output::document(&document)
            }
        }
        FlowsCommand::Apply {
            prune, dry_run, space, ..
        } => {
            let request = pb::ApplyFlowsRequest {
                document,
                prune,
                dry_run,
                space: space.unwrap_or_default(),
            };
            let response = client.apply_flows(request).await?.into_inner();
            output::emit(ctx.output, &PlanView::new(&response, dry_run), || {
                plan_text(&response, dry_run)
            })
        }
        FlowsCommand::Evaluate(args) => flow_evaluate::evaluate(ctx, &mut client, &args).await,
        FlowsCommand::Requestable { at } => {
            let flows = client
                .list_requestable(pb::ListRequestableRequest {
                    at,
                    ..Default::default()
                })
                .await?
                .into_inner()
                .flows;
            let view = serde_json::json!({
                "flows": flows.iter().map(RequestableView::from).collect::<Vec<_>>(),
            });
            output::emit(ctx.output, &view, || requestable_text(&flows))
        }
        FlowsCommand::Explain { item } => {
            let request = pb::ExplainRequest {
                item: Some(item.to_proto()),
            };
            let flows = client.explain(request).await?.into_inner().flows;
            let view = serde_json::json!({
                "item": item.to_string(),
                "flows": flows.iter().map(ExplainedFlowView::from).collect::<Vec<_>>(),
            });
            output::emit(ctx.output, &view, || explain_text(&item.to_string(), &flows))
        }
    }
}

async fn get(client: &mut FlowClient, id: String) -> Result<pb::Flow, CliError> {
    Ok(client.get_flow(pb::GetFlowRequest { id }).await?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::path::PathBuf;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(subcommand)]
        command: FlowsCommand,
    }

    fn parse(args: &[&str]) -> Result<FlowsCommand, clap::Error> {
        Harness::try_parse_from(std::iter::once("flows").chain(args.iter().copied())).map(|h| h.command)
    }

    #[test]
    fn documents_come_from_a_file_or_stdin() {
        let Ok(FlowsCommand::Create { file, template }) = parse(&["create", "-f", "-", "--template", "break-glass"])
        else {
            panic!("not create");
        };
        assert_eq!(file, DocumentSource::Stdin);
        assert_eq!(template.as_deref(), Some("break-glass"));
        let Ok(FlowsCommand::Update { id, file }) = parse(&["update", "prod orders read", "--file", "flow.yaml"])
        else {
            panic!("not update");
        };
        assert_eq!(id, "prod orders read");
        assert_eq!(file, DocumentSource::File(PathBuf::from("flow.yaml")));
        assert!(parse(&["create"]).is_err(), "-f is required");
    }

    #[test]
    fn apply_takes_prune_and_dry_run() {
        let Ok(FlowsCommand::Apply { prune, dry_run, .. }) =
            parse(&["apply", "-f", "flows.yaml", "--prune", "--dry-run"])
        else {
            panic!("not apply");
        };
        assert!(prune && dry_run);
    }

    #[test]
    fn explain_needs_a_valid_item() {
        assert!(parse(&["explain"]).is_err());
        assert_eq!(parse(&["explain", "--item", "demo"]).unwrap_err().exit_code(), 2);
        let Ok(FlowsCommand::Explain { item }) = parse(&["explain", "--item", "demo/table:orders-prod/orders:read"])
        else {
            panic!("not explain");
        };
        assert_eq!(item.resource_id, "table:orders-prod/orders");
    }
}
