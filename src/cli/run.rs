//! `dynobench run`'s flags: classes and catalogs, load (closed or open loop, calls, rounds,
//! SLOs, the capacity search), limits and neighbours, the workload, outputs, burst balances
//! and the formation (`--dynos`).

use std::path::PathBuf;

use clap::Args;

use super::parse::{
    Calls, WorkerCounts, arrivals_parser, parse_calls, parse_duration, parse_precision, parse_shard,
    parse_start_at, parse_worker_counts,
};
use crate::simulate::UtilList;

/// `dynobench run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A class to measure (repeatable); default: every class in the catalog.
    #[arg(long = "class", value_name = "NAME")]
    pub class: Vec<String>,
    /// Class catalog: an embedded name (heroku, heroku-fir, render, fly, fargate, cloudrun,
    /// containers), a TOML file, or several separated by commas (classes whose names clash
    /// are named `catalog/class`).
    #[arg(long = "classes", value_name = "CATALOG", default_value = "heroku")]
    pub catalog: String,
    /// WEB_CONCURRENCY for every class instead of each class's default: one count (4), or
    /// several to sweep (1..8, 1,2,4,8): each count is measured as CLASS@N with at least N
    /// callers, and a count is recommended per class.
    #[arg(long, value_parser = parse_worker_counts)]
    pub workers: Option<WorkerCounts>,
    /// Search each class's highest open-loop rate that holds the --slo (bounded, every step
    /// reported), and its requests per second per $100/month.
    #[arg(long)]
    pub find_capacity: bool,
    /// Most new rates tried per class by --find-capacity (re-runs that confirm the top held
    /// rate, or measure an undecided rate longer, are not counted).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=50))]
    pub capacity_steps: u64,
    /// Measured time of each --find-capacity step (plus a warm-up of a fifth of it, at least
    /// 2 s): long enough for the queue to settle at the rate.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub capacity_step_s: std::time::Duration,
    /// Warm-up calls per class (reported apart).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub warmup: u32,
    /// Measured calls per class (per round), or `auto`: enough to bound the strictest
    /// percentile SLO given (368 for p99, 72 for p95; at least 100).
    #[arg(long, default_value = "100", value_parser = parse_calls)]
    pub calls: Calls,
    /// Call each class until the 95% interval of the strictest percentile SLO (p99 without
    /// one) is within ± this percentage of its estimate (e.g. 5%), checked after the fewest
    /// calls that bound it (368 for p99) and then every 1.25× as many calls, or until
    /// --max-calls. An estimation target, not a test (see docs/statistics.md).
    #[arg(long, value_name = "PCT", value_parser = parse_precision, conflicts_with_all = ["calls", "repeat", "find_capacity", "dynos", "shard"])]
    pub precision: Option<f64>,
    /// With --precision: the most measured calls per class (the class's table line says
    /// when the precision was not reached by then).
    #[arg(long, default_value_t = crate::record::precision::DEFAULT_MAX_CALLS, value_parser = clap::value_parser!(u32).range(1..=10_000_000), requires = "precision")]
    pub max_calls: u32,
    /// Rounds: measure every class K times, interleaved (A B C A B C …) so that drift of the
    /// host hits all classes alike; `compare` then uses the spread between rounds.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// Closed loop: concurrent callers (default 1; with --shard I/N, N: one per shard). Open
    /// loop: connections (default 64).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: Option<u32>,
    /// Open loop: send calls at this rate (req/s), timed from their intended send time.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Open loop arrivals: constant spacing or a Poisson process.
    #[arg(long, default_value = "constant", value_parser = arrivals_parser())]
    pub arrivals: crate::driver::Arrivals,
    /// Per-call timeout (the platform router gives up after 30 s).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// CPU limiter: auto, cgroup2, cgroup1, dutycycle or none.
    #[arg(long, default_value = "auto")]
    pub limiter: crate::limit::LimiterChoice,
    /// Noisy neighbours of shared classes: bursty[:DUTY], steady, periodic[:DUTY] or none.
    #[arg(long, default_value = "bursty:0.5")]
    pub neighbours: String,
    /// Mean length of a neighbour's busy/idle phase, ms.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub neighbour_phase_ms: u64,
    /// Seed for neighbour patterns and Poisson arrivals.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Drive an already running endpoint (a deployed dyno) instead of local classes; use
    /// --class to name its class for prices.
    #[arg(long)]
    pub url: Option<String>,
    /// With --url: the endpoint's token (`dynobench serve` with DYNOBENCH_TOKEN set), sent
    /// as `Authorization: Bearer`.
    #[arg(long, env = "DYNOBENCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Path (and query) to call.
    #[arg(long, default_value = "/work")]
    pub path: String,
    /// Your own server instead of `dynobench serve`: a shell command started in each class's
    /// sandbox with $PORT (a free port it must listen on) and $WEB_CONCURRENCY (the class's
    /// workers) set, e.g. 'bundle exec puma -p $PORT'.
    #[arg(long, value_name = "CMD", conflicts_with_all = ["procfile", "url"])]
    pub server: Option<String>,
    /// Like --server, with the `web:` line of a Procfile (run from the Procfile's directory).
    #[arg(long, value_name = "FILE", conflicts_with = "url")]
    pub procfile: Option<PathBuf>,
    /// With --server/--procfile: the path that must answer (any status below 500) before a
    /// class is measured.
    #[arg(long, default_value = "/", value_name = "PATH")]
    pub health_path: String,
    /// HTTP method of the measured calls.
    #[arg(long, default_value = "GET")]
    pub method: String,
    /// A request header of the measured calls, 'Name: value' (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub header: Vec<String>,
    /// The body of the measured calls: @FILE (its bytes) or the text itself.
    #[arg(long, value_name = "@FILE")]
    pub body: Option<String>,
    /// Workload profile of /work: cpu, decrypt, io or mixed.
    #[arg(long, default_value = "cpu")]
    pub profile: String,
    /// io and mixed profiles: the simulated downstream wait, ms.
    #[arg(long, default_value_t = 50)]
    pub io_ms: u64,
    /// mixed profile: the share of io calls (0..1).
    #[arg(long, default_value_t = 0.5)]
    pub io_share: f64,
    /// Extra memory per worker of the local servers, MB (models your app's footprint; see serve --ballast-mb).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=65_536))]
    pub worker_ballast_mb: u64,
    /// JSON payload for the local servers instead of the bundled orders.
    #[arg(long)]
    pub payload: Option<PathBuf>,
    /// Where results directories go.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Label of the results directory (default: local, or remote with --url).
    #[arg(long)]
    pub label: Option<String>,
    /// Do not write a results directory.
    #[arg(long)]
    pub no_save: bool,
    /// Print run.json to stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// No progress bars and no table.
    #[arg(long, short)]
    pub quiet: bool,
    /// An SLO every class must meet, e.g. p99<=300ms, max<=2s, error-rate<=1% (repeatable).
    #[arg(long = "slo", value_name = "SLO")]
    pub slo: Vec<crate::slo::Slo>,
    /// How long a server may take to start and answer /health.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub startup_timeout: std::time::Duration,
    /// Burst-balance classes: the balance at the start: platform (what the platform gives a
    /// new instance, e.g. Fly's 5 s), full, empty, or core-seconds.
    #[arg(long, default_value = "platform", value_parser = parse_start_balance)]
    pub start_balance: StartBalance,
    /// What if: meter every class's quota per this CFS period instead of its own (the
    /// platform's; 100ms by default, Fly 80ms), e.g. 20ms. The table marks the classes.
    #[arg(long, value_parser = parse_cfs_period, value_name = "DURATION")]
    pub cfs_period: Option<u64>,
    /// What if: give every class a kernel CPU burst, as a share of its quota per period
    /// (100%, the most the kernel allows) or as CPU time (40ms). The table marks the classes.
    #[arg(long, value_parser = parse_cfs_burst, value_name = "PCT|DURATION")]
    pub cfs_burst: Option<crate::class::BurstSize>,
    /// Run one class as a formation of N dynos, each in its own sandbox, behind our router:
    /// open loop at each --util of the formation's measured capacity, under each --router
    /// policy, measured and simulated side by side.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub dynos: Option<u32>,
    /// Formation: routing policies, comma-separated: random (the platform's), round-robin,
    /// least-connections, per-router-least-connections, power-of-two-choices; or all.
    #[arg(long, default_value = "all")]
    pub router: String,
    /// Formation: utilizations of the measured capacity, percent: A..B (both included),
    /// A..B:STEP, or A, several separated by commas (50,70,80,90 or 50..95:5).
    #[arg(long, default_value = "50,70,80,90")]
    pub util: UtilList,
    /// Formation: independent routers for per-router-least-connections.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub routers: u32,
    /// Formation: requests the router sends one dyno at once (the platform's per-dyno limit);
    /// more wait in the router.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub router_max_in_flight: u32,
    /// Formation: requests allowed to wait in the router for one dyno; beyond that the router
    /// answers 503 (H11, backlog too deep).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub router_backlog: u32,
    /// Formation: the balancer in front of the dynos: ours (the platform's behaviour, with
    /// router logs and limits) or haproxy (installed separately; a cross-check of ours).
    #[arg(long, default_value = "ours", value_parser = ["ours", "haproxy"])]
    pub balancer: String,
    /// Measure classes whose local emulation is identical (same CPU model, memory and
    /// workers, e.g. eco, basic and standard-1x) each on their own, instead of once for all
    /// (their figures then differ only by run-to-run noise).
    #[arg(long)]
    pub measure_identical: bool,
    /// Let the server use the driver's CPU too, so a class as large as this machine gets
    /// all of its CPUs (on 2 CPUs: a 2-core class) at the price of the driver competing with
    /// it; the report says so. Without it the driver keeps a CPU of its own.
    #[arg(long)]
    pub share_driver_cpu: bool,
    /// Run the I-th share of a run split between N drivers (0 ≤ I < N), e.g. 0/4: rate / N
    /// (open loop) or calls and callers / N (closed loop), a seed derived from --seed, and
    /// results marked as a shard for `dynobench merge`. Needs --url.
    #[arg(long, value_parser = parse_shard, value_name = "I/N")]
    pub shard: Option<(u32, u32)>,
    /// With --shard: when every shard starts its measured calls (the barrier), RFC 3339
    /// (2026-12-01T10:00:00Z) or seconds since the Unix epoch. Give every shard the same.
    #[arg(long, value_parser = parse_start_at, value_name = "TIME")]
    pub start_at: Option<std::time::SystemTime>,
    /// Formation: the router's timeout; a longer request gets a 503 (H12).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub router_timeout: std::time::Duration,
}

/// Where a burst-balance class's balance starts (`--start-balance`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StartBalance {
    /// As the platform starts a new instance (the class's `initial_balance_s`; full when
    /// the catalog gives none).
    Platform,
    /// Full: the class's capacity.
    Full,
    /// This many core-seconds (0 = drained), at most the capacity.
    Seconds(f64),
}

/// A CFS period, µs: 1ms to 1s (the kernel's range for `cfs_period_us`).
pub(crate) fn parse_cfs_period(s: &str) -> Result<u64, String> {
    let us = crate::units::parse_duration_us(s)?;
    if !(1000.0..=1_000_000.0).contains(&us) {
        return Err(format!(
            "'{s}' must be a period between 1ms and 1s (the kernel's range; its default is 100ms)"
        ));
    }
    Ok(us.round() as u64)
}

/// A CFS burst: `N%` of the quota (0-100%: the kernel allows at most one period's quota) or a
/// duration of CPU time (`40ms`).
pub(crate) fn parse_cfs_burst(s: &str) -> Result<crate::class::BurstSize, String> {
    let t = s.trim();
    if let Some(p) = t.strip_suffix('%') {
        return match p.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && (0.0..=100.0).contains(&v) => {
                Ok(crate::class::BurstSize::QuotaFraction(v / 100.0))
            }
            _ => Err(format!(
                "'{s}' must be a share of the quota between 0% and 100% (the kernel allows at most one period's quota), or a duration such as 40ms"
            )),
        };
    }
    let us = crate::units::parse_duration_us(t)
        .map_err(|e| format!("'{s}' is neither a share of the quota (100%) nor a duration (40ms): {e}"))?;
    if !(0.0..=1_000_000.0).contains(&us) {
        return Err(format!("'{s}' must be a burst between 0 and 1s of CPU"));
    }
    Ok(crate::class::BurstSize::Micros(us.round() as u64))
}

fn parse_start_balance(s: &str) -> Result<StartBalance, String> {
    match s.trim() {
        "platform" => Ok(StartBalance::Platform),
        "full" => Ok(StartBalance::Full),
        "empty" | "drained" => Ok(StartBalance::Seconds(0.0)),
        t => match t.trim_end_matches('s').parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(StartBalance::Seconds(v)),
            _ => Err(format!(
                "'{s}' is not platform, full, empty or a number of core-seconds (e.g. 30)"
            )),
        },
    }
}
