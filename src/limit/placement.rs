//! Where things run and how much CPU a class gets: the driver/server CPU placement (which
//! CPUs each may use, and pinning to them) and the allotment of a class's CPU model on this
//! machine: a quota, a cpuset and neighbour weights, capped to what the machine can give.

use serde::{Deserialize, Serialize};

use crate::class::{Bandwidth, BurstSize, CpuModel, WhatIf};
use crate::record::Placement;
use crate::units::cpu_list;

impl Placement {
    /// The placement for this process's current CPU affinity.
    pub fn detect() -> Placement {
        Placement::from_cpus(&allowed_cpus())
    }

    /// The server on every CPU this process may use, the driver's included (`--share-driver-cpu`:
    /// a class as large as the machine, at the price of the driver competing with it).
    pub fn shared_with_driver() -> Placement {
        let mut cpus = allowed_cpus();
        cpus.sort_unstable();
        cpus.dedup();
        Placement {
            driver: cpus.first().map_or_else(Vec::new, |c| vec![*c]),
            disjoint: false,
            server: cpus,
        }
    }

    /// Pins the calling thread (and threads it creates later) to the driver's CPUs.
    pub fn pin_driver(&self) -> Result<(), String> {
        pin_current_thread(&self.driver)
    }
}

/// CPUs this process may run on: its affinity mask as it was the first time anyone asked,
/// before a run pinned its driver (a process that runs several times — `validate`, the
/// tests — would otherwise see only the driver's CPU from its second run on).
pub fn allowed_cpus() -> Vec<usize> {
    static FIRST: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    FIRST
        .get_or_init(
            || match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
                Ok(set) => (0..nix::sched::CpuSet::count())
                    .filter(|&i| set.is_set(i).unwrap_or(false))
                    .collect(),
                Err(_) => (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect(),
            },
        )
        .clone()
}

/// Pins the calling thread to `cpus`.
pub fn pin_current_thread(cpus: &[usize]) -> Result<(), String> {
    let set = cpu_set(cpus)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .map_err(|e| format!("pinning to CPUs {}: {e}", cpu_list(cpus)))
}

/// A nix CpuSet of `cpus`.
pub fn cpu_set(cpus: &[usize]) -> Result<nix::sched::CpuSet, String> {
    let mut set = nix::sched::CpuSet::new();
    for &c in cpus {
        set.set(c).map_err(|e| format!("CPU {c}: {e}"))?;
    }
    Ok(set)
}

/// A class's CPU model made concrete for this machine: what the sandbox enforces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuAllotment {
    /// CPUs the server may use.
    pub cpus: Vec<usize>,
    /// Hard cap in cores, if any.
    pub quota_cores: Option<f64>,
    /// Guaranteed cores under contention (shared classes).
    pub floor_cores: Option<f64>,
    /// CFS period, µs (the class's; 100 000 by default).
    pub period_us: u64,
    /// CFS burst, µs of CPU (at most one period's quota).
    pub burst_us: u64,
    /// A quota of several vCPUs is one pool (false: the platform meters it per vCPU).
    pub pooled: bool,
    /// The period or burst was overridden by a what-if flag (`--cfs-period`, `--cfs-burst`):
    /// what was overridden, e.g. `period 20 ms`.
    pub what_if: Option<String>,
    /// Neighbour weight as a multiple of the server's weight, when neighbours run.
    pub neighbour_weight_ratio: Option<f64>,
    /// Neighbour processes to start (one per CPU of a shared class).
    pub neighbours: usize,
    /// A burst-balance CPU: the quota is set from its balance while the server runs.
    pub burst: Option<super::burst::BurstSpec>,
    /// What was capped.
    pub warnings: Vec<String>,
}

/// Allots a class's CPU model, metered by `bw` (period, burst, pooling), on the server CPUs
/// this machine offers.
pub fn allot_cpu(
    class: &str,
    model: &CpuModel,
    bw: Bandwidth,
    server_cpus: &[usize],
    with_neighbours: bool,
) -> CpuAllotment {
    let mut a = allot_model(class, model, server_cpus, with_neighbours);
    a.period_us = bw.period_us.clamp(1000, 1_000_000);
    a.pooled = bw.pooled;
    a.burst_us = a.burst_us.max(bw.burst_us);
    a.clamp_burst(class);
    if !bw.pooled && model.max_cores() > 1.0 {
        a.warnings.push(format!(
            "{class}: the platform meters its quota per vCPU; the kernel's CFS quota (cgroup1, cgroup2) and the dutycycle limiter \
             meter one pool for all of a group's CPUs, so here one busy thread may use more than one vCPU's share of it"
        ));
    }
    a
}

impl CpuAllotment {
    /// The quota of one period, µs of CPU, if any.
    pub fn quota_us(&self) -> Option<u64> {
        self.quota_cores
            .map(|q| ((q * self.period_us as f64).round() as u64).max(1000))
    }

    /// Applies what-if overrides of the period and burst (`run --cfs-period`, `--cfs-burst`),
    /// recording what was overridden. A burst given as a share of the quota is of the quota
    /// applied here (after capping to the machine), per the (new) period.
    pub fn apply_what_if(&mut self, class: &str, w: &WhatIf) {
        if !w.is_set() {
            return;
        }
        if let Some(p) = w.period_us {
            self.period_us = p.clamp(1000, 1_000_000);
        }
        match w.burst {
            Some(BurstSize::QuotaFraction(f)) => {
                self.burst_us = self.quota_us().map_or(0, |q| (q as f64 * f).round() as u64);
            }
            Some(BurstSize::Micros(us)) => self.burst_us = us,
            None => {}
        }
        self.clamp_burst(class);
        self.what_if = Some(w.describe());
    }

    /// Caps the burst at one period's quota (what the kernel accepts), saying so; drops it
    /// without a quota.
    pub fn clamp_burst(&mut self, class: &str) {
        if self.burst_us == 0 {
            return;
        }
        match self.quota_us() {
            None => {
                self.warnings.push(format!(
                    "{class}: CPU burst of {} ms ignored: the class has no quota here",
                    self.burst_us as f64 / 1000.0
                ));
                self.burst_us = 0;
            }
            Some(q) if self.burst_us > q => {
                self.warnings.push(format!(
                    "{class}: CPU burst lowered from {} ms to one period's quota here, {} ms (the kernel allows no more)",
                    self.burst_us as f64 / 1000.0,
                    q as f64 / 1000.0
                ));
                self.burst_us = q;
            }
            Some(_) => {}
        }
    }
}

fn allot_model(class: &str, model: &CpuModel, server_cpus: &[usize], with_neighbours: bool) -> CpuAllotment {
    let n = server_cpus.len().max(1) as f64;
    let mut warnings = Vec::new();
    let mut cap = |what: &str, want: f64| -> f64 {
        if want > n {
            warnings.push(format!(
                "{class} asks for {want} {what} but this machine can give the server {n} CPU(s) (the driver has its own); capped to {n}"
            ));
            n
        } else {
            want
        }
    };
    match *model {
        CpuModel::Shared {
            floor_cores,
            burst_cores,
            burst_us,
        } => {
            let quota = cap("cores of burst", burst_cores);
            let floor = floor_cores.min(quota);
            CpuAllotment {
                cpus: server_cpus.to_vec(),
                quota_cores: Some(quota),
                floor_cores: Some(floor),
                burst_us,
                period_us: 100_000,
                pooled: true,
                what_if: None,
                neighbour_weight_ratio: with_neighbours.then(|| (n - floor) / floor),
                neighbours: if with_neighbours { server_cpus.len() } else { 0 },
                burst: None,
                warnings,
            }
        }
        CpuModel::Dedicated { cores } => {
            let cores = cap("dedicated cores", cores);
            let k = (cores.ceil() as usize).clamp(1, server_cpus.len().max(1));
            CpuAllotment {
                cpus: server_cpus.iter().copied().take(k).collect(),
                quota_cores: ((k as f64) > cores).then_some(cores),
                floor_cores: None,
                burst_us: 0,
                period_us: 100_000,
                pooled: true,
                what_if: None,
                neighbour_weight_ratio: None,
                neighbours: 0,
                burst: None,
                warnings,
            }
        }
        CpuModel::Quota { cores } => CpuAllotment {
            cpus: server_cpus.to_vec(),
            quota_cores: Some(cap("cores of quota", cores)),
            floor_cores: None,
            burst_us: 0,
            period_us: 100_000,
            pooled: true,
            what_if: None,
            neighbour_weight_ratio: None,
            neighbours: 0,
            burst: None,
            warnings,
        },
        CpuModel::Burst {
            baseline_cores,
            burst_cores,
            balance_s,
            initial_balance_s,
            refill,
        } => {
            let burst = cap("cores of burst", burst_cores);
            CpuAllotment {
                cpus: server_cpus.to_vec(),
                quota_cores: Some(burst),
                floor_cores: None,
                burst_us: 0,
                period_us: 100_000,
                pooled: true,
                what_if: None,
                neighbour_weight_ratio: None,
                neighbours: 0,
                burst: Some(super::burst::BurstSpec {
                    baseline_cores: baseline_cores.min(burst),
                    burst_cores: burst,
                    capacity_s: balance_s,
                    refill,
                    start_s: initial_balance_s.unwrap_or(balance_s).min(balance_s),
                }),
                warnings,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_splits_driver_from_server() {
        let p = Placement::from_cpus(&[0, 1]);
        assert_eq!(
            (p.driver.clone(), p.server.clone(), p.disjoint),
            (vec![0], vec![1], true)
        );
        let one = Placement::from_cpus(&[3]);
        assert!(!one.disjoint);
        assert_eq!(one.server, vec![3]);
        assert_eq!(Placement::from_cpus(&[5, 2, 7]).server, vec![5, 7]);
    }

    #[test]
    fn shared_class_gets_quota_floor_and_neighbour_weight() {
        let m = CpuModel::Shared {
            floor_cores: 1.0 / 6.0,
            burst_cores: 4.0 / 6.0,
            burst_us: 0,
        };
        let p = allot_cpu("std-1x", &m, Bandwidth::default(), &[1], true);
        assert_eq!(p.cpus, vec![1]);
        assert!((p.quota_cores.unwrap() - 0.6667).abs() < 1e-3);
        assert!(
            (p.neighbour_weight_ratio.unwrap() - 5.0).abs() < 1e-9,
            "floor 1/6 of one CPU: neighbours weigh 5x"
        );
        assert_eq!(p.neighbours, 1);
        assert!(p.warnings.is_empty());
        let no_nb = allot_cpu("std-1x", &m, Bandwidth::default(), &[1], false);
        assert_eq!(no_nb.neighbours, 0);
        assert_eq!(no_nb.neighbour_weight_ratio, None);
    }

    #[test]
    fn oversized_classes_are_capped_with_a_warning() {
        let p = allot_cpu(
            "performance-l",
            &CpuModel::Dedicated { cores: 8.0 },
            Bandwidth::default(),
            &[1],
            true,
        );
        assert_eq!(p.cpus, vec![1]);
        assert_eq!(p.quota_cores, None);
        assert_eq!(p.neighbours, 0);
        assert!(
            p.warnings[0].contains("performance-l asks for 8 dedicated cores"),
            "{:?}",
            p.warnings
        );
        let s2 = allot_cpu(
            "standard-2x",
            &CpuModel::Shared {
                floor_cores: 0.3333,
                burst_cores: 1.3333,
                burst_us: 0,
            },
            Bandwidth::default(),
            &[1],
            true,
        );
        assert_eq!(s2.quota_cores, Some(1.0));
        assert_eq!(s2.warnings.len(), 1);
        let frac = allot_cpu(
            "d",
            &CpuModel::Dedicated { cores: 1.5 },
            Bandwidth::default(),
            &[1, 2, 3],
            true,
        );
        assert_eq!(frac.cpus, vec![1, 2]);
        assert_eq!(frac.quota_cores, Some(1.5));
    }
}
