//! `latch request …` to ask for access; `latch requests …` to follow, decide on and end
//! requests; `latch approvals` for what waits on you.

use clap::{Args, Subcommand};
use latch_proto::request::v1 as pb;
use prost_types::Timestamp;

use crate::client::RequestClient;
use crate::context::Context;
use crate::error::CliError;
use crate::flow_item::ItemArg;
use crate::output;
use crate::render::request::{
    CredentialView, DeliveryView, JobView, RequestView, credentials_text, deliveries_table, jobs_table,
    request_details, requests_details, requests_table,
};
use crate::timestamp::parse_rfc3339;

#[derive(Debug, Args)]
pub struct AskArgs {
    /// A concrete item; repeat for more, e.g. pg/table:app/public/orders:read
    #[arg(long = "item", value_name = "INTEGRATION/RESOURCE_ID:PERMISSION")]
    items: Vec<ItemArg>,
    /// A bundle (id or name) whose items to request
    #[arg(long, value_name = "ID_OR_NAME")]
    bundle: Option<String>,
    /// An access scope (id or name), with --scope-permission
    #[arg(long, value_name = "ID_OR_NAME")]
    scope: Option<String>,
    /// A permission on what the scope matches; repeat or separate with commas
    #[arg(
        long = "scope-permission",
        value_name = "PERMISSION",
        value_delimiter = ',',
        requires = "scope"
    )]
    scope_permissions: Vec<String>,
    /// How long, e.g. 30m or 2h [default: the flow's]
    #[arg(long)]
    duration: Option<String>,
    /// Why you need it
    #[arg(long, short = 'j')]
    justification: Option<String>,
    /// For someone else (user id or name), as the flow allows
    #[arg(long = "for", value_name = "USER")]
    grantee: Option<String>,
    /// Only this flow (id or name) [default: the least-friction flow that allows it]
    #[arg(long, value_name = "ID_OR_NAME")]
    flow: Option<String>,
    /// Grant at this RFC 3339 time (approved ahead) [default: as soon as approved]
    #[arg(long, value_parser = parse_rfc3339)]
    start: Option<Timestamp>,
    /// Your current TOTP code, when the flow requires MFA and the access is for you
    #[arg(long, value_name = "CODE")]
    mfa_code: Option<String>,
    /// Client request id: asking again with the same id returns the first request
    #[arg(long, value_name = "ID")]
    request_id: Option<String>,
}

impl AskArgs {
    fn request(&self) -> pb::SubmitRequestRequest {
        pb::SubmitRequestRequest {
            request_id: self.request_id.clone().unwrap_or_default(),
            grantee: self.grantee.clone().unwrap_or_default(),
            items: self
                .items
                .iter()
                .map(|i| pb::RequestedItem {
                    integration: i.integration.clone(),
                    resource_id: i.resource_id.clone(),
                    permission: i.permission.clone(),
                })
                .collect(),
            bundle: self.bundle.clone().unwrap_or_default(),
            scope: self.scope.clone().unwrap_or_default(),
            scope_permissions: self.scope_permissions.clone(),
            duration: self.duration.clone().unwrap_or_default(),
            justification: self.justification.clone().unwrap_or_default(),
            flow: self.flow.clone().unwrap_or_default(),
            start_time: self.start,
            mfa_code: self.mfa_code.clone().unwrap_or_default(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum RequestsCommand {
    /// Your requests (as requester or grantee), newest first
    List {
        /// Only these states, e.g. active,pending_approval
        #[arg(long, value_delimiter = ',')]
        state: Vec<String>,
        /// Everyone's requests (admins and auditors)
        #[arg(long)]
        everyone: bool,
        /// At most this many
        #[arg(long, default_value_t = 50)]
        limit: i32,
        /// Only requests matching, e.g. 'flow = "db access" AND create_time >= "2026-12-01T00:00:00Z"'
        /// (fields: state, flow, requester, grantee, create_time; terms joined by AND)
        #[arg(long, default_value = "")]
        filter: String,
    },
    /// One request in full: why it waits and on whom, items, decisions, history
    Show { id: String },
    /// Follow a request: shown now, then again each time it changes, until it ends
    Watch { id: String },
    /// Approve as an eligible approver
    Approve {
        id: String,
        /// Why (required when the flow says so; at most 124 characters)
        #[arg(long, short = 'r')]
        reason: Option<String>,
    },
    /// Reject as an eligible approver; ends the request
    Reject {
        id: String,
        #[arg(long, short = 'r')]
        reason: Option<String>,
    },
    /// Verify MFA for a request made for you
    Verify {
        id: String,
        /// The current code from your authenticator app
        #[arg(long)]
        code: String,
    },
    /// Extend active access by the flow's extension length
    Extend { id: String },
    /// End granted access now
    Revoke {
        id: String,
        #[arg(long, short = 'r')]
        reason: Option<String>,
    },
    /// Withdraw a request that is not granted yet
    Cancel {
        id: String,
        #[arg(long, short = 'r')]
        reason: Option<String>,
    },
    /// The account and credentials of your active access
    Credentials { id: String },
    /// Admins: grant and revoke jobs not done yet, with their last error
    Jobs,
    /// Admins: compare Latch's grants with the target systems, and repair with --repair
    Drift {
        /// Only this integration (id or name)
        #[arg(long)]
        integration: Option<String>,
        /// Revoke grants Latch does not know and give missing ones again
        #[arg(long)]
        repair: bool,
    },
    /// Admins: webhook notification attempts, newest first, with the sink's answer
    Deliveries {
        /// At most this many
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i32).range(1..=1000))]
        limit: i32,
    },
}

fn print_request(ctx: &Context, request: &pb::AccessRequest) -> Result<(), CliError> {
    output::emit(ctx.output, &RequestView::from(request), || request_details(request))
}

/// Prints the request as it is now (the decision or change may already have moved it on).
async fn show_after(ctx: &Context, client: &mut RequestClient, id: &str) -> Result<(), CliError> {
    let request = client
        .get_request(pb::GetRequestRequest { id: id.into() })
        .await?
        .into_inner();
    print_request(ctx, &request)
}

pub async fn ask(ctx: &Context, args: AskArgs) -> Result<(), CliError> {
    let mut client = ctx.request_client().await?;
    let submitted = client.submit_request(args.request()).await?.into_inner();
    show_after(ctx, &mut client, &submitted.id).await
}

pub async fn approvals(ctx: &Context) -> Result<(), CliError> {
    let mut client = ctx.request_client().await?;
    // Every page: an approver sees everything that waits for them.
    let mut waiting = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_approvals(pb::ListApprovalsRequest {
                page_size: 500,
                page_token,
            })
            .await?
            .into_inner();
        waiting.extend(page.requests);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let views: Vec<RequestView> = waiting.iter().map(RequestView::from).collect();
    output::emit(ctx.output, &views, || {
        requests_details(&waiting, "nothing waits for your approval")
    })
}

pub async fn run(ctx: &Context, command: RequestsCommand) -> Result<(), CliError> {
    let mut client = ctx.request_client().await?;
    match command {
        RequestsCommand::List {
            state,
            everyone,
            limit,
            filter,
        } => {
            let listed = client
                .list_requests(pb::ListRequestsRequest {
                    all: everyone,
                    states: state,
                    page_size: limit,
                    page_token: String::new(),
                    filter,
                })
                .await?
                .into_inner()
                .requests;
            let views: Vec<RequestView> = listed.iter().map(RequestView::from).collect();
            output::emit(ctx.output, &views, || requests_table(&listed))
        }
        RequestsCommand::Show { id } => show_after(ctx, &mut client, &id).await,
        RequestsCommand::Watch { id } => {
            let mut updates = client.watch_request(pb::WatchRequestRequest { id }).await?.into_inner();
            while let Some(update) = updates.message().await? {
                print_request(ctx, &update)?;
            }
            Ok(())
        }
        RequestsCommand::Approve { id, reason } => {
            let decide = pb::DecideRequest {
                id: id.clone(),
                reason: reason.unwrap_or_default(),
            };
            client.approve_request(decide).await?;
            show_after(ctx, &mut client, &id).await
        }
        RequestsCommand::Reject { id, reason } => {
            let decide = pb::DecideRequest {
                id: id.clone(),
                reason: reason.unwrap_or_default(),
            };
            client.reject_request(decide).await?;
            show_after(ctx, &mut client, &id).await
        }
        RequestsCommand::Verify { id, code } => {
            client.verify_mfa(pb::VerifyMfaRequest { id: id.clone(), code }).await?;
            show_after(ctx, &mut client, &id).await
        }
        RequestsCommand::Extend { id } => {
            client
                .extend_request(pb::ExtendRequestRequest { id: id.clone() })
                .await?;
            show_after(ctx, &mut client, &id).await
        }
        RequestsCommand::Revoke { id, reason } => {
            let end = pb::EndRequest {
                id: id.clone(),
                reason: reason.unwrap_or_default(),
            };
            client.revoke_request(end).await?;
            show_after(ctx, &mut client, &id).await
        }
        RequestsCommand::Cancel { id, reason } => {
            let end = pb::EndRequest {
                id: id.clone(),
                reason: reason.unwrap_or_default(),
            };
            client.cancel_request(end).await?;
            show_after(ctx, &mut client, &id).await
        }
        RequestsCommand::Credentials { id } => {
            let credentials = client
                .get_credentials(pb::GetCredentialsRequest { id })
                .await?
                .into_inner()
                .credentials;
            let views: Vec<CredentialView> = credentials.iter().map(CredentialView::from).collect();
            output::emit(ctx.output, &views, || credentials_text(&credentials))
        }
        RequestsCommand::Drift { integration, repair } => super::flow_status::drift(ctx, integration, repair).await,
        RequestsCommand::Deliveries { limit } => {
            let deliveries = client
                .list_webhook_deliveries(pb::ListWebhookDeliveriesRequest { page_size: limit })
                .await?
                .into_inner()
                .deliveries;
            let views: Vec<DeliveryView> = deliveries.iter().map(DeliveryView::from).collect();
            output::emit(ctx.output, &views, || deliveries_table(&deliveries))
        }
        RequestsCommand::Jobs => {
            let jobs = client
                .list_pending_jobs(pb::ListPendingJobsRequest {})
                .await?
                .into_inner()
                .jobs;
            let views: Vec<JobView> = jobs.iter().map(JobView::from).collect();
            output::emit(ctx.output, &views, || jobs_table(&jobs))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        ask: AskArgs,
    }

    #[test]
    fn every_option_goes_into_the_request() {
        let args = Harness::try_parse_from([
            "request",
            "--item",
            "pg/table:app/public/orders:read",
            "--duration",
            "30m",
            "-j",
            "INC-7",
            "--for",
            "bob",
            "--flow",
            "prod read",
            "--start",
            "2026-12-01T09:00:00Z",
            "--mfa-code",
            "123456",
            "--request-id",
            "r-1",
        ])
        .unwrap()
        .ask;
        let request = args.request();
        assert_eq!(request.items[0].resource_id, "table:app/public/orders");
        assert_eq!(request.items[0].integration, "pg");
        assert_eq!(
            (
                request.duration.as_str(),
                request.justification.as_str(),
                request.grantee.as_str()
            ),
            ("30m", "INC-7", "bob")
        );
        assert_eq!(request.flow, "prod read");
        assert!(request.start_time.is_some());
        assert_eq!(
            (request.mfa_code.as_str(), request.request_id.as_str()),
            ("123456", "r-1")
        );
    }
}
