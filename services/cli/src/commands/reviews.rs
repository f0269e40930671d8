//! `latch reviews …`: break-glass uses to review after the fact (admins and auditors).

use clap::Subcommand;
use latch_proto::request::v1 as pb;
use serde::Serialize;

use crate::context::Context;
use crate::error::CliError;
use crate::output::{self, render, table};
use crate::timestamp::format;

#[derive(Debug, Subcommand)]
pub enum ReviewsCommand {
    /// Unreviewed break-glass uses, oldest first
    List {
        /// Also the reviewed ones
        #[arg(long)]
        all: bool,
    },
    /// Sign off a use: it was fine
    Approve {
        /// The request id
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Flag a use for follow-up, saying why
    Flag {
        /// The request id
        id: String,
        #[arg(long)]
        note: String,
    },
}

#[derive(Debug, Serialize)]
struct ReviewView {
    request_id: String,
    state: String,
    grantee: String,
    flow: String,
    justification: String,
    granted: String,
    reminders: i32,
    reviewer_id: Option<String>,
    note: Option<String>,
}

impl From<&pb::Review> for ReviewView {
    fn from(r: &pb::Review) -> Self {
        let request = r.request.clone().unwrap_or_default();
        let optional = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Self {
            request_id: r.request_id.clone(),
            state: r.state.clone(),
            grantee: if request.grantee_name.is_empty() {
                request.grantee_id.clone()
            } else {
                request.grantee_name.clone()
            },
            flow: request.flow_name.clone(),
            justification: request.justification.clone(),
            granted: format(request.grant_time.as_ref()),
            reminders: r.reminders,
            reviewer_id: optional(&r.reviewer_id),
            note: optional(&r.note),
        }
    }
}

fn reviews_table(views: &[ReviewView]) -> String {
    if views.is_empty() {
        return "nothing to review".into();
    }
    let mut t = table([
        "request",
        "state",
        "grantee",
        "flow",
        "granted",
        "justification",
        "reminders",
    ]);
    for v in views {
        t.add_row(vec![
            v.request_id.clone(),
            v.state.clone(),
            v.grantee.clone(),
            v.flow.clone(),
            v.granted.clone(),
            v.justification.clone(),
            v.reminders.to_string(),
        ]);
    }
    render(&t)
}

pub async fn run(ctx: &Context, command: ReviewsCommand) -> Result<(), CliError> {
    let mut client = ctx.request_client().await?;
    match command {
        ReviewsCommand::List { all } => {
            let reviews = client
                .list_reviews(pb::ListReviewsRequest { all })
                .await?
                .into_inner()
                .reviews;
            let views: Vec<ReviewView> = reviews.iter().map(ReviewView::from).collect();
            output::emit(ctx.output, &views, || reviews_table(&views))
        }
        ReviewsCommand::Approve { id, note } => decide(ctx, &mut client, id, true, note.unwrap_or_default()).await,
        ReviewsCommand::Flag { id, note } => decide(ctx, &mut client, id, false, note).await,
    }
}

async fn decide(
    ctx: &Context,
    client: &mut crate::client::RequestClient,
    id: String,
    approve: bool,
    note: String,
) -> Result<(), CliError> {
    let review = client
        .review_request(pb::ReviewRequestRequest { id, approve, note })
        .await?
        .into_inner();
    let view = ReviewView::from(&review);
    output::emit(ctx.output, &view, || {
        format!("request {}: use {}", view.request_id, view.state)
    })
}
