//! The load generator as the ceiling (pure): what the driver measured about itself over a
//! class's measured calls — its own CPU, how late it sent open-loop calls, and how many
//! scheduled calls found every connection busy — and THE rule that says the driver, not
//! the server, bounded the run ([`driver_bottleneck`]). A class so bounded is **invalid**,
//! not slow: its SLO verdicts are "invalid" and `compare` refuses to judge it. `run` and
//! `merge` (a shard whose driver saturated) use the same rule.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::result::ClassResult;

/// The driver's CPU share (its CPU time over the phase ÷ the wall time × the CPUs it may
/// use) at or above which it was CPU-bound: a process busy 90% of the time on the cores it
/// has queues its own work (timers fire late, responses are read late), so the latencies
/// it measures include its own delays.
pub const CPU_SHARE_LIMIT: f64 = 0.9;
/// Send lateness (p99 of actual − intended send time, over calls that found a free
/// connection) is the driver's fault beyond the larger of this, µs, and
/// [`LATENESS_GAP_SHARE`] of the gap between arrivals. tokio's timer has 1 ms resolution
/// twice over: a sleep's deadline is rounded up to the next millisecond tick, and the
/// runtime parks for the time to that tick rounded up to a whole millisecond, so up to
/// ~2 ms (plus a wake-up) is the timer's own lateness on an idle driver (an idle 2-vCPU VM
/// measured p99 2.1 ms at 20–80 req/s); 3 ms leaves a millisecond for the wake-up.
pub const LATENESS_FLOOR_US: f64 = 3_000.0;
/// See [`LATENESS_FLOOR_US`]: at low rates, lateness up to this share of the mean gap
/// between arrivals changes neither the offered rate nor the queue the server sees.
pub const LATENESS_GAP_SHARE: f64 = 0.05;
/// More than this share of scheduled calls waiting for a free connection (every one of
/// `--concurrency` busy at the call's intended send time) means the connection limit, not
/// the schedule, set the load the server saw.
pub const CONNECTION_WAIT_SHARE: f64 = 0.01;

/// What bounded the run from the driver's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DriverBound {
    /// The driver's own CPU (share ≥ [`CPU_SHARE_LIMIT`]).
    Cpu,
    /// Open loop: calls sent late beyond the timer's own lateness.
    SendLateness,
    /// Open loop: scheduled calls waited for one of the connections.
    Connections,
}

/// The driver's own figures over one class's measured calls (run.json `classes[].driver`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct DriverLoad {
    /// The driver process's CPU time (user + system, all threads) over the measured
    /// calls, s; absent when it could not be read.
    pub cpu_s: Option<f64>,
    /// Wall time of the measured calls, s.
    pub wall_s: f64,
    /// CPU time of the thread that drives every call (the async runtime runs on one
    /// thread) over the measured calls, s.
    pub loop_cpu_s: Option<f64>,
    /// CPUs the driver may run on (its affinity: its own CPU when pinned).
    pub cores: Option<u32>,
    /// The larger of `cpu_s ÷ (wall_s × cores)` (the share of its CPUs the process kept
    /// busy) and `loop_cpu_s ÷ wall_s` (the share of one CPU its driving thread kept busy).
    pub cpu_share: Option<f64>,
    /// Open loop: measured calls scheduled (0 in closed loop).
    pub scheduled: u64,
    /// Open loop: mean gap between intended send times, µs (1 / rate).
    pub gap_us: Option<f64>,
    /// Open loop: p99 of send lateness (actual − intended send), µs, over the calls that
    /// found a free connection: the timer's and the driver's own delay.
    pub lateness_p99_us: Option<f64>,
    /// Open loop: the lateness beyond which it is the driver's fault, µs:
    /// max([`LATENESS_FLOOR_US`], [`LATENESS_GAP_SHARE`] × `gap_us`).
    pub lateness_limit_us: Option<f64>,
    /// Open loop: scheduled calls that found every connection busy at their intended send
    /// time (they waited for one).
    pub connection_waits: u64,
    /// Open loop: connections (`--concurrency`).
    pub connections: u32,
    /// What bounded the run from the driver's side (empty: the driver kept up).
    pub bound: Vec<DriverBound>,
}

/// The lateness beyond which sends are late through the driver's fault, µs.
pub fn lateness_limit_us(gap_us: Option<f64>) -> f64 {
    LATENESS_FLOOR_US.max(LATENESS_GAP_SHARE * gap_us.unwrap_or(0.0))
}

/// The driver's CPU share: the larger of the process's share of the `cores` it may use
/// and the driving thread's share of one core, over `wall_s`.
pub fn cpu_share(
    cpu_s: Option<f64>,
    loop_cpu_s: Option<f64>,
    wall_s: f64,
    cores: Option<u32>,
) -> Option<f64> {
    if wall_s <= 0.0 {
        return None;
    }
    let process = cpu_s.zip(cores).map(|(c, n)| c / (wall_s * f64::from(n.max(1))));
    let thread = loop_cpu_s.map(|c| c / wall_s);
    match (process, thread) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// THE rule: what bounded the run from the driver's side (empty when it kept up).
pub fn driver_bottleneck(f: &DriverLoad) -> Vec<DriverBound> {
    let mut bound = Vec::new();
    if f.cpu_share.is_some_and(|s| s >= CPU_SHARE_LIMIT) {
        bound.push(DriverBound::Cpu);
    }
    if f.lateness_p99_us.is_some_and(|l| l > lateness_limit_us(f.gap_us)) {
        bound.push(DriverBound::SendLateness);
    }
    if f.scheduled > 0 && f.connection_waits as f64 > CONNECTION_WAIT_SHARE * f.scheduled as f64 {
        bound.push(DriverBound::Connections);
    }
    bound
}

impl DriverLoad {
    /// The figures with [`driver_bottleneck`]'s causes filled in.
    pub fn judged(mut self) -> DriverLoad {
        self.bound = driver_bottleneck(&self);
        self
    }

    /// Why the driver bounded the run, in one line; `None` when it kept up.
    pub fn reason(&self) -> Option<String> {
        let parts: Vec<String> = driver_bottleneck(self)
            .iter()
            .map(|b| match b {
                DriverBound::Cpu => format!(
                    "its CPU was {:.0}% busy (process {:.1} s and driving thread {:.1} s of CPU in {:.1} s on {} core(s); limit {:.0}%)",
                    self.cpu_share.unwrap_or(0.0) * 100.0,
                    self.cpu_s.unwrap_or(0.0),
                    self.loop_cpu_s.unwrap_or(0.0),
                    self.wall_s,
                    self.cores.unwrap_or(0),
                    CPU_SHARE_LIMIT * 100.0
                ),
                DriverBound::SendLateness => format!(
                    "it sent calls late (p99 {:.1} ms after their intended time, beyond {:.1} ms)",
                    self.lateness_p99_us.unwrap_or(0.0) / 1000.0,
                    lateness_limit_us(self.gap_us) / 1000.0
                ),
                DriverBound::Connections => format!(
                    "{} of {} scheduled calls waited for one of its {} connections (all busy; raise --concurrency, or the server is past capacity)",
                    self.connection_waits, self.scheduled, self.connections
                ),
            })
            .collect();
        (!parts.is_empty()).then(|| format!("the driver was the bottleneck: {}", parts.join("; ")))
    }

    /// A class's figures: its own, or for a file written before they were recorded
    /// (schema < 1.4), its late sends taken as calls that waited (the merge rule of
    /// then).
    pub fn of(c: &ClassResult) -> DriverLoad {
        c.driver.clone().unwrap_or_else(|| {
            let open = c.load.target_rps.is_some();
            DriverLoad {
                wall_s: c.duration_s,
                scheduled: if open { c.calls.attempted } else { 0 },
                gap_us: c.load.target_rps.filter(|r| *r > 0.0).map(|r| 1e6 / r),
                connection_waits: c.load.late_sends,
                connections: c.load.concurrency,
                ..DriverLoad::default()
            }
        })
    }
}

/// Why a class's figures are invalid because the driver bounded the run (the one rule
/// `run` and `merge` apply); `None` when it kept up.
pub fn driver_bound_reason(c: &ClassResult) -> Option<String> {
    DriverLoad::of(c).reason()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An open loop at 100 req/s on 64 connections that kept up.
    fn fine() -> DriverLoad {
        DriverLoad {
            cpu_s: Some(1.0),
            wall_s: 10.0,
            cores: Some(1),
            cpu_share: Some(0.1),
            scheduled: 1000,
            gap_us: Some(10_000.0),
            lateness_p99_us: Some(1_100.0),
            connection_waits: 3,
            connections: 64,
            ..DriverLoad::default()
        }
    }

    #[test]
    fn a_driver_within_bounds_is_not_the_bottleneck() {
        assert!(driver_bottleneck(&fine()).is_empty());
        assert_eq!(fine().reason(), None);
        // A closed loop has no schedule: only its CPU can bound it.
        let closed = DriverLoad {
            cpu_s: Some(8.0),
            wall_s: 10.0,
            cores: Some(1),
            cpu_share: Some(0.8),
            ..DriverLoad::default()
        };
        assert!(driver_bottleneck(&closed).is_empty());
        // The timer's own lateness (two roundings to the millisecond) does not trip it,
        // whatever the rate.
        let fast = DriverLoad {
            gap_us: Some(100.0),
            lateness_p99_us: Some(2_100.0),
            ..fine()
        };
        assert!(driver_bottleneck(&fast).is_empty());
    }

    #[test]
    fn each_cause_alone_makes_the_driver_the_bottleneck() {
        let cpu = DriverLoad {
            cpu_share: Some(0.95),
            cpu_s: Some(9.5),
            ..fine()
        };
        assert_eq!(driver_bottleneck(&cpu), vec![DriverBound::Cpu]);
        assert!(
            cpu.reason().unwrap().contains("CPU was 95% busy"),
            "{:?}",
            cpu.reason()
        );
        let late = DriverLoad {
            lateness_p99_us: Some(3_500.0),
            ..fine()
        };
        assert_eq!(driver_bottleneck(&late), vec![DriverBound::SendLateness]);
        // At 2 req/s (a 500 ms gap) 3.5 ms is within 5% of the gap; 30 ms is not.
        let slow = DriverLoad {
            gap_us: Some(500_000.0),
            ..late.clone()
        };
        assert!(driver_bottleneck(&slow).is_empty());
        let slow_late = DriverLoad {
            lateness_p99_us: Some(30_000.0),
            ..slow
        };
        assert_eq!(driver_bottleneck(&slow_late), vec![DriverBound::SendLateness]);
        let conns = DriverLoad {
            connection_waits: 11,
            ..fine()
        };
        assert_eq!(driver_bottleneck(&conns), vec![DriverBound::Connections]);
        assert!(
            conns
                .reason()
                .unwrap()
                .contains("11 of 1000 scheduled calls waited")
        );
        let all = DriverLoad {
            cpu_share: Some(1.0),
            lateness_p99_us: Some(50_000.0),
            connection_waits: 500,
            ..fine()
        }
        .judged();
        assert_eq!(all.bound.len(), 3);
    }

    #[test]
    fn the_cpu_share_is_the_busier_of_the_process_and_its_driving_thread() {
        // 1.9 s of process CPU in 1 s on 2 cores: 95%.
        assert_eq!(cpu_share(Some(1.9), Some(0.5), 1.0, Some(2)), Some(0.95));
        // The driving thread alone at 92% of one core, the process at 50% of two.
        assert_eq!(cpu_share(Some(1.0), Some(0.92), 1.0, Some(2)), Some(0.92));
        assert_eq!(cpu_share(None, None, 1.0, Some(2)), None);
        assert_eq!(cpu_share(Some(1.0), None, 0.0, Some(1)), None);
    }

    #[test]
    fn files_without_driver_figures_fall_back_to_their_late_sends() {
        let mut c = ClassResult::default();
        c.calls.attempted = 1000;
        c.load.target_rps = Some(100.0);
        c.load.late_sends = 40;
        assert!(driver_bound_reason(&c).is_some());
        c.load.late_sends = 5;
        assert_eq!(driver_bound_reason(&c), None);
        c.driver = Some(DriverLoad {
            connection_waits: 100,
            ..fine()
        });
        assert!(driver_bound_reason(&c).is_some(), "its own figures first");
    }
}
