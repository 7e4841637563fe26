//! A validated run: what `run`'s flags mean once checked (the second stage of argument
//! handling), and why a run could not start.

use std::path::PathBuf;
use std::time::Duration;

use super::client::Target;
use super::load::LoadModel;
use crate::class::{Catalog, DynoClass};
use crate::limit::{LimitError, LimiterChoice, NeighbourLoad};
use crate::record::precision::PrecisionConfig;
use crate::record::{ShardFacts, WorkloadFacts};
use crate::simulate::Policy;
use crate::slo::Slo;

/// A validated run (what `run`'s flags mean).
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The catalog.
    pub catalog: Catalog,
    /// Classes to measure, in order.
    pub classes: Vec<DynoClass>,
    /// `WEB_CONCURRENCY`: empty for each class's default, one value to override it, several
    /// to sweep (one measurement per count, named `class@N`).
    pub workers: Vec<u32>,
    /// Load model.
    pub load: LoadModel,
    /// Warm-up calls per class.
    pub warmup: u32,
    /// Measured calls per class and round.
    pub calls: u32,
    /// Open loop: leading scheduled calls that are warm-up (the capacity search's steps).
    pub open_warmup: u32,
    /// Rounds: every class is measured this many times, interleaved.
    pub repeat: u32,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Path called (with query).
    pub path: String,
    /// Limiter wanted.
    pub limiter: LimiterChoice,
    /// Neighbour load for shared classes (`None`: no neighbours).
    pub neighbours: Option<NeighbourLoad>,
    /// Seed (neighbours, arrivals).
    pub seed: u64,
    /// Remote target (`--url`); `None` for local classes.
    pub target: Option<Target>,
    /// Payload file passed to `serve` (local runs).
    pub payload: Option<PathBuf>,
    /// What the endpoint works on.
    pub workload: WorkloadFacts,
    /// The dynobench binary to run as the server and helpers.
    pub exe: PathBuf,
    /// Run label.
    pub label: String,
    /// SLOs to check.
    pub slos: Vec<Slo>,
    /// How long a server may take to start listening and answer /health.
    pub startup_timeout: Duration,
    /// Extra memory per worker of the local servers, MB.
    pub ballast_mb: u64,
    /// Search each class's capacity instead of a fixed load.
    pub capacity: Option<CapacitySpec>,
    /// Run one class as a formation of dynos behind our router instead.
    pub formation: Option<FormationSpec>,
    /// Burst-balance classes: the balance at the start, core-seconds, at most the class's
    /// capacity (`None`: the class's initial balance, full when the catalog gives none).
    pub start_balance_s: Option<f64>,
    /// What-if overrides of every class's CFS period and burst (`--cfs-period`, `--cfs-burst`).
    pub what_if: crate::class::WhatIf,
    /// Local classes with an identical emulation are measured once, the others reporting
    /// that measurement (false with `--measure-identical`).
    pub share_identical: bool,
    /// The server may use the driver's CPU too (`--share-driver-cpu`): a class as large as
    /// the machine, with the driver competing for one of its CPUs.
    pub share_driver_cpu: bool,
    /// With `--shard I/N`: this driver's share of the run (calls, load and seed above are
    /// already the share's) and its barrier.
    pub shard: Option<crate::record::ShardFacts>,
    /// The user's own server (`--server`, `--procfile`) to run in each class's sandbox
    /// instead of `dynobench serve`.
    pub app: Option<AppSpec>,
    /// How measured calls are made (`--method`, `--header`, `--body`).
    pub call: super::client::CallShape,
    /// `--precision`: each class stops once its percentile's interval is within the target
    /// (`calls` is then the most calls, `--max-calls`).
    pub precision: Option<crate::record::precision::PrecisionConfig>,
}

/// One load phase as `run_phase` drives it: the plan's load, warm-up, calls and seed (which
/// the capacity search, a formation's points and a worker sweep adjust per phase), and the
/// run-wide settings a phase reads (timeout, path, shard barrier, precision). A cheap copy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Phase<'a> {
    /// Load model.
    pub(crate) load: LoadModel,
    /// Closed-loop warm-up calls (before the workers' minimum).
    pub(crate) warmup: u32,
    /// Open loop: leading scheduled calls that are warm-up.
    pub(crate) open_warmup: u32,
    /// Measured calls.
    pub(crate) calls: u32,
    /// Seed of the arrivals.
    pub(crate) seed: u64,
    /// Per-call timeout.
    pub(crate) timeout: Duration,
    /// Path called (with query).
    pub(crate) path: &'a str,
    /// With `--shard I/N`: the barrier and arrival phase of this driver's share.
    pub(crate) shard: Option<&'a ShardFacts>,
    /// `--precision`: the stopping rule.
    pub(crate) precision: Option<&'a PrecisionConfig>,
    /// The user's own server (it reports nothing of its own: its group is read instead).
    pub(crate) own_app: bool,
}

impl RunPlan {
    /// The run's load phase, as its flags give it.
    pub(crate) fn phase(&self) -> Phase<'_> {
        Phase {
            load: self.load,
            warmup: self.warmup,
            open_warmup: self.open_warmup,
            calls: self.calls,
            seed: self.seed,
            timeout: self.timeout,
            path: &self.path,
            shard: self.shard.as_ref(),
            precision: self.precision.as_ref(),
            own_app: self.app.is_some(),
        }
    }
}

impl Phase<'_> {
    /// The same phase under another load.
    pub(crate) fn with_load(self, load: LoadModel) -> Self {
        Phase { load, ..self }
    }

    /// The same phase with another number of measured calls.
    pub(crate) fn with_calls(self, calls: u32) -> Self {
        Phase { calls, ..self }
    }

    /// The same phase with another seed.
    pub(crate) fn with_seed(self, seed: u64) -> Self {
        Phase { seed, ..self }
    }

    /// The same phase warmed up by the first `calls` of its open-loop schedule instead of
    /// closed-loop calls.
    pub(crate) fn with_open_warmup(self, calls: u32) -> Self {
        Phase {
            warmup: 0,
            open_warmup: calls,
            ..self
        }
    }

    /// Whether the load is an open loop.
    pub(crate) fn is_open(&self) -> bool {
        matches!(self.load, LoadModel::Open { .. })
    }

    /// Open loop: the span of the measured calls' sends in this seeded schedule, s, and the
    /// rate it offers them at (the nominal rate when they span no time); `None` in closed loop.
    pub(crate) fn measured_sends(&self) -> Option<(f64, f64)> {
        let LoadModel::Open { rate, arrivals, .. } = self.load else {
            return None;
        };
        let sched = super::load::schedule(self.open_warmup + self.calls, rate, arrivals, self.seed);
        let first = sched.get(self.open_warmup as usize).copied().unwrap_or_default();
        let span = sched
            .last()
            .copied()
            .unwrap_or_default()
            .saturating_sub(first)
            .as_secs_f64();
        let offered = if span > 0.0 && self.calls > 1 {
            f64::from(self.calls - 1) / span
        } else {
            rate
        };
        Some((span, offered))
    }
}

/// The user's server command, started in each class's sandbox with `$PORT` and
/// `$WEB_CONCURRENCY` set, through `sh -c`.
#[derive(Debug, Clone)]
pub struct AppSpec {
    /// The shell command.
    pub command: String,
    /// Where it came from, for messages (`--server`, or `Procfile web:`).
    pub source: String,
    /// Directory it runs in (the Procfile's; else the current one).
    pub dir: Option<PathBuf>,
    /// Path that must answer (any status below 500) before the class is measured.
    pub health_path: String,
}

/// A formation (`--dynos N`): N copies of one class behind our router, driven open loop at
/// each utilization under each routing policy.
#[derive(Debug, Clone)]
pub struct FormationSpec {
    /// Number of dynos.
    pub dynos: u32,
    /// Routing policies, in order.
    pub policies: Vec<Policy>,
    /// Offered utilizations, percent of the formation's measured capacity.
    pub utils: Vec<f64>,
    /// Independent routers (per-router least-connections).
    pub routers: u32,
    /// Requests the router sends one dyno at once (the platform's per-dyno limit).
    pub max_in_flight: u32,
    /// Requests waiting in the router for one dyno before H11s.
    pub backlog: u32,
    /// Router timeout (H12).
    pub router_timeout: Duration,
    /// Calls at concurrency 1 that measure the service time and the router's overhead.
    pub calibration_calls: u32,
    /// HAProxy's executable to balance instead of our router (`--balancer haproxy`).
    pub haproxy: Option<PathBuf>,
}

/// What `--find-capacity` searches.
#[derive(Debug, Clone)]
pub struct CapacitySpec {
    /// The SLO that must hold.
    pub slo: Slo,
    /// Most rates tried per class.
    pub max_steps: usize,
    /// Measured seconds per step (each step also warms up for a fifth of that, at least 2 s).
    pub step_s: f64,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The limiter cannot work here (a usage error: pick another).
    #[error(transparent)]
    Limiter(#[from] LimitError),
    /// Setting up the run failed.
    #[error("{0}")]
    Setup(String),
}
