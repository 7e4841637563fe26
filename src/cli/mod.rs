//! Command-line interface: clap derive, one Args struct per subcommand. These are the raw
//! flags; each subcommand turns them into a validated plan before doing anything.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod fidelity;
mod parse;
mod reports;
mod run;

pub use fidelity::{BurnArgs, FidelityArgs};
pub use parse::{Calls, WorkerCounts};
use parse::{arrivals_parser, parse_rate, parse_seconds, parse_size};
pub use reports::{CompareArgs, CompareLimits, MergeArgs, ReportArgs};
pub use run::{RunArgs, StartBalance};

use crate::simulate::{Arrivals, Policy, UtilList};
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
    Run(Box<RunArgs>),
    /// List the dyno class catalog.
    Classes(ClassesArgs),
    /// Measure how precisely each CPU limiter delivers a requested quota.
    Calibrate(CalibrateArgs),
    /// Reproduce published measurements of CPU quotas, burst and routing: theirs, ours, the ratio.
    Fidelity(FidelityArgs),
    /// Compare two result directories (p50/p95/p99 per class); exit 1 on a regression, 4 when
    /// a class cannot be judged (its driver was the bottleneck in either run).
    Compare(CompareArgs),
    /// (Re)write a results directory's index.html; with several, a page of them side by side.
    Report(ReportArgs),
    /// Merge the shards of one run (`run --shard I/N`) into one results directory.
    Merge(MergeArgs),
    /// Write Kubernetes manifests: a Deployment and Service per class (limits from the class),
    /// and the driver as an Indexed Job of shards.
    K8s(K8sArgs),
    /// Simulate request routing over many dynos: queueing vs utilization per routing policy.
    Simulate(SimulateArgs),
    /// Plan dynos and monthly cost for a target rate and SLO from measured results.
    Plan(PlanArgs),
    /// Check the CPU capacity model against live runs: measured vs predicted throughput, p50, p95.
    Validate(ValidateArgs),
    /// Endurance of the driver and server: RSS over a long open-loop run, p50 over time, and
    /// the server with many idle connections, against their goals.
    Soak(SoakArgs),
    /// (internal) A noisy neighbour: burn CPU in a seeded load pattern until killed.
    #[command(hide = true)]
    Neighbour(NeighbourArgs),
    /// Print the JSON schema of run.json (committed as results/run.schema.json).
    #[command(hide = true)]
    Schema {
        /// Print the field reference (results/FIELDS.md) instead: every field as a jq path.
        #[arg(long)]
        fields: bool,
    },
    /// (internal) A calibration child: burn CPU, run work items or hold memory; print JSON.
    #[command(hide = true)]
    Burn(BurnArgs),
}

/// `dynobench classes`.
#[derive(Debug, Args)]
pub struct ClassesArgs {
    /// Catalog: an embedded name (see --list), a TOML file, or several separated by commas.
    #[arg(long, default_value = "heroku")]
    pub classes: String,
    /// List the embedded catalogs instead.
    #[arg(long)]
    pub list: bool,
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
    /// CFS periods at which to measure a quota's stall (26-ms items at 0.6 core: about
    /// (1 − 0.6) × period), comma-separated; `none` skips it.
    #[arg(long, default_value = "100ms,20ms", value_delimiter = ',', value_parser = fidelity::parse_stall_period)]
    pub stall_periods: Vec<u64>,
    /// Seconds per burst measurement (5-ms items, Poisson at 60% of a 0.5-core quota,
    /// without and with a 100% burst); 0 skips it.
    #[arg(long, default_value_t = 15.0)]
    pub burst_seconds: f64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `dynobench neighbour` (internal).
#[derive(Debug, Args)]
pub struct NeighbourArgs {
    /// steady, bursty[:DUTY] or periodic[:DUTY].
    #[arg(long, default_value = "bursty:0.5")]
    pub pattern: crate::limit::Pattern,
    /// Mean phase length, ms.
    #[arg(long, default_value_t = 100)]
    pub phase_ms: u64,
    /// Seed of the random phases.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// `dynobench k8s`.
#[derive(Debug, Args)]
pub struct K8sArgs {
    /// A class to deploy and measure (repeatable).
    #[arg(long = "class", value_name = "NAME", required = true)]
    pub class: Vec<String>,
    /// Class catalog: an embedded name, a TOML file, or several separated by commas.
    #[arg(long = "classes", value_name = "CATALOG", default_value = "heroku")]
    pub catalog: String,
    /// Driver shards per class (pods of the Indexed Job), each running `run --shard I/N`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub shards: u32,
    /// The image with dynobench on its PATH (build it from the repository's Dockerfile).
    #[arg(long, default_value = "dynobench:latest")]
    pub image: String,
    /// Namespace of every object, a DNS-1123 label (default: kubectl's current one).
    #[arg(long, value_parser = parse::parse_dns_label)]
    pub namespace: Option<String>,
    /// The drivers' barrier (RFC 3339 or Unix seconds); default: now + --start-in.
    #[arg(long, value_parser = parse::parse_start_at)]
    pub start_at: Option<std::time::SystemTime>,
    /// Without --start-at: the barrier this long after generating (time to apply and pull).
    #[arg(long, default_value = "10m", value_parser = parse::parse_duration)]
    pub start_in: std::time::Duration,
    /// Where the manifests go: DIR/servers/*.json (apply first), DIR/drivers/*.json.
    #[arg(long, default_value = "k8s")]
    pub out: PathBuf,
    /// `run` flags for every driver after `--` (load, calls, profile, SLOs), e.g.
    /// `-- --rate 400 --calls 20000 --profile io`; checked now, not on the cluster.
    #[arg(last = true, value_name = "RUN FLAGS")]
    pub run_args: Vec<String>,
}

/// `dynobench soak`.
#[derive(Debug, Args)]
pub struct SoakArgs {
    /// How long the open-loop run lasts (1h for the full soak; at most 24h).
    #[arg(long, default_value = "10m", value_parser = parse::parse_long_duration)]
    pub duration: std::time::Duration,
    /// Its rate, req/s.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// How often the driver's RSS is read.
    #[arg(long, default_value = "5s", value_parser = parse::parse_duration)]
    pub sample_every: std::time::Duration,
    /// Calls of the closed-loop run at concurrency 64.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(64..=10_000_000))]
    pub closed_calls: u32,
    /// Idle kept-alive connections opened to the server.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=100_000))]
    pub idle_connections: u64,
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
    /// Extra memory each worker allocates and keeps, MB, to model your app's own per-worker
    /// footprint (a forked Rails worker is often 150-300 MB) on top of its working set.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=65_536))]
    pub ballast_mb: u64,
    /// A request head must arrive within this from its first byte (slow clients are cut off).
    #[arg(long, default_value = "30s", value_parser = parse::parse_duration)]
    pub head_timeout: std::time::Duration,
    /// A kept-alive connection without a request is closed after this (platform routers keep
    /// idle connections ~55-90 s).
    #[arg(long, default_value = "90s", value_parser = parse::parse_duration)]
    pub idle_timeout: std::time::Duration,
    /// /work and /stats answer only calls with `Authorization: Bearer TOKEN` (others get 401;
    /// /health stays open). Set it on a deployed endpoint, as the DYNOBENCH_TOKEN variable.
    #[arg(long, env = "DYNOBENCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The longest io_ms a call may ask for (longer get 400); the default is the platform
    /// router's 30 s timeout.
    #[arg(long, default_value_t = crate::server::guard::ROUTER_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub max_io_ms: u64,
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
    /// A, several separated by commas (10,20,30). Default 0..110 (step 1) for tick,
    /// 0..110:5 for event.
    #[arg(long, allow_hyphen_values = true)]
    pub util: Option<UtilList>,
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
    /// lognormal:100ms[:SIGMA], weibull:MEAN:SHAPE, pareto:MEAN:ALPHA, empirical:FILE (one
    /// value per line, ms), results/RUN/CLASS, results/RUN/run.json#CLASS or FILE.hlog.
    /// Default exponential:100ms.
    #[arg(long)]
    pub service: Option<String>,
    /// Arrival process (event engine): poisson or deterministic (default poisson).
    #[arg(long, value_parser = arrivals_parser())]
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

/// `dynobench validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Measured calls per load (more make the measured p95 steadier).
    #[arg(long, default_value_t = 150, value_parser = clap::value_parser!(u32).range(20..=100_000))]
    pub calls: u32,
    /// Workload profiles to check.
    #[arg(long, default_value = "cpu,mixed", value_delimiter = ',')]
    pub profiles: Vec<String>,
    /// A JSON payload for the servers instead of the bundled orders (a smaller one is faster).
    #[arg(long)]
    pub payload: Option<PathBuf>,
    /// Print the check as JSON.
    #[arg(long)]
    pub json: bool,
    /// Check the capacity model instead: the model's capacity against --find-capacity's on
    /// a 1-core quota class, and its 1 → 2-core extrapolation against a 2-core measurement.
    #[arg(long)]
    pub capacity: bool,
    /// Check compare's error rate instead: --pairs pairs of back-to-back real runs of one
    /// class (--calls each, one round), compared as CI would; every verdict is a false alarm.
    #[arg(long, conflicts_with = "capacity")]
    pub aa: bool,
    /// With --aa: pairs of runs.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(3..=10_000))]
    pub pairs: u32,
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
    /// A results directory (results/RUN) or its run.json; default: the newest run under
    /// results/.
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Plan the measured app on another catalog's classes (an embedded name such as
    /// cloudrun or fargate, a TOML file, or several joined by commas): each class at its own
    /// CPU and billed as its platform bills, with the demand measured in the run.
    #[arg(long = "classes", value_name = "CATALOG")]
    pub catalog: Option<String>,
    /// Plan with these service times, as CPU time at one core, instead of a run's measured
    /// demand: weibull:300ms:0.5, pareto:300ms:1.5, lognormal:100ms[:SIGMA],
    /// exponential:100ms, empirical:FILE (one value per line, ms)... With --classes no run
    /// is needed.
    #[arg(long, value_name = "SPEC")]
    pub service: Option<String>,
    /// With --classes: the measured class whose per-request demand is used (default: the
    /// ok class that waited least for a CPU, i.e. measured closest to an unthrottled core).
    #[arg(long, value_name = "CLASS")]
    pub demand_from: Option<String>,
    /// Routing policy: random (the platform), round-robin, least-connections,
    /// per-router-least-connections, power-of-two-choices.
    #[arg(long, default_value = "random")]
    pub routing: Policy,
    /// Independent routers for per-router-least-connections.
    #[arg(long, default_value_t = 10)]
    pub routers: u32,
    /// Workers (WEB_CONCURRENCY) per dyno; default: search the count that needs the fewest
    /// dynos (1 up to twice the cores, stretched by the share of time off the CPU).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub workers: Option<u32>,
    /// The largest worker count tried when searching.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_workers: Option<u32>,
    /// Plan with the CPU the classes had on this machine (as measured, capped) instead of
    /// the platform's cores from the catalog.
    #[arg(long)]
    pub cpu_local: bool,
    /// Plan only this class (repeatable; default: every ok class of the run, or every
    /// class of the --classes catalog).
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
    #[arg(long, default_value = "poisson", value_parser = arrivals_parser())]
    pub arrivals: Arrivals,
    /// Seed of every random draw (recorded in the output).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// A `dynobench validate --json` result: its measured p95 error band (model vs live) is
    /// printed next to the plan (default: results/validate.json when it exists).
    #[arg(long, value_name = "FILE")]
    pub validate: Option<PathBuf>,
    /// Also write the plan to this CSV file.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Also write the plan to this HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
