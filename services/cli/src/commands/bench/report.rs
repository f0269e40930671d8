//! What a phase measured, and the server's CPU and memory while it ran.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::args::OutputFormat;

/// One phase's figures.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    pub phase: String,
    /// Calls that succeeded.
    pub calls: u64,
    pub errors: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The first error met, to say what went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerUse>,
}

/// The server process over the phase: CPU as a share of one core, and its resident memory.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ServerUse {
    pub cpu_percent: f64,
    pub rss_mib: f64,
}

/// Latencies and outcomes of one phase.
#[derive(Debug, Default)]
pub struct Tally {
    pub latencies: Vec<Duration>,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl Tally {
    pub fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }

    pub fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    pub fn report(mut self, phase: &str, elapsed: Duration) -> PhaseReport {
        self.latencies.sort();
        let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        let at = |p: f64| ms(percentile(&self.latencies, p));
        let calls = self.latencies.len() as u64;
        PhaseReport {
            phase: phase.to_string(),
            calls,
            errors: self.errors,
            seconds: (elapsed.as_secs_f64() * 1e3).round() / 1e3,
            per_second: (calls as f64 / elapsed.as_secs_f64().max(1e-9)).round(),
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: ms(self.latencies.last().copied().unwrap_or_default()),
            first_error: self.first_error,
            server: None,
        }
    }
}

/// The nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// CPU ticks and RSS of a process, from /proc (Linux).
fn sample(pid: u32) -> Option<(u64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some((ticks, rss_kib / 1024.0))
}

/// The server's CPU over a phase.
pub struct ServerSampler {
    pid: Option<u32>,
    at: Instant,
    ticks: u64,
}

/// Linux's USER_HZ: /proc reports CPU time in hundredths of a second.
const TICKS_PER_SECOND: f64 = 100.0;

impl ServerSampler {
    pub fn start(pid: Option<u32>) -> Self {
        let ticks = pid.and_then(sample).map(|(t, _)| t).unwrap_or_default();
        Self {
            pid,
            at: Instant::now(),
            ticks,
        }
    }

    pub fn finish(&self) -> Option<ServerUse> {
        let (ticks, rss_mib) = sample(self.pid?)?;
        let cpu = ticks.saturating_sub(self.ticks) as f64 / TICKS_PER_SECOND;
        Some(ServerUse {
            cpu_percent: (cpu / self.at.elapsed().as_secs_f64().max(1e-9) * 1000.0).round() / 10.0,
            rss_mib: (rss_mib * 10.0).round() / 10.0,
        })
    }
}

pub fn print_one(output: OutputFormat, report: &PhaseReport) {
    if output != OutputFormat::Table {
        return;
    }
    let server = report
        .server
        .map(|s| format!("; server {:.0}% CPU, {:.0} MiB", s.cpu_percent, s.rss_mib))
        .unwrap_or_default();
    println!(
        "{:<22} {:>7} ok {:>5} errors in {:>7.2} s = {:>7.0}/s  p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms{server}",
        report.phase,
        report.calls,
        report.errors,
        report.seconds,
        report.per_second,
        report.p50_ms,
        report.p90_ms,
        report.p99_ms,
        report.max_ms
    );
    if let Some(error) = &report.first_error {
        println!("{:<22} first error: {error}", "");
    }
}

pub fn print_all(output: OutputFormat, reports: &[PhaseReport]) {
    if output == OutputFormat::Json {
        println!("{}", serde_json::json!({ "phases": reports }));
    }
}
