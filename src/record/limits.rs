//! What the limiters applied and observed, as plain data: the backend used, the limits
//! actually applied after capping, and the kernel's counters (throttling, CPU, memory, OOM).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A limiter backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LimiterKind {
    /// cgroup v2: cpu.max, cpu.weight, cpuset, memory.max/high.
    Cgroup2,
    /// cgroup v1: cfs quota/period, cpu.shares, cpuset, memory.limit_in_bytes.
    Cgroup1,
    /// User space: SIGSTOP/SIGCONT duty cycling (coarser than cgroups).
    Dutycycle,
    /// No limits (CPU pinning only).
    None,
}

impl LimiterKind {
    /// Every backend, in auto-detection preference order.
    pub const ALL: [LimiterKind; 4] = [
        LimiterKind::Cgroup2,
        LimiterKind::Cgroup1,
        LimiterKind::Dutycycle,
        LimiterKind::None,
    ];

    /// The backend's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LimiterKind::Cgroup2 => "cgroup2",
            LimiterKind::Cgroup1 => "cgroup1",
            LimiterKind::Dutycycle => "dutycycle",
            LimiterKind::None => "none",
        }
    }

    /// A one-line description, with the dutycycle caveat.
    pub fn describe(self) -> &'static str {
        match self {
            LimiterKind::Cgroup2 => {
                "cgroup v2 (kernel CFS bandwidth control, weights, cpusets, memory limits)"
            }
            LimiterKind::Cgroup1 => {
                "cgroup v1 (kernel CFS bandwidth control, shares, cpusets, memory limits)"
            }
            LimiterKind::Dutycycle => {
                "dutycycle (user-space SIGSTOP/SIGCONT per CFS period, as CFS enforces a quota, burst included; a stall stops the whole process)"
            }
            LimiterKind::None => "none (no CPU or memory limit; CPU pinning only)",
        }
    }
}

impl fmt::Display for LimiterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Kernel and limiter counters of one sandbox. Counters are cumulative since the sandbox
/// was created; [`Counters::since`] gives the change over an interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Counters {
    /// CPU time used by the server's group (or process), µs.
    pub cpu_usage_us: Option<u64>,
    /// CFS bandwidth periods elapsed while the group was runnable.
    pub nr_periods: Option<u64>,
    /// Periods in which the group was throttled.
    pub nr_throttled: Option<u64>,
    /// Total time throttled, µs.
    pub throttled_us: Option<u64>,
    /// Peak memory of the server's group (or peak RSS of the process), bytes.
    pub memory_peak_bytes: Option<u64>,
    /// Kernel OOM kills in the server's group (or watchdog kills for dutycycle).
    pub oom_kills: Option<u64>,
    /// CPU time the noisy neighbours consumed, µs.
    pub neighbour_cpu_us: Option<u64>,
    /// Time the server was held stopped by the dutycycle limiter, µs.
    pub stopped_us: Option<u64>,
}

impl Counters {
    /// The change from `earlier` to `self` (peak memory is kept as is: it is a maximum).
    pub fn since(&self, earlier: &Counters) -> Counters {
        let d = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.saturating_sub(b)),
            (Some(a), None) => Some(a),
            _ => None,
        };
        Counters {
            cpu_usage_us: d(self.cpu_usage_us, earlier.cpu_usage_us),
            nr_periods: d(self.nr_periods, earlier.nr_periods),
            nr_throttled: d(self.nr_throttled, earlier.nr_throttled),
            throttled_us: d(self.throttled_us, earlier.throttled_us),
            memory_peak_bytes: self.memory_peak_bytes,
            oom_kills: d(self.oom_kills, earlier.oom_kills),
            neighbour_cpu_us: d(self.neighbour_cpu_us, earlier.neighbour_cpu_us),
            stopped_us: d(self.stopped_us, earlier.stopped_us),
        }
    }

    /// Share of CFS periods that were throttled, if known.
    pub fn throttled_ratio(&self) -> Option<f64> {
        match (self.nr_throttled, self.nr_periods) {
            (Some(t), Some(p)) if p > 0 => Some(t as f64 / p as f64),
            (Some(_), Some(_)) => Some(0.0),
            _ => None,
        }
    }
}

/// The limits a sandbox actually applied (after capping to the machine), for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct AppliedLimits {
    /// Backend used.
    pub backend: Option<LimiterKind>,
    /// CPUs the server may run on.
    pub cpus: Vec<usize>,
    /// Hard CPU cap in cores (quota / period), if any.
    pub quota_cores: Option<f64>,
    /// CFS period, µs.
    pub period_us: u64,
    /// CFS burst allowance, µs of CPU (0: none, or the backend could not apply it).
    pub burst_us: u64,
    /// The class's quota is metered per vCPU on the platform (approximated here by one pool).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub quota_per_vcpu: bool,
    /// What a what-if flag (`--cfs-period`, `--cfs-burst`) changed from the class's own
    /// period and burst, e.g. `period 20 ms, burst 100% of quota`; absent: the class's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what_if: Option<String>,
    /// Cores guaranteed under contention (shared classes).
    pub floor_cores: Option<f64>,
    /// The server group's weight (cpu.weight for v2, cpu.shares for v1, nice-derived for dutycycle).
    pub weight: Option<u64>,
    /// The neighbour group's weight.
    pub neighbour_weight: Option<u64>,
    /// Noisy neighbour processes started.
    pub neighbours: usize,
    /// Their load pattern (`bursty:0.5`), if any.
    pub neighbour_pattern: Option<String>,
    /// Soft memory limit (R14 threshold), bytes.
    pub memory_soft_bytes: Option<u64>,
    /// Hard memory limit (kill), bytes.
    pub memory_hard_bytes: Option<u64>,
    /// Where the server's group lives, if any.
    pub group: Option<String>,
    /// Everything that was capped, skipped or approximated.
    pub warnings: Vec<String>,
}

/// One sample of a burst-balance CPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct BurstSample {
    /// Seconds since the server started.
    pub t_s: f64,
    /// Unix time, seconds.
    pub unix_s: f64,
    /// Balance left, core-seconds above the baseline.
    pub balance_s: f64,
    /// Cores allowed at that moment (burst or baseline).
    pub cores: f64,
    /// Cores the server used over the last step.
    pub cpu_cores: f64,
}

/// A burst-balance CPU over one class's run: its figures, the balance over time and when it
/// ran out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct BurstTrace {
    /// Cores always allowed.
    pub baseline_cores: f64,
    /// Cores allowed while the balance lasts.
    pub burst_cores: f64,
    /// Most balance, core-seconds.
    pub capacity_s: f64,
    /// Balance at the start, core-seconds.
    pub start_s: f64,
    /// Seconds from the server's start until the balance first ran out, if it did.
    pub drained_at_s: Option<f64>,
    /// When the busy stretch that emptied the balance began, seconds since the server
    /// started.
    pub busy_from_s: Option<f64>,
    /// How long that stretch took to empty the balance, seconds.
    pub measured_drain_s: Option<f64>,
    /// The model's time for it: the balance when it began ÷ (cores used − baseline),
    /// seconds.
    pub predicted_drain_s: Option<f64>,
    /// CPU used while controlled, core-seconds.
    pub cpu_s: f64,
    /// Samples, one per 100-ms step (at most an hour of them).
    pub samples: Vec<BurstSample>,
    /// Quota writes that failed.
    pub errors: Vec<String>,
}

impl BurstTrace {
    /// Fills the drain figures: the busy stretch that emptied the balance (the samples
    /// before `drained_at_s` in which the server used more than its baseline), how long it
    /// took, and the model's time for it — the balance when it began ÷ (cores used −
    /// baseline).
    pub fn predict_drain(&mut self) {
        let Some(drained) = self.drained_at_s else { return };
        let busy = |c: f64| c > self.baseline_cores * 1.2 + 0.005;
        let Some(end) = self.samples.iter().rposition(|s| s.t_s <= drained + 1e-9) else {
            return;
        };
        let mut start = end;
        while start > 0 && busy(self.samples[start - 1].cpu_cores) {
            start -= 1;
        }
        // The stretch began when the step before its first sample ended.
        let (t0, b0) = match start.checked_sub(1) {
            Some(k) => (self.samples[k].t_s, self.samples[k].balance_s),
            None => (0.0, self.start_s),
        };
        let stretch = &self.samples[start..=end];
        let used = stretch.iter().map(|s| s.cpu_cores).sum::<f64>() / stretch.len() as f64;
        self.busy_from_s = Some(t0);
        self.measured_drain_s = Some(drained - t0);
        self.predicted_drain_s = (used > self.baseline_cores).then(|| b0 / (used - self.baseline_cores));
    }
}
