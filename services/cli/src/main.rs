//! `latch`, the command-line client of Latch. Exit codes are documented in `exit.rs`.
#![forbid(unsafe_code)]

mod args;
mod client;
mod commands;
mod context;
mod credentials;
mod document_input;
mod duration;
mod error;
mod exit;
mod flow_item;
mod key_value;
mod output;
mod principal;
mod render;
mod stdin_line;
mod tag_selector;
mod target_spec;
mod timestamp;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::args::Cli;
use crate::context::Context;
use crate::error::CliError;

fn main() -> ExitCode {
    // Usage errors exit with 2 here, `--help` and `--version` with 0.
    let cli = Cli::parse();
    client::trust(cli.global.ca_file.clone());
    let mut server = Context::server_hint(&cli.global);
    let result = Context::resolve(&cli.global).and_then(|ctx| {
        server.clone_from(&ctx.server);
        // The load generator drives many calls at once: give it every core.
        let runtime = if matches!(cli.command, crate::args::Command::Bench(_)) {
            tokio::runtime::Builder::new_multi_thread().enable_all().build()
        } else {
            tokio::runtime::Builder::new_current_thread().enable_all().build()
        };
        let runtime = runtime.map_err(|error| CliError::io("cannot start the async runtime", error))?;
        runtime.block_on(commands::run(&ctx, cli.command))
    });
    match result {
        Ok(()) => ExitCode::from(exit::SUCCESS),
        // The reader went away (`latch identity watch | head`): nothing left to say to anyone.
        Err(error) if error.is_broken_pipe() => ExitCode::from(exit::SUCCESS),
        Err(error) => {
            let mut stderr = std::io::stderr().lock();
            for line in error.report_lines(&server) {
                // Nothing sensible is left to do if stderr itself is gone.
                let _ = writeln!(stderr, "{line}");
            }
            ExitCode::from(exit::code_for_error(&error))
        }
    }
}
