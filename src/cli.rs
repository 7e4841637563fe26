//! Command-line interface: clap derive, one Args struct per subcommand. These are the raw
//! flags; each subcommand turns them into a validated plan before doing anything.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    Classes(ClassesArgs),
    /// Measure how precisely each CPU limiter delivers a requested quota.
    Calibrate(CalibrateArgs),
    /// Compare two result directories (p50/p95/p99 per class).
    Compare(NotYetArgs),
    /// Simulate request routing over many dynos.
    Simulate(NotYetArgs),
    /// Plan dynos and monthly cost for a target rate and SLO from measured results.
    Plan(NotYetArgs),
    /// (internal) A noisy neighbour: burn CPU in a seeded load pattern until killed.
    #[command(hide = true)]
    Neighbour(NeighbourArgs),
    /// (internal) A calibration child: burn CPU, run work items or hold memory; print JSON.
    #[command(hide = true)]
    Burn(BurnArgs),
}

/// `dynobench classes`.
#[derive(Debug, Args)]
pub struct ClassesArgs {
    /// Catalog: an embedded name (heroku, containers) or a TOML file.
    #[arg(long, default_value = "heroku")]
    pub classes: String,
    /// Print the catalog as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `dynobench calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Backends to measure: all (every available one), auto (the one `run` would pick), or a list.
    #[arg(long, default_value = "all", value_delimiter = ',')]
    pub limiter: Vec<String>,
    /// Quotas to request, in cores.
    #[arg(long, default_value = "0.1,0.25,0.5,1.0", value_delimiter = ',')]
    pub quotas: Vec<f64>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// CPU milliseconds per work item in the quota-vs-share tail comparison.
    #[arg(long, default_value_t = 5.0)]
    pub item_ms: f64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `dynobench neighbour` (internal).
#[derive(Debug, Args)]
pub struct NeighbourArgs {
    /// steady, bursty[:DUTY] or periodic[:DUTY].
    #[arg(long, default_value = "bursty:0.5")]
    pub pattern: crate::limit::helpers::Pattern,
    /// Mean phase length, ms.
    #[arg(long, default_value_t = 100)]
    pub phase_ms: u64,
    /// Seed of the random phases.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// `dynobench burn` (internal).
#[derive(Debug, Args)]
pub struct BurnArgs {
    /// How long to burn, seconds.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Busy threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// CPU ms per work item (0: one continuous loop).
    #[arg(long, default_value_t = 0.0)]
    pub item_ms: f64,
    /// MB of memory to allocate and touch first.
    #[arg(long, default_value_t = 0)]
    pub alloc_mb: u64,
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
