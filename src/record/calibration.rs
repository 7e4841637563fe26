//! Calibration results (plain data): requested vs achieved cores per limiter backend and
//! quota, and work-item latency under a quota or a share.

use serde::{Deserialize, Serialize};

use super::host::Placement;
use super::limits::LimiterKind;

/// Requested vs achieved cores for one backend and quota.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaRow {
    /// Backend.
    pub backend: LimiterKind,
    /// Cores requested.
    pub requested_cores: f64,
    /// Cores the CPU-bound child achieved (its CPU time / wall time).
    pub achieved_cores: f64,
    /// (achieved - requested) / requested, percent.
    pub error_pct: f64,
    /// The accuracy target, percent.
    pub target_pct: f64,
    /// Whether |error| is within the target.
    pub within_target: bool,
    /// Share of CFS periods throttled (cgroup backends).
    pub throttled_ratio: Option<f64>,
    /// Time held stopped (dutycycle), µs.
    pub stopped_us: Option<u64>,
    /// The child got less than its quota while the limiter held it back in no period (0%
    /// throttled, or never stopped): the host had no CPU to give (a busy machine), not a
    /// limiter error.
    #[serde(default)]
    pub host_shortfall: bool,
}

/// The stall a quota puts at the end of a period: back-to-back CPU work items under a quota,
/// their longest stretch held off the CPU against `(1 − quota) × period`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StallRow {
    /// Backend.
    pub backend: LimiterKind,
    /// The period, ms.
    pub period_ms: f64,
    /// The quota, cores.
    pub quota_cores: f64,
    /// CPU ms per item.
    pub item_ms: f64,
    /// Items measured.
    pub items: usize,
    /// The stall the kernel's rule gives: (1 − quota) × period, ms.
    pub expected_stall_ms: f64,
    /// The longest stretch a busy item was held off the CPU, ms.
    pub longest_stall_ms: f64,
    /// The slowest item, ms (an item that found the quota spent: its CPU plus the stall).
    pub max_item_ms: f64,
    /// Median item wall time, ms.
    pub p50_ms: f64,
    /// Cores the child achieved (its CPU time / wall time).
    #[serde(default)]
    pub achieved_cores: f64,
}

/// One published figure next to ours (`dynobench fidelity`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FidelityRow {
    /// What is measured.
    pub what: String,
    /// Who published it.
    pub source: String,
    /// The published figure.
    pub published: f64,
    /// Ours.
    pub ours: f64,
    /// The unit of both (`ms`, `cores`, `x`).
    pub unit: String,
    /// Why they differ, when they differ by more than 15%.
    pub note: Option<String>,
    /// How ours was measured (backend, command).
    pub how: String,
}

impl FidelityRow {
    /// Ours ÷ published.
    pub fn ratio(&self) -> f64 {
        self.ours / self.published
    }

    /// Within 15% of the published figure.
    pub fn agrees(&self) -> bool {
        (self.ratio() - 1.0).abs() <= 0.15
    }
}

/// What CPU burst does to the tail: work items offered at random (Poisson) below the
/// quota, so it binds only when they bunch up, measured without and with a burst budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurstRow {
    /// Backend.
    pub backend: LimiterKind,
    /// The period, ms.
    pub period_ms: f64,
    /// The quota, cores.
    pub quota_cores: f64,
    /// CPU ms per item.
    pub item_ms: f64,
    /// Offered load, share of the quota.
    pub utilization: f64,
    /// The burst asked for, ms of CPU.
    pub burst_ms: f64,
    /// The burst the backend applied, ms (0: it could not, e.g. a kernel without burst).
    pub applied_burst_ms: f64,
    /// Items measured without burst.
    pub items_plain: usize,
    /// Items measured with burst.
    pub items_burst: usize,
    /// p50 without burst, ms (from each item's arrival: queueing included).
    pub p50_plain_ms: f64,
    /// p99 without burst, ms.
    pub p99_plain_ms: f64,
    /// p50 with burst, ms.
    pub p50_burst_ms: f64,
    /// p99 with burst, ms.
    pub p99_burst_ms: f64,
}

impl BurstRow {
    /// p99 with burst ÷ p99 without.
    pub fn p99_ratio(&self) -> f64 {
        self.p99_burst_ms / self.p99_plain_ms.max(1e-9)
    }
}

/// Work-item latency under a quota or a share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TailRow {
    /// Backend.
    pub backend: LimiterKind,
    /// `quota` or `share`.
    pub mode: String,
    /// Cores (the quota, or the share under contention).
    pub cores: f64,
    /// CPU ms per item.
    pub item_ms: f64,
    /// Items measured.
    pub items: usize,
    /// Median item wall time, ms.
    pub p50_ms: f64,
    /// 99th percentile item wall time, ms.
    pub p99_ms: f64,
    /// Slowest item, ms.
    pub max_ms: f64,
}

/// The whole calibration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CalibrationReport {
    /// Where the children ran.
    pub placement: Option<Placement>,
    /// Quota accuracy rows.
    pub quotas: Vec<QuotaRow>,
    /// Tail-shape rows.
    pub tails: Vec<TailRow>,
    /// Period-stall rows.
    pub stalls: Vec<StallRow>,
    /// Burst rows.
    pub bursts: Vec<BurstRow>,
    /// Backends not measured, and why.
    pub skipped: Vec<(LimiterKind, String)>,
    /// Whether an interrupt cut the calibration short.
    pub interrupted: bool,
}

impl CalibrationReport {
    /// Whether every quota row met its target (a host shortfall is not a limiter error).
    pub fn all_within_target(&self) -> bool {
        self.quotas.iter().all(|r| r.within_target || r.host_shortfall)
    }
}
