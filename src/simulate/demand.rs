//! What the CPU model takes: a request's demand (CPU, then non-CPU time) and where demands
//! come from (measured pairs or distributions), a dyno's CPU (cores processor-shared by
//! its computing workers, and an optional CFS-like quota), how load arrives, and a dyno's
//! capacity bound. The engine that runs them is [`super::cpu`].

use rand::RngExt;

use super::common::SimRng;
use super::service::ServiceDist;

/// One request's demand, seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Demand {
    /// CPU time at full speed (one core).
    pub cpu: f64,
    /// Time holding the worker without the CPU (IO, downstream, blocked).
    pub other: f64,
}

/// Where demands come from.
#[derive(Debug, Clone)]
pub enum DemandDist {
    /// Measured pairs, drawn jointly (a mixed workload keeps its pairing of CPU and IO).
    Pairs(Vec<Demand>),
    /// Independent distributions of the two parts.
    Independent {
        /// CPU seconds.
        cpu: ServiceDist,
        /// Non-CPU seconds.
        other: ServiceDist,
    },
    /// Demand measured at two concurrencies: `alone` for a request that starts computing
    /// while no other worker computes, `busy` for one that starts beside others (several
    /// workers on a core cost more CPU each — caches, memory bandwidth — and a core kept
    /// busy can cost less than one that idles between requests).
    ByConcurrency {
        /// Measured with one caller.
        alone: Box<DemandDist>,
        /// Measured with as many callers as workers.
        busy: Box<DemandDist>,
    },
}

impl DemandDist {
    /// Draws one request's demand.
    pub fn sample(&self, rng: &mut SimRng) -> Demand {
        match self {
            DemandDist::Pairs(v) => v[rng.random_range(0..v.len())],
            DemandDist::Independent { cpu, other } => Demand {
                cpu: cpu.sample(rng),
                other: other.sample(rng),
            },
            DemandDist::ByConcurrency { alone, .. } => alone.sample(rng),
        }
    }

    /// Draws one request's demand beside other computing workers, when measured apart.
    pub fn sample_busy(&self, rng: &mut SimRng) -> Option<Demand> {
        match self {
            DemandDist::ByConcurrency { busy, .. } => Some(busy.sample(rng)),
            _ => None,
        }
    }

    /// Mean CPU seconds per request (at full load: the busy demand when measured apart).
    pub fn mean_cpu(&self) -> f64 {
        match self {
            DemandDist::Pairs(v) => v.iter().map(|d| d.cpu).sum::<f64>() / v.len().max(1) as f64,
            DemandDist::Independent { cpu, .. } => cpu.mean(),
            DemandDist::ByConcurrency { busy, .. } => busy.mean_cpu(),
        }
    }

    /// Mean non-CPU seconds per request (at full load, as [`DemandDist::mean_cpu`]).
    pub fn mean_other(&self) -> f64 {
        match self {
            DemandDist::Pairs(v) => v.iter().map(|d| d.other).sum::<f64>() / v.len().max(1) as f64,
            DemandDist::Independent { other, .. } => other.mean(),
            DemandDist::ByConcurrency { busy, .. } => busy.mean_other(),
        }
    }

    /// The same demand with every CPU time × `factor` (non-CPU times kept), for measured
    /// pairs; `None` for distributions.
    pub fn scale_cpu(&self, factor: f64) -> Option<DemandDist> {
        match self {
            DemandDist::Pairs(v) => Some(DemandDist::Pairs(
                v.iter()
                    .map(|d| Demand {
                        cpu: d.cpu * factor,
                        other: d.other,
                    })
                    .collect(),
            )),
            DemandDist::Independent { .. } => None,
            DemandDist::ByConcurrency { alone, busy } => Some(DemandDist::ByConcurrency {
                alone: Box::new(alone.scale_cpu(factor)?),
                busy: Box::new(busy.scale_cpu(factor)?),
            }),
        }
    }

    /// Whether it holds any demand at all.
    pub fn is_usable(&self) -> bool {
        if let DemandDist::ByConcurrency { alone, busy } = self {
            return alone.is_usable() && busy.is_usable();
        }
        let (c, o) = (self.mean_cpu(), self.mean_other());
        c >= 0.0 && o >= 0.0 && c + o > 0.0 && c.is_finite() && o.is_finite()
    }
}

/// Time and CPU below this (a nanosecond) count as zero: without it, rounding could leave a
/// job a femtosecond short of done and the clock unable to move past it.
pub(crate) const EPS: f64 = 1e-9;

/// CFS's default bandwidth period, seconds (a class's own is [`Cpu::period`]).
pub const QUOTA_PERIOD: f64 = 0.1;

/// One dyno's CPU: cores shared by its computing workers, and an optional quota.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cpu {
    /// Cores the workers run on (a fraction means a share: every computing worker is slowed).
    pub cores: f64,
    /// CPU per second allowed, in cores, enforced per `period`; `None` for none.
    pub quota: Option<f64>,
    /// A burst-balance class: the quota is its burst while its balance lasts and its
    /// baseline once drained, the balance stepped every period (`quota` is the burst).
    pub burst: Option<crate::limit::burst::BurstSpec>,
    /// The quota's bandwidth period, seconds (the class's `period_ms`; 0.1 by default).
    pub period: f64,
    /// The kernel's CPU burst, seconds of CPU: quota left unused in earlier periods that a
    /// busy period may spend on top of its own (cpu.max.burst; 0 = none).
    pub accrue: f64,
}

impl Cpu {
    /// Dedicated (or shared at a floor): `cores`, no quota.
    pub fn cores(cores: f64) -> Cpu {
        Cpu {
            cores,
            quota: None,
            burst: None,
            period: QUOTA_PERIOD,
            accrue: 0.0,
        }
    }

    /// A quota of `q` cores on whole cores (at least one): runs at full speed until the
    /// period's quota is used.
    pub fn quota(q: f64) -> Cpu {
        Cpu {
            cores: q.ceil().max(1.0),
            quota: Some(q),
            burst: None,
            period: QUOTA_PERIOD,
            accrue: 0.0,
        }
    }

    /// The same CPU metered at the class's own period and kernel burst (seconds; a
    /// non-positive period keeps the default).
    pub fn metered(self, period: f64, accrue: f64) -> Cpu {
        Cpu {
            period: if period > 0.0 { period } else { self.period },
            accrue: accrue.max(0.0),
            ..self
        }
    }

    /// CPU seconds the quota allows per period, and the most a period may hold with
    /// the burst accrued.
    pub fn per_period(&self, quota: f64) -> (f64, f64) {
        let q = quota * self.period;
        (q, q + self.accrue)
    }

    /// A burst-balance class: its burst cores while the balance lasts, its baseline after,
    /// the balance starting at `spec.start_s`.
    pub fn balance(spec: crate::limit::burst::BurstSpec) -> Cpu {
        Cpu {
            burst: Some(spec),
            ..Cpu::quota(spec.burst_cores)
        }
    }

    /// The CPU a sandbox applied here: a shared class against busy neighbours at its floor
    /// (a share), else its quota, else its CPUs.
    pub fn from_limits(l: &crate::record::AppliedLimits) -> Cpu {
        match (l.floor_cores.filter(|_| l.neighbours > 0), l.quota_cores) {
            (Some(f), _) => Cpu::cores(f),
            (None, Some(q)) => Cpu {
                cores: (l.cpus.len().max(1) as f64).min(q.ceil().max(1.0)),
                ..Cpu::quota(q)
            }
            .metered(l.period_us as f64 / 1e6, l.burst_us as f64 / 1e6),
            (None, None) => Cpu::cores(l.cpus.len().max(1) as f64),
        }
    }

    /// CPU seconds per second the dyno can use at most, sustained (a burst-balance class:
    /// its baseline — above it the balance drains).
    pub fn limit(&self) -> f64 {
        match self.burst {
            Some(b) => b.baseline_cores.min(self.cores),
            None => self.quota.map_or(self.cores, |q| q.min(self.cores)),
        }
    }
}

/// The most requests per second one dyno can serve: the tighter of its workers (each holds
/// a request for its CPU and non-CPU time) and its cores (`cores / mean CPU`). The true
/// saturation point is at most this (the asymptotic bound of queueing networks).
pub fn dyno_capacity(workers: u32, cpu: Cpu, demand: &DemandDist) -> f64 {
    let (c, o) = (demand.mean_cpu(), demand.mean_other());
    // The same bound as every per-dollar figure of a run (one formula, in the results model).
    crate::record::cost::estimate_capacity(workers, (c + o).max(1e-12), cpu.limit(), c)
        .unwrap_or(f64::INFINITY)
}

/// How load arrives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// Open loop at this many requests per second (all dynos together).
    Rate(f64),
    /// A closed loop of this many callers, each sending again as soon as it is answered.
    Callers(u32),
}
