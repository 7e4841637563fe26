//! Command-line interface: clap derive, one Args struct per subcommand. These are the raw
//! flags; each subcommand turns them into a validated plan before doing anything.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::simulate::{Arrivals, Policy, UtilRange};
use crate::slo::Slo;

/// Which dyno class, how many workers, how many dynos: measured tail latency, CPU
/// throttling and cost per class.
#[derive(Debug, Parser)]
#[command(name = "dynobench", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the workload endpoint (GET /health, /work, /stats); reads $PORT and $WEB_CONCURRENCY.
    Serve(ServeArgs),
    /// Generate a deterministic orders payload (how payloads/orders.json was made).
    Payload(PayloadArgs),
    /// Benchmark the endpoint once per dyno class and write a report to results/.
    Run(NotYetArgs),
    /// List the dyno class catalog.
    Classes(NotYetArgs),
    /// Measure how precisely each CPU limiter delivers a requested quota.
    Calibrate(NotYetArgs),
    /// Compare two result directories (p50/p95/p99 per class).
    Compare(NotYetArgs),
    /// Simulate request routing over many dynos: queueing vs utilization per routing policy.
    Simulate(SimulateArgs),
    /// Plan dynos and monthly cost for a target rate and SLO from measured results.
    Plan(PlanArgs),
}

/// Placeholder arguments of a subcommand whose issue has not landed.
#[derive(Debug, Args)]
pub struct NotYetArgs {
    /// Ignored.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub rest: Vec<String>,
}

/// `dynobench serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one). Without it, $PORT is used on 0.0.0.0 as
    /// platforms expect, else 5000.
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to bind (default 127.0.0.1, or 0.0.0.0 when $PORT is used).
    #[arg(long)]
    pub host: Option<std::net::IpAddr>,
    /// Worker threads, each working one request at a time.
    #[arg(long, env = "WEB_CONCURRENCY", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: u16,
    /// Requests allowed to wait for a free worker; beyond that the server answers 503.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub backlog: u32,
    /// A JSON file to work on instead of the bundled orders payload.
    #[arg(long)]
    pub payload: Option<PathBuf>,
}

/// `dynobench payload`.
#[derive(Debug, Args)]
pub struct PayloadArgs {
    /// Minimum size of the document (e.g. 4MiB, 512KiB, 1000000).
    #[arg(long, default_value = "4MiB", value_parser = parse_size)]
    pub size: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write to this file instead of stdout.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

fn parse_size(s: &str) -> Result<usize, String> {
    crate::workload::generate::parse_size(s)
}

/// Which simulation engine `simulate` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// The classic experiment: every dyno finishes one job per tick.
    Tick,
    /// Continuous time: arrivals, service-time distributions, workers, backlog, timeout.
    Event,
}

/// `dynobench simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Engine. Default: tick (the classic experiment), or event when --service, --arrivals,
    /// --requests, --backlog, --timeout or --slo is given.
    #[arg(long, value_enum)]
    pub engine: Option<Engine>,
    /// Number of dynos.
    #[arg(long, default_value_t = 100)]
    pub dynos: u32,
    /// Workers per dyno (WEB_CONCURRENCY): jobs a dyno works on at once. Default 1, or the
    /// measured class's workers with --service results/RUN/CLASS.
    #[arg(long)]
    pub workers: Option<u32>,
    /// Utilization to sweep, percent of total capacity: A..B (both included), A..B:STEP, or
    /// one value. Default 0..110 (step 1) for tick, 0..110:5 for event.
    #[arg(long, allow_hyphen_values = true)]
    pub util: Option<UtilRange>,
    /// Ticks per sample (tick engine; default 500).
    #[arg(long)]
    pub ticks: Option<u32>,
    /// Independent runs per utilization point.
    #[arg(long, default_value_t = 10)]
    pub samples: u32,
    /// Routing policies, comma-separated: random, round-robin, least-connections,
    /// per-router-least-connections, power-of-two-choices (default: all).
    #[arg(long, value_delimiter = ',')]
    pub policy: Vec<Policy>,
    /// Independent routers for per-router-least-connections (1 = least-connections).
    #[arg(long, default_value_t = 10)]
    pub routers: u32,
    /// Service times (event engine): deterministic:100ms, exponential:100ms,
    /// lognormal:100ms[:SIGMA], results/RUN/CLASS, results/RUN/run.json#CLASS or FILE.hlog.
    /// Default exponential:100ms.
    #[arg(long)]
    pub service: Option<String>,
    /// Arrival process (event engine): poisson or deterministic (default poisson).
    #[arg(long)]
    pub arrivals: Option<Arrivals>,
    /// Requests simulated per sample (event engine; the first tenth is warm-up). Default 100000.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Requests allowed to wait on one dyno; more get a 503 at once (event engine; default 1024).
    #[arg(long)]
    pub backlog: Option<u32>,
    /// Router timeout: a longer response becomes a 503 (event engine; default 30s).
    #[arg(long, value_parser = parse_seconds)]
    pub timeout: Option<f64>,
    /// Finding criterion on response times or 503s instead of mean wait (event engine), e.g.
    /// p99<=300ms or error-rate<=1%.
    #[arg(long)]
    pub slo: Option<Slo>,
    /// Finding criterion: mean wait under this many jobs (ignored with --slo).
    #[arg(long, default_value_t = 1.0)]
    pub wait_jobs: f64,
    /// Seed of every random draw (recorded in the output).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write every point of every policy to this CSV file.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write a chart of queue (and latency) vs utilization per policy to this SVG file.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Table rows every this many percent of utilization (all rows when there are at most 25).
    #[arg(long, default_value_t = 10.0)]
    pub every: f64,
}

/// `dynobench plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Target rate in requests per second (500, 500/s, 30000/min).
    #[arg(long, value_parser = parse_rate)]
    pub rate: f64,
    /// The objective, e.g. p99<=300ms, max<=2s or error-rate<=1%.
    #[arg(long)]
    pub slo: Slo,
    /// A results directory (results/RUN) or its run.json.
    #[arg(long)]
    pub results: PathBuf,
    /// Routing policy: random (the platform), round-robin, least-connections,
    /// per-router-least-connections, power-of-two-choices.
    #[arg(long, default_value = "random")]
    pub routing: Policy,
    /// Independent routers for per-router-least-connections.
    #[arg(long, default_value_t = 10)]
    pub routers: u32,
    /// Plan only this class (repeatable; default: every ok class of the run).
    #[arg(long = "class")]
    pub classes: Vec<String>,
    /// Largest number of dynos tried per class.
    #[arg(long, default_value_t = 1000)]
    pub max_dynos: u32,
    /// Requests simulated per sample for each size tried (the first tenth is warm-up).
    #[arg(long, default_value_t = 100_000)]
    pub requests: u64,
    /// Samples per size tried.
    #[arg(long, default_value_t = 4)]
    pub samples: u32,
    /// Requests allowed to wait on one dyno; more get a 503 at once.
    #[arg(long, default_value_t = 1024)]
    pub backlog: u32,
    /// Router timeout: a longer response becomes a 503.
    #[arg(long, default_value = "30s", value_parser = parse_seconds)]
    pub timeout: f64,
    /// Arrival process: poisson or deterministic.
    #[arg(long, default_value = "poisson")]
    pub arrivals: Arrivals,
    /// Seed of every random draw (recorded in the output).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Also write the plan to this CSV file.
    #[arg(long)]
    pub csv: Option<PathBuf>,
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    let us = crate::slo::parse_duration_us(s)?;
    if us > 0.0 && us.is_finite() {
        Ok(us / 1e6)
    } else {
        Err(format!("'{s}' must be a positive duration such as 30s or 500ms"))
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, per) = if let Some(n) = t.strip_suffix("/min") {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix("/s") {
        (n, 1.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num.trim().parse().map_err(|_| {
        format!("'{s}' is not a rate; write requests per second (500, 500/s) or per minute (30000/min)")
    })?;
    if !(v > 0.0 && v.is_finite()) {
        return Err(format!("the rate must be positive (got '{s}')"));
    }
    Ok(v / per)
}
