//! A formation's results: N dynos behind our router, one point per routing policy and offered
//! utilization, each measured (client latency, queueing at the dynos, router errors) and
//! predicted by the event engine for the same dynos, workers, service times and arrivals.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Latency and queueing at one point (measured or predicted).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct FormationFigures {
    /// Mean latency, ms (measured: at the client; predicted: the simulated response plus the
    /// router and HTTP overhead measured at concurrency 1).
    pub mean_ms: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Mean time a request waited for a worker (router backlog + the dyno's queue), ms.
    pub mean_wait_ms: f64,
    /// Time-averaged requests waiting per dyno (Little's law on the waits).
    pub mean_queue: f64,
}

/// One routing policy at one offered utilization.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct FormationPoint {
    /// The class result holding this point's histograms (`<policy>@<util>%`).
    pub name: String,
    /// Routing policy (`random`, `round-robin`, `least-connections`,
    /// `per-router-least-connections`, `power-of-two-choices`).
    pub policy: String,
    /// Utilization asked for, percent of the formation's measured capacity.
    pub target_util_pct: f64,
    /// Utilization offered: the offered rate × this point's mean service time / (dynos ×
    /// workers).
    pub offered_util_pct: f64,
    /// Arrival rate offered by the measured calls' seeded Poisson schedule, req/s.
    pub target_rps: f64,
    /// Completed calls per second (below the offered rate when queues drain at the end).
    pub achieved_rps: f64,
    /// Mean service time at the dynos during this point (server wall time), ms.
    pub service_mean_ms: f64,
    /// What the client saw.
    pub measured: FormationFigures,
    /// What the event engine predicts for the same dynos, workers, service times and rate.
    pub predicted: FormationFigures,
    /// (measured − predicted) / predicted mean latency, percent.
    pub mean_error_pct: f64,
    /// Seconds of measured calls.
    pub duration_s: f64,
    /// Random-like policies: how long one dyno's queue takes to settle at this utilization
    /// (the M/M/1 relaxation time S / (1 − √ρ)², infinite at ρ ≥ 1). A point measured for
    /// less than this saw a transient, not the steady state the simulation predicts.
    pub relaxation_s: Option<f64>,
    /// Whether the point warmed up for 2 relaxation times and its measured calls lasted at
    /// least 5 (always true for policies that balance by load).
    pub steady: bool,
    /// Half-width of the measured mean's 95% batch-means interval, ms (absent with too
    /// few seconds measured): a point misses the model only when this whole interval is
    /// outside the goal band around the prediction.
    #[serde(default)]
    pub mean_ci_half_ms: Option<f64>,
    /// Requests the router sent to each dyno.
    pub routed: Vec<u64>,
    /// 503s for a full router backlog (H11).
    pub h11: u64,
    /// 503s at the router timeout (H12).
    pub h12: u64,
    /// 503s for a dyno that closed or refused the connection (H13).
    pub h13: u64,
    /// Seed of the router's random choices (the point is reproducible from it).
    pub router_seed: u64,
    /// The router's log lines (platform format) with their Unix times, for runtime.log; not
    /// kept in run.json.
    #[serde(skip)]
    #[schemars(skip)]
    pub router_log: Vec<(f64, String)>,
}

/// A formation run: its shape, the router's limits and overhead, and its points.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct FormationFacts {
    /// The class every dyno runs.
    pub class: String,
    /// Number of dynos.
    pub dynos: u32,
    /// Workers per dyno (WEB_CONCURRENCY).
    pub workers: u32,
    /// Independent routers (per-router least-connections).
    pub routers: u32,
    /// Requests the router sends one dyno at once.
    pub max_in_flight: u32,
    /// Requests allowed to wait in the router for one dyno (then H11).
    pub backlog: u32,
    /// Router timeout, seconds (then H12).
    pub router_timeout_s: f64,
    /// Mean service time measured at concurrency 1 (server wall time), ms.
    pub service_mean_ms: f64,
    /// Capacity: dynos × workers / mean service time, req/s.
    pub capacity_rps: f64,
    /// Mean client latency straight to one dyno at concurrency 1, ms.
    pub direct_mean_ms: f64,
    /// Mean client latency through the router at concurrency 1, ms.
    pub routed_mean_ms: f64,
    /// Mean latency outside the dynos' handlers through the router (network, HTTP, router) at
    /// concurrency 1, ms: added to every prediction.
    pub overhead_ms: f64,
    /// What the router adds: `routed_mean_ms − direct_mean_ms`, ms.
    pub router_overhead_ms: f64,
    /// The balancer the points went through: `dynobench router`, or HAProxy's version line.
    pub balancer: String,
    /// One per policy and utilization.
    pub points: Vec<FormationPoint>,
    /// What the reader should know.
    pub notes: Vec<String>,
}
