//! `latch bench`: a load generator for a running Latch, from its own process, over the public
//! gRPC API only. It sets up a world of its own (users in groups with managers, a demo-connector
//! integration, a flow that approves at once and one that waits for the manager), then runs
//! phases and reports throughput, latency percentiles and errors for each, with the server's
//! CPU and memory when given its pid. Bounded in count and time; it talks only to `--server`.

mod phases;
mod report;
mod world;

use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::context::Context;
use crate::error::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Phase {
    /// Submit with automatic approval; counted until every request is ACTIVE
    Submit,
    /// Submit for the manager's approval, then the managers approve; counted until ACTIVE
    Approve,
    /// Extend active requests
    Extend,
    /// Revoke active requests
    Revoke,
    /// Mixed authenticated reads: GetRequest, ListApprovals, ListRequestable
    Read,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Users to create (in --groups groups, each led by a manager)
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(2..=100_000))]
    pub users: u32,
    /// Groups the users are spread over
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub groups: u32,
    /// Users that submit requests (each with a token of its own)
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=5_000))]
    pub requesters: u32,
    /// Tables the demo integration holds (requests spread over them)
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub resources: u32,
    /// Calls in flight (closed loop)
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1_024))]
    pub concurrency: u32,
    /// Calls per phase
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub count: u32,
    /// Open loop: offer calls at this rate per second instead of a closed loop (0: closed)
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub rate: u32,
    /// The longest any phase may run, in seconds (what is unfinished then counts as errors)
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub max_seconds: u64,
    /// Phases to run, in order
    #[arg(long, value_delimiter = ',', default_value = "submit,approve,extend,revoke,read")]
    pub phases: Vec<Phase>,
    /// The server's process id, to report its CPU and memory (read from /proc)
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// A name for this run's world (users, groups, integration, flows); default: from the time
    #[arg(long)]
    pub run: Option<String>,
}

pub async fn run(ctx: &Context, args: BenchArgs) -> Result<(), CliError> {
    if u64::from(args.requesters) + u64::from(args.groups) > u64::from(args.users) {
        return Err(CliError::Usage(
            "--users must be at least --groups (their managers) plus --requesters".into(),
        ));
    }
    let run = match &args.run {
        Some(name) => world::check_run_name(name)?,
        None => format!("r{}", chrono::Utc::now().format("%m%d%H%M%S")),
    };
    let limit = Duration::from_secs(args.max_seconds);
    let started = std::time::Instant::now();
    let world = world::World::build(ctx, &args, &run).await?;
    eprintln!(
        "bench world {run}: {} users in {} groups, {} requesters, {} tables; set up in {:.1} s",
        args.users,
        args.groups,
        world.requesters.len(),
        args.resources,
        started.elapsed().as_secs_f64()
    );
    let mut reports = Vec::new();
    let mut state = phases::State::default();
    for phase in &args.phases {
        let sampler = report::ServerSampler::start(args.server_pid);
        let outcome = match phase {
            Phase::Submit => phases::submit(&world, &args, limit, &mut state).await,
            Phase::Approve => phases::approve(&world, &args, limit, &mut state).await,
            Phase::Extend => phases::extend(&world, &args, limit, &state).await,
            Phase::Revoke => phases::revoke(&world, &args, limit, &mut state).await,
            Phase::Read => phases::read(&world, &args, limit, &state).await,
        };
        for mut phase_report in outcome {
            phase_report.server = sampler.finish();
            report::print_one(ctx.output, &phase_report);
            reports.push(phase_report);
        }
    }
    report::print_all(ctx.output, &reports);
    Ok(())
}
