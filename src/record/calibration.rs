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
    /// Backends not measured, and why.
    pub skipped: Vec<(LimiterKind, String)>,
    /// Whether an interrupt cut the calibration short.
    pub interrupted: bool,
}

impl CalibrationReport {
    /// Whether every quota row met its target.
    pub fn all_within_target(&self) -> bool {
        self.quotas.iter().all(|r| r.within_target)
    }
}
