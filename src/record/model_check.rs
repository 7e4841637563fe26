//! Results of `dynobench validate` (plain data): the CPU model's predictions for one dyno
//! of a class next to what the same class measured live, load by load.

use serde::{Deserialize, Serialize};

/// One load on one class and profile: measured and predicted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelCheckRow {
    /// Class.
    pub class: String,
    /// Workload profile.
    pub profile: String,
    /// The load, in words (`closed, 4 callers`, `open 80%: 9.1 req/s`).
    pub load: String,
    /// Cores the model used (the class's CPU as applied here).
    pub cores: f64,
    /// Whether they are a quota (full speed until the period's quota is used) rather than
    /// a share or whole cores.
    pub quota: bool,
    /// Workers.
    pub workers: u32,
    /// Mean CPU per request the model drew from, ms.
    pub cpu_ms: f64,
    /// Mean non-CPU time per request, ms.
    pub other_ms: f64,
    /// Measured throughput, req/s.
    pub measured_rps: f64,
    /// Predicted throughput, req/s.
    pub predicted_rps: f64,
    /// Measured p50, ms.
    pub measured_p50_ms: f64,
    /// Predicted p50, ms.
    pub predicted_p50_ms: f64,
    /// Measured p95, ms.
    pub measured_p95_ms: f64,
    /// Predicted p95, ms.
    pub predicted_p95_ms: f64,
    /// The measured p95's 95% confidence interval, ms (absent ends: too few calls).
    #[serde(default)]
    pub measured_p95_ci_ms: (Option<f64>, Option<f64>),
    /// Mean server CPU per request measured under this load, ms (against `cpu_ms`, the
    /// demand the model drew from: the contention the load itself added).
    #[serde(default)]
    pub measured_cpu_ms: Option<f64>,
    /// Mean time per request runnable but not running under this load, ms (sharing,
    /// throttling).
    #[serde(default)]
    pub measured_cpu_wait_ms: Option<f64>,
    /// The model's p95 for the same load with the demand's CPU rescaled to what this load
    /// measured (`measured_cpu_ms / cpu_ms`), ms: the queueing model's own error, without
    /// the host's drift in CPU per request between the calibration and this load.
    #[serde(default)]
    pub predicted_p95_at_measured_cpu_ms: Option<f64>,
}

impl ModelCheckRow {
    /// Relative error of the predicted throughput, (predicted − measured) / measured.
    pub fn rps_error(&self) -> f64 {
        rel(self.predicted_rps, self.measured_rps)
    }

    /// Relative error of the predicted p95.
    pub fn p95_error(&self) -> f64 {
        rel(self.predicted_p95_ms, self.measured_p95_ms)
    }

    /// Whether the predicted p95 lies inside the measured p95's confidence interval.
    pub fn p95_in_ci(&self) -> bool {
        match self.measured_p95_ci_ms {
            (Some(lo), Some(hi)) => (lo..=hi).contains(&self.predicted_p95_ms),
            _ => false,
        }
    }

    /// Relative error of the p95 predicted at the CPU this load measured.
    pub fn p95_error_at_measured_cpu(&self) -> Option<f64> {
        self.predicted_p95_at_measured_cpu_ms
            .map(|p| rel(p, self.measured_p95_ms))
    }

    /// Relative error of the predicted p50.
    pub fn p50_error(&self) -> f64 {
        rel(self.predicted_p50_ms, self.measured_p50_ms)
    }
}

fn rel(predicted: f64, measured: f64) -> f64 {
    if measured > 0.0 {
        predicted / measured - 1.0
    } else {
        f64::NAN
    }
}

/// The whole check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelCheck {
    /// Every load measured.
    pub rows: Vec<ModelCheckRow>,
    /// What the reader should know (placement, capping, classes that could not run).
    pub notes: Vec<String>,
}

/// One figure of `dynobench validate --capacity`: what the capacity model says against
/// what was measured live, with the goal it is held to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityCheckRow {
    /// What is compared (`capacity`, `1 → 2 cores`).
    pub check: String,
    /// The class and how it was run.
    pub case: String,
    /// The model's figure (req/s, or a ratio).
    pub model: f64,
    /// The measured figure.
    pub measured: f64,
    /// The most relative error allowed, percent.
    pub goal_pct: f64,
    /// Where each figure comes from.
    pub detail: String,
}

impl CapacityCheckRow {
    /// (model − measured) ÷ measured, percent.
    pub fn error_pct(&self) -> f64 {
        (self.model / self.measured - 1.0) * 100.0
    }

    /// Whether the model is within the goal.
    pub fn within(&self) -> bool {
        self.error_pct().abs() <= self.goal_pct
    }
}

/// The whole `validate --capacity` check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityCheck {
    /// Each comparison.
    pub rows: Vec<CapacityCheckRow>,
    /// The measurements behind them, in words.
    pub notes: Vec<String>,
}
