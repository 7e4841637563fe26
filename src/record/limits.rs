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
                "dutycycle (user-space SIGSTOP/SIGCONT per 100 ms period, as CFS enforces a quota; a stall stops the whole process)"
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
    /// CFS burst allowance, µs.
    pub burst_us: u64,
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
