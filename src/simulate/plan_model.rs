//! The planner's data: what a plan is for (rate, SLO, routing, simulation settings), how a
//! class's dyno is modelled (independent servers, or workers on the class's CPU in one or
//! more situations), and what comes out per class and situation. Plain data; the search is
//! in [`super::plan`].

use super::cpu::{Cpu, DemandDist};
use super::event::EventConfig;
use super::policy::Policy;
use super::service::ServiceDist;
use crate::slo::Slo;

/// What a plan is for.
#[derive(Debug, Clone)]
pub struct PlanConfig {
    /// Target arrival rate, requests per second.
    pub rate: f64,
    /// The objective.
    pub slo: Slo,
    /// Routing policy.
    pub policy: Policy,
    /// Simulation settings; `dynos` and `workers` are set per class and size.
    pub sim: EventConfig,
    /// Largest dyno count tried.
    pub max_dynos: u32,
}

/// One CPU situation a class is planned for.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuScenario {
    /// `dedicated`, `busy host (floor)`, `idle host (burst)`, `quota`.
    pub label: String,
    /// A dyno's CPU in it.
    pub cpu: Cpu,
}

/// How workers are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Workers {
    /// Exactly this many.
    Fixed(u32),
    /// The count in 1..=max that needs the fewest dynos (ties: fewer workers).
    Search {
        /// The largest count tried.
        max: u32,
        /// Cap the count at the dyno's cores unless the demand was measured at this many
        /// concurrent requests or more (the model is optimistic for workers sharing a core
        /// beyond what was measured); `None`: no cap (the user set the maximum).
        measured_at: Option<u32>,
    },
}

/// What a dyno of the class is, in the simulation.
#[derive(Debug, Clone)]
pub enum DynoModel {
    /// `workers` independent servers, each drawing a whole service time (no CPU figures).
    Servers {
        /// Workers per dyno.
        workers: u32,
        /// Service times.
        service: ServiceDist,
    },
    /// Workers sharing the class's cores.
    Cpu {
        /// Workers per dyno.
        workers: Workers,
        /// The CPU situations to plan for.
        scenarios: Vec<CpuScenario>,
        /// Per-request demand.
        demand: DemandDist,
    },
}

/// One class to plan for.
#[derive(Debug, Clone)]
pub struct PlanClass {
    /// Class name.
    pub name: String,
    /// The catalog entry: its price and how its platform bills it (a monthly price, per
    /// second, request-based, burst surplus), its vCPUs and memory.
    pub class: crate::class::DynoClass,
    /// What a dyno is.
    pub model: DynoModel,
    /// Where the demand came from (e.g. `server_cpu + other`).
    pub source: String,
}

/// The answer for one class (in one CPU situation).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum PlanOutcome {
    /// The SLO holds with `dynos` dynos (and not with one fewer, in the simulation).
    Meets {
        /// Dynos needed.
        dynos: u32,
        /// Utilization at that size, percent of the dynos' capacity.
        utilization: f64,
        /// The SLO metric reached (µs, or a fraction for the error rate).
        achieved: f64,
        /// Mean response time at that size (seconds).
        mean_response: f64,
        /// Share of 503s at that size.
        share_503: f64,
        /// The month's bill at that size and rate, as the platform bills (a monthly price:
        /// dynos × price; request billing: only while requests are in flight, plus fees).
        monthly_usd: f64,
        /// What the bill is made of: (what, USD).
        bill: Vec<(String, f64)>,
    },
    /// The service time alone breaks the SLO: no number of dynos can meet it.
    ServiceTooSlow {
        /// The SLO metric of the service time alone (µs, or a fraction for the error rate).
        service_value: f64,
    },
    /// Not met at `max_dynos`.
    NotWithin {
        /// The largest size tried.
        max_dynos: u32,
        /// The SLO metric reached there.
        achieved: f64,
    },
}

/// The dynos needed over bootstrap resamples of the measured (CPU, non-CPU) pairs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DynoRange {
    /// 5th percentile of the resamples' answers (`u32::MAX`: never met).
    pub low: u32,
    /// 95th percentile; `None` when more than 5% of resamples cannot meet the SLO.
    pub high: Option<u32>,
    /// The answer on the pairs as measured.
    pub point: u32,
    /// Resamples drawn.
    pub resamples: u32,
    /// Resamples that could not meet the SLO within --max-dynos.
    pub never: u32,
}

/// The plan of one class in one CPU situation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScenarioPlan {
    /// The situation (empty for the servers model).
    pub label: String,
    /// Cores per dyno (absent for the servers model).
    pub cores: Option<f64>,
    /// Workers per dyno chosen.
    pub workers: u32,
    /// Requests per second one dyno can serve at most (the tighter of workers and cores).
    pub capacity_per_dyno: f64,
    /// The SLO metric of the service time alone.
    pub service_value: f64,
    /// Fewest dynos that can carry the rate at all.
    pub min_dynos_for_rate: u32,
    /// The answer (with a range: planned at its upper end).
    pub outcome: PlanOutcome,
    /// The dynos needed over bootstrap resamples of the measured pairs (measured pairs only).
    pub range: Option<DynoRange>,
    /// Simulations run to find it.
    pub evaluations: u32,
}

/// The plan for one class.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClassPlan {
    /// Class name.
    pub class: String,
    /// Workers per dyno of the first situation.
    pub workers: u32,
    /// Price per dyno, USD per month.
    pub price_usd_month: f64,
    /// How the platform bills the class, in words.
    pub billing: String,
    /// Where the demand came from.
    pub source: String,
    /// Mean service time alone (seconds).
    pub service_mean: f64,
    /// Mean CPU per request (seconds), with the CPU model.
    pub cpu_mean: Option<f64>,
    /// The SLO metric of the service time alone, first situation.
    pub service_value: f64,
    /// Fewest dynos that can carry the rate, first situation.
    pub min_dynos_for_rate: u32,
    /// The answer in the first (most conservative) situation.
    pub outcome: PlanOutcome,
    /// Every situation (a shared class: busy host, then idle host).
    pub scenarios: Vec<ScenarioPlan>,
    /// Simulations run.
    pub evaluations: u32,
}

impl ClassPlan {
    /// The monthly bill, when the SLO can be met (first situation).
    pub fn monthly_usd(&self) -> Option<f64> {
        match self.outcome {
            PlanOutcome::Meets { monthly_usd, .. } => Some(monthly_usd),
            _ => None,
        }
    }
}
