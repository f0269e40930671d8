//! `latchd`: with no arguments, every context in one process on SQLite under `./latch-data`.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use latchd::{App, AppOptions};

#[derive(Debug, Parser)]
#[command(
    name = "latchd",
    version,
    about = "Latch: just-in-time access. Runs every service by default."
)]
struct Args {
    /// A TOML config file (also LATCH_CONFIG); LATCH_* variables override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Comma-separated services to run: identity, catalog, flow, request, or gateway alone.
    /// Default: every context in this process.
    #[arg(long, value_delimiter = ',')]
    services: Vec<String>,
    /// postgres://… to use PostgreSQL instead of the embedded SQLite.
    #[arg(long)]
    database_url: Option<String>,
    /// gRPC listen address (default 127.0.0.1:7070; LATCH_GRPC_ADDR).
    #[arg(long)]
    grpc_addr: Option<std::net::SocketAddr>,
    /// HTTP listen address for SCIM and health (default 127.0.0.1:7080; LATCH_HTTP_ADDR).
    #[arg(long)]
    http_addr: Option<std::net::SocketAddr>,
    /// Where the SQLite databases and the generated key live (default ./latch-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Load a small demo directory (users, groups, an on-call schedule) at start.
    #[arg(long)]
    demo: bool,
    /// Seal every secret of the --services contexts (default: all) again under the newest key
    /// of each context's ring (`<context>.encryption_keys`), then exit. On SQLite stop the
    /// server first; on PostgreSQL it can run beside the replicas.
    #[arg(long)]
    reseal: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut config = match latch_runtime::LatchConfig::load(args.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: bad configuration: {error}");
            return ExitCode::from(2);
        }
    };
    if let Some(url) = args.database_url {
        config.database_url = url;
    }
    if let Some(addr) = args.grpc_addr {
        config.grpc_addr = addr;
    }
    if let Some(addr) = args.http_addr {
        config.http_addr = addr;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    let _telemetry = latch_runtime::telemetry::init(&config.telemetry);
    if args.reseal {
        let resealed = match latchd::contexts(&args.services) {
            Ok(contexts) => latchd::reseal_all(&config, &contexts).await,
            Err(error) => Err(error),
        };
        return match resealed {
            Ok(reports) => {
                for (context, report) in reports {
                    println!(
                        "{context}: {} re-sealed, {} already under the newest key, {} rewritten meanwhile by the service",
                        report.resealed, report.current, report.raced
                    );
                }
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    if args.services.iter().any(|s| s == "gateway") {
        if args.services.len() > 1 {
            eprintln!("error: the gateway runs alone (--services gateway); it has no context of its own");
            return ExitCode::from(2);
        }
        return match latchd::gateway::Gateway::build(&config).await {
            Ok(gateway) => match gateway.run_until_stopped(latch_runtime::shutdown::signal()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error:#}");
                    ExitCode::FAILURE
                }
            },
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    let options = AppOptions {
        services: args.services,
        demo: args.demo,
        ..AppOptions::default()
    };
    let app = match App::build(config, options).await {
        Ok(app) => app,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(message) = app.bootstrap_message() {
        println!("{message}");
    }
    match app.run_until_stopped(latch_runtime::shutdown::signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
