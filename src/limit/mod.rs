//! CPU and memory limiters: a [`Sandbox`] starts a command with a dyno class's CPU and
//! memory model applied from exec on (cgroup v2, cgroup v1, a user-space duty cycle, or
//! none), runs noisy neighbours beside shared classes, reports what the kernel observed,
//! and removes every process and group it made, on every path.

pub mod calibrate;
mod cgroup1;
mod cgroup2;
pub mod cgroupfs;
mod dutycycle;
pub mod helpers;
mod plan;
mod sandbox;

pub use cgroup1::Cgroup1Site;
pub use cgroup2::Cgroup2Site;
pub use plan::{CpuPlan, Placement, allowed_cpus, plan_cpu};
pub use sandbox::{Sandbox, SandboxSpec, describe_exit};

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Prefix of every cgroup and helper process name dynobench creates (stale-group cleanup
/// finds groups by it).
pub const GROUP_PREFIX: &str = "dynobench-";

/// A limiter backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
                "dutycycle (user-space SIGSTOP/SIGCONT every 5 ms; coarser than cgroups: stalls are whole-process and at least one tick long)"
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

/// What `--limiter` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimiterChoice {
    /// The best available backend.
    Auto,
    /// Exactly this backend (an error if unavailable).
    Exactly(LimiterKind),
}

impl FromStr for LimiterChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "auto" {
            return Ok(LimiterChoice::Auto);
        }
        LimiterKind::ALL
            .iter()
            .find(|k| k.name() == s)
            .map(|k| LimiterChoice::Exactly(*k))
            .ok_or_else(|| format!("unknown limiter '{s}'; valid: auto, cgroup2, cgroup1, dutycycle, none"))
    }
}

/// Why a limiter cannot be used or failed.
#[derive(Debug, Error)]
pub enum LimitError {
    /// The backend is not available on this machine.
    #[error("limiter {kind} is not available here: {reason}")]
    Unavailable {
        /// The backend.
        kind: LimiterKind,
        /// Why.
        reason: String,
    },
    /// Setting up or using the sandbox failed.
    #[error("{0}")]
    Setup(String),
    /// Starting the command failed.
    #[error("starting {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What auto-detection found, per backend.
#[derive(Debug, Clone)]
pub struct Detection {
    /// cgroup v2 site, or why not.
    pub cgroup2: Result<Cgroup2Site, String>,
    /// cgroup v1 site, or why not.
    pub cgroup1: Result<Cgroup1Site, String>,
}

impl Detection {
    /// Probes this machine (mountinfo, statfs magic, write access by creating and removing a
    /// probe group).
    pub fn probe() -> Detection {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mounts = cgroupfs::parse_mountinfo(&mountinfo);
        let members = cgroupfs::parse_proc_cgroup(&own);
        Detection {
            cgroup2: Cgroup2Site::detect(&mounts, &members),
            cgroup1: Cgroup1Site::detect(&mounts, &members),
        }
    }

    /// No probing (remote runs need no limiter and must not touch cgroups).
    pub fn unprobed() -> Detection {
        let why = "not probed: the run drives a remote endpoint";
        Detection {
            cgroup2: Err(why.into()),
            cgroup1: Err(why.into()),
        }
    }

    /// Whether `kind` is usable, or why not.
    pub fn available(&self, kind: LimiterKind) -> Result<(), String> {
        match kind {
            LimiterKind::Cgroup2 => self.cgroup2.as_ref().map(|_| ()).map_err(Clone::clone),
            LimiterKind::Cgroup1 => self.cgroup1.as_ref().map(|_| ()).map_err(Clone::clone),
            LimiterKind::Dutycycle => dutycycle::available(),
            LimiterKind::None => Ok(()),
        }
    }

    /// Resolves `--limiter`: auto picks cgroup2, then cgroup1, then dutycycle.
    pub fn choose(&self, choice: LimiterChoice) -> Result<LimiterKind, LimitError> {
        match choice {
            LimiterChoice::Exactly(kind) => self
                .available(kind)
                .map(|()| kind)
                .map_err(|reason| LimitError::Unavailable { kind, reason }),
            LimiterChoice::Auto => [LimiterKind::Cgroup2, LimiterKind::Cgroup1, LimiterKind::Dutycycle]
                .into_iter()
                .find(|k| self.available(*k).is_ok())
                .ok_or_else(|| LimitError::Unavailable {
                    kind: LimiterKind::Dutycycle,
                    reason: "no limiter backend works on this machine".into(),
                }),
        }
    }

    /// Removes groups left by earlier dynobench processes that are no longer alive.
    /// Returns the directories removed.
    pub fn remove_stale_groups(&self) -> Vec<String> {
        let mut bases = Vec::new();
        if let Ok(s) = &self.cgroup1 {
            bases.extend(s.bases());
        }
        if let Ok(s) = &self.cgroup2 {
            bases.push(s.base.clone());
        }
        sandbox::remove_stale(&bases)
    }
}

/// Kernel and limiter counters of one sandbox. Counters are cumulative since the sandbox
/// was created; [`Counters::since`] gives the change over an interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
