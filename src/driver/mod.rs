//! `dynobench run`: for each selected class, start `dynobench serve` in that class's
//! sandbox (or use a remote URL), warm up, drive the measured calls, collect the kernel's
//! observations, and return plain result data. Nothing here prints; an [`Observer`] gets
//! progress events and the report after each class (the command layer saves and shows it).

pub mod client;
pub mod host;
pub mod load;
pub mod monitor;
mod orchestrate;

use std::path::PathBuf;
use std::time::Duration;

use crate::class::{Catalog, DynoClass};
use crate::limit::helpers::NeighbourLoad;
use crate::limit::{Detection, LimitError, LimiterChoice};
use crate::report::RunReport;
use crate::report::model::WorkloadFacts;
use crate::slo::Slo;

pub use client::Target;
pub use load::{Arrivals, LoadModel};
pub use orchestrate::run;

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
    /// Measured calls per class.
    pub calls: u32,
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
}

/// What `--find-capacity` searches.
#[derive(Debug, Clone)]
pub struct CapacitySpec {
    /// The SLO that must hold.
    pub slo: Slo,
    /// Most rates tried per class.
    pub max_steps: usize,
}

/// Progress events of a run. Every method has a no-op default.
pub trait Observer {
    /// A class starts: its name and how many warm-up and measured calls it will make.
    fn class_started(&mut self, _class: &str, _warmup: u32, _calls: u32) {}
    /// A call finished.
    fn call_done(&mut self, _measured: bool, _ok: bool) {}
    /// A class finished; `report` holds every class so far (status may be failed).
    fn class_done(&mut self, _report: &RunReport) {}
    /// Something the user should know (a cap, a skipped backend).
    fn note(&mut self, _line: &str) {}
}

/// An observer that ignores everything.
pub struct Silent;

impl Observer for Silent {}

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

/// Detection of limiters, done once per run.
pub fn detect() -> Detection {
    Detection::probe()
}
