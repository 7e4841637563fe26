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
    Classes(NotYetArgs),
    /// Measure how precisely each CPU limiter delivers a requested quota.
    Calibrate(NotYetArgs),
    /// Compare two result directories (p50/p95/p99 per class).
    Compare(NotYetArgs),
    /// Simulate request routing over many dynos.
    Simulate(NotYetArgs),
    /// Plan dynos and monthly cost for a target rate and SLO from measured results.
    Plan(NotYetArgs),
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
