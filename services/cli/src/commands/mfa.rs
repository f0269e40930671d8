//! `latch mfa …`: TOTP enrolment and verification for the caller.

use clap::Subcommand;
use latch_proto::identity::v1::{EnrollMfaRequest, ResetMfaRequest, VerifyMfaRequest};

use crate::context::Context;
use crate::error::CliError;
use crate::output::{self, details, render};

#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// Start TOTP enrolment; prints the otpauth URI and the secret
    Enroll {
        /// A current code of your existing device, needed to replace a confirmed enrolment
        #[arg(long)]
        code: Option<String>,
    },
    /// Admin: forget a user's enrolment (lost device) so they can enrol again
    Reset {
        /// User id or user name
        user: String,
    },
    /// Check a code from your authenticator; exits 1 when it is rejected
    Verify {
        /// The 6-digit code
        code: String,
    },
}

pub async fn run(ctx: &Context, command: MfaCommand) -> Result<(), CliError> {
    let mut client = ctx.client().await?;
    match command {
        MfaCommand::Reset { user } => {
            let reset = client
                .reset_mfa(ResetMfaRequest { user_id: user.clone() })
                .await?
                .into_inner()
                .reset;
            let view = serde_json::json!({ "user": user, "reset": reset });
            output::emit(ctx.output, &view, || {
                if reset {
                    format!("mfa enrolment of {user} reset; they can enrol again")
                } else {
                    format!("{user} had no mfa enrolment")
                }
            })
        }
        MfaCommand::Enroll { code } => {
            let request = EnrollMfaRequest {
                code: code.unwrap_or_default().trim().to_string(),
            };
            let enrollment = client.enroll_mfa(request).await?.into_inner();
            let view = serde_json::json!({ "otpauth_uri": enrollment.otpauth_uri, "secret": enrollment.secret });
            output::emit(ctx.output, &view, || {
                let fields = details(vec![
                    ("otpauth uri", enrollment.otpauth_uri.clone()),
                    ("secret", enrollment.secret.clone()),
                ]);
                format!(
                    "{}\n\nadd it to your authenticator app, then confirm with `latch mfa verify CODE`",
                    render(&fields)
                )
            })
        }
        MfaCommand::Verify { code } => {
            let request = VerifyMfaRequest {
                code: code.trim().to_string(),
            };
            let verified = client.verify_mfa(request).await?.into_inner().verified;
            if ctx.json() {
                output::json(&serde_json::json!({ "verified": verified }))?;
            }
            if !verified {
                return Err(CliError::CodeRejected);
            }
            if ctx.json() {
                Ok(())
            } else {
                output::line("code verified")
            }
        }
    }
}
