//! The one capacity model: what one dyno of a class serves at **the class's own CPU** — in
//! each situation it is sold in (dedicated; a shared class's floor and burst; a
//! burst-balance class's baseline and burst) — as min(workers ÷ service time, cores ÷ CPU
//! per request), each figure labelled with its origin: *measured* (a capacity measurement
//! on a sandbox that gave the class all of that CPU), *extrapolated* (the class was capped
//! here, or measured in another situation: the per-core rate measured here × the class's
//! cores) or *estimated* (from service times alone). `run`'s table, summary.md, summary.csv,
//! cost.svg, `merge` and `plan` all take capacity from here.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::cost::{CapacityBasis, estimate_capacity};
use super::result::ClassResult;
use crate::class::{CpuModel, Situation};

/// Where a capacity figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CapacityOrigin {
    /// Measured at capacity (capacity search, or a closed loop that kept every worker
    /// busy) on a sandbox that gave the class all of this situation's CPU, or on the
    /// deployed dyno itself.
    Measured,
    /// Scaled to the class's cores from fewer (or other) cores measured here: the measured
    /// per-core rate × the class's cores, bounded by its workers.
    Extrapolated,
    /// From the measured service times alone (not measured at capacity).
    Estimated,
}

impl CapacityOrigin {
    /// `measured`, `extrapolated`, `estimated`.
    pub fn name(self) -> &'static str {
        match self {
            CapacityOrigin::Measured => "measured",
            CapacityOrigin::Extrapolated => "extrapolated",
            CapacityOrigin::Estimated => "estimated",
        }
    }

    /// The table's mark: none, `*` or `~`.
    pub fn mark(self) -> &'static str {
        match self {
            CapacityOrigin::Measured => "",
            CapacityOrigin::Extrapolated => "*",
            CapacityOrigin::Estimated => "~",
        }
    }
}

/// What one dyno of a class serves in one CPU situation, and what it costs there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CapacityPoint {
    /// The situation: dedicated, quota, floor (busy host), burst (idle host, or balance
    /// left), baseline (balance spent).
    pub situation: Situation,
    /// The class's cores in it (the catalog's figure, not this machine's).
    pub cores: f64,
    /// Requests per second one dyno serves.
    pub capacity_rps: f64,
    /// Where the figure comes from.
    pub origin: CapacityOrigin,
    /// The workers' bound, req/s: workers ÷ (CPU + non-CPU time per request).
    pub by_workers_rps: Option<f64>,
    /// The CPU's bound, req/s: `cores` × `per_core_rps`.
    pub by_cpu_rps: Option<f64>,
    /// Requests per second per core the CPU bound scales: measured capacity ÷ the cores it
    /// had here, or 1 ÷ CPU per request.
    pub per_core_rps: Option<f64>,
    /// The cores this machine gave the class in this situation, if it emulated it.
    pub local_cores: Option<f64>,
    /// The figure's terms, in words.
    pub note: String,
    /// USD per million requests with one dyno serving at capacity all the time, billed as
    /// the platform bills (see the class's `billing`).
    pub usd_per_million_requests: Option<f64>,
    /// Requests per second at capacity per $100 of monthly bill.
    pub rps_per_100_usd_month: Option<f64>,
}

/// A measured capacity and what it rests on.
struct MeasuredCapacity {
    rps: f64,
    basis: CapacityBasis,
    note: String,
    /// Cores the class used (or had) while it was measured.
    cores_used: Option<f64>,
}

fn measured_capacity(c: &ClassResult) -> Option<MeasuredCapacity> {
    if let Some(cap) = &c.capacity
        && let Some(rate) = cap.max_rate_rps
    {
        return Some(MeasuredCapacity {
            rps: rate,
            basis: CapacityBasis::CapacitySearch,
            note: format!("highest open-loop rate holding {} at steady state", cap.slo),
            cores_used: None,
        });
    }
    if c.load.model == "closed" && c.load.concurrency >= c.workers && c.throughput_rps > 0.0 {
        let used = c
            .kernel
            .cpu_usage_us
            .filter(|_| c.duration_s > 0.0)
            .map(|u| u as f64 / 1e6 / c.duration_s)
            .filter(|u| *u > 0.0);
        return Some(MeasuredCapacity {
            rps: c.throughput_rps,
            basis: CapacityBasis::SaturatedClosedLoop,
            note: format!(
                "closed loop, {} callers for {} workers: every worker always busy",
                c.load.concurrency, c.workers
            ),
            cores_used: used,
        });
    }
    None
}

/// Mean CPU and non-CPU handler time per request, seconds (non-CPU: wall − CPU − CPU
/// wait: IO, blocked, steal). Without server figures, the client latency is the service
/// time and the CPU is unknown.
pub fn service_parts(c: &ClassResult) -> (Option<f64>, f64) {
    let cpu = c.cpu_per_request_us.filter(|v| *v > 0.0).map(|v| v / 1e6);
    let wall = c
        .server_wall
        .as_ref()
        .map(|s| s.mean_us)
        .filter(|m| *m > 0.0)
        .unwrap_or(c.latency.mean_us)
        / 1e6;
    match cpu {
        Some(cpu) => {
            let wait = c.cpu_wait_per_request_us.unwrap_or(0.0) / 1e6;
            (Some(cpu), (wall - cpu - wait).max(0.0))
        }
        None => (None, wall),
    }
}

/// The cores this machine gave the class in `situation`, if the local emulation was that
/// situation: a dedicated or quota class its CPUs or quota; a shared class its burst cap
/// without neighbours and its floor against always-busy ones (bursty neighbours leave it
/// in between: neither); a burst-balance class its burst while the balance lasted, its
/// baseline when it started drained.
fn emulated_cores(c: &ClassResult, situation: Situation) -> Option<f64> {
    let l = c.limits.as_ref()?;
    let here = l.quota_cores.unwrap_or(l.cpus.len() as f64);
    match (&c.class.cpu, situation) {
        (CpuModel::Dedicated { .. } | CpuModel::Quota { .. }, _) => Some(here),
        (CpuModel::Shared { .. }, Situation::Burst) => (l.neighbours == 0).then_some(here),
        (CpuModel::Shared { .. }, Situation::Floor) => {
            let steady = l.neighbour_pattern.as_deref() == Some("steady");
            (l.neighbours > 0 && steady).then(|| l.floor_cores.unwrap_or(here))
        }
        (CpuModel::Burst { .. }, Situation::Burst) => match &c.burst {
            Some(b) if b.drained_at_s.is_none() && b.start_s > 0.0 => Some(here),
            _ => None,
        },
        (CpuModel::Burst { .. }, Situation::Baseline) => match &c.burst {
            Some(b) if b.start_s <= 0.0 => Some(b.baseline_cores),
            _ => None,
        },
        _ => None,
    }
}

/// The cores this machine could give the class in `situation` at most: what it applied
/// (after capping) for the CPU the situation needs.
fn local_ceiling(c: &ClassResult, situation: Situation) -> Option<f64> {
    let l = c.limits.as_ref()?;
    let here = l.quota_cores.unwrap_or(l.cpus.len() as f64);
    Some(match situation {
        Situation::Floor => l.floor_cores.unwrap_or(here),
        Situation::Baseline => c.burst.as_ref().map_or(here, |b| b.baseline_cores),
        _ => here,
    })
}

/// One situation's capacity figure before it becomes a [`CapacityPoint`].
struct Figure {
    capacity: f64,
    origin: CapacityOrigin,
    per_core: Option<f64>,
    note: String,
}

/// What the class's points are worked out from, the same in every situation.
struct Inputs<'a> {
    c: &'a ClassResult,
    /// CPU seconds per request, if known.
    cpu_s: Option<f64>,
    /// Non-CPU seconds per request.
    other_s: f64,
    workers: u32,
    /// The workers' bound, req/s.
    by_workers: Option<f64>,
    measured: Option<MeasuredCapacity>,
    /// Measured on the deployed dyno, not here.
    remote: bool,
}

impl Inputs<'_> {
    /// From a measured capacity at `k` cores: as measured where this machine gave the class
    /// all of it (or on the deployed dyno), else the per-core rate × `k`, bounded by the
    /// workers.
    fn measured_figure(
        &self,
        m: &MeasuredCapacity,
        k: f64,
        ceiling: Option<f64>,
        emulated: Option<f64>,
    ) -> Figure {
        if self.remote {
            return Figure {
                capacity: m.rps,
                origin: CapacityOrigin::Measured,
                per_core: None,
                note: format!(
                    "{} on the deployed dyno (where in its CPU range the host put it is unknown)",
                    m.note
                ),
            };
        }
        if emulated.is_some() {
            return Figure {
                capacity: m.rps,
                origin: CapacityOrigin::Measured,
                per_core: emulated.map(|h| m.rps / h),
                note: format!("{}, with the class's {k:.2} cores here", m.note),
            };
        }
        let workers = self.workers;
        let had = m.cores_used.or(ceiling).filter(|h| *h > 0.0).unwrap_or(k);
        let per_core = m.rps / had;
        let scaled = per_core * k;
        Figure {
            capacity: self.by_workers.map_or(scaled, |w| w.min(scaled)),
            origin: CapacityOrigin::Extrapolated,
            per_core: Some(per_core),
            note: format!(
                "{} on {had:.2} cores here ({per_core:.2} req/s per core) × {k:.2} cores{}",
                m.note,
                self.by_workers.map_or(String::new(), |w| format!(
                    ", at most {workers} workers ÷ {:.1} ms = {w:.2} req/s",
                    1000.0 * f64::from(workers) / w
                ))
            ),
        }
    }

    /// From the service times alone at `k` cores (extrapolated when the class was capped
    /// here); `None` without them.
    fn estimated_figure(&self, k: f64, ceiling: Option<f64>) -> Option<Figure> {
        let (cpu_s, other_s, workers) = (self.cpu_s, self.other_s, self.workers);
        let est = cpu_s
            .and_then(|cpu| estimate_capacity(workers, cpu + other_s, k, cpu))
            .or(self.by_workers)?;
        let terms = match cpu_s {
            Some(cpu) => format!(
                "min({workers} workers ÷ {:.1} ms per request, {k:.2} cores ÷ {:.1} ms CPU per request)",
                (cpu + other_s) * 1000.0,
                cpu * 1000.0
            ),
            None => format!(
                "{workers} workers ÷ {:.1} ms per request (no CPU figures)",
                other_s * 1000.0
            ),
        };
        let capped = ceiling.is_some_and(|h| h < k * 0.98);
        let (origin, note) = if capped {
            let h = ceiling.unwrap_or(k);
            (
                CapacityOrigin::Extrapolated,
                format!(
                    "{terms}: CPU per request measured on {h:.2} cores here, scaled to the class's {k:.2}; not measured at capacity"
                ),
            )
        } else {
            (
                CapacityOrigin::Estimated,
                format!(
                    "{terms}; measured at concurrency {}, not at capacity",
                    self.c.load.concurrency
                ),
            )
        };
        Some(Figure {
            capacity: est,
            origin,
            per_core: cpu_s.map(|c| 1.0 / c),
            note,
        })
    }

    /// The point for `situation` at the class's `k` cores; `None` when there is no usable
    /// figure.
    fn point(&self, situation: Situation, k: f64) -> Option<CapacityPoint> {
        let ceiling = local_ceiling(self.c, situation);
        let emulated = emulated_cores(self.c, situation).filter(|h| *h >= k * 0.98);
        let f = match &self.measured {
            Some(m) => self.measured_figure(m, k, ceiling, emulated),
            None => self.estimated_figure(k, ceiling)?,
        };
        if !(f.capacity.is_finite() && f.capacity > 0.0) {
            return None;
        }
        Some(CapacityPoint {
            situation,
            cores: k,
            capacity_rps: f.capacity,
            origin: f.origin,
            by_workers_rps: self.by_workers,
            by_cpu_rps: f.per_core.map(|p| p * k),
            per_core_rps: f.per_core,
            local_cores: emulated.or(ceiling),
            note: f.note,
            usd_per_million_requests: None,
            rps_per_100_usd_month: None,
        })
    }
}

/// What one dyno of the class serves in each of its situations (conservative first), with
/// each figure's origin; empty when nothing was measured to base it on. Costs are left
/// for [`super::value::apply_value`].
pub fn class_capacity(c: &ClassResult) -> (Vec<CapacityPoint>, Option<CapacityBasis>) {
    let (cpu_s, other_s) = service_parts(c);
    let workers = c.workers.max(1);
    let inputs = Inputs {
        c,
        cpu_s,
        other_s,
        workers,
        by_workers: (cpu_s.unwrap_or(0.0) + other_s > 0.0)
            .then(|| f64::from(workers) / (cpu_s.unwrap_or(0.0) + other_s)),
        measured: measured_capacity(c),
        remote: c.limits.is_none(),
    };
    let points: Vec<CapacityPoint> = c
        .class
        .cpu
        .situations()
        .into_iter()
        .filter_map(|(situation, k)| inputs.point(situation, k))
        .collect();
    let basis = if points.is_empty() {
        None
    } else {
        Some(inputs.measured.map_or(CapacityBasis::Estimate, |m| m.basis))
    };
    (points, basis)
}

/// What the sandbox here serves (not the class): the measured capacity, or min(workers ÷
/// service time, the cores applied here ÷ CPU per request) — the capacity search's first
/// guess.
pub fn local_capacity(c: &ClassResult) -> Option<f64> {
    if let Some(m) = measured_capacity(c) {
        return Some(m.rps);
    }
    let (cpu_s, other_s) = service_parts(c);
    let here = c.limits.as_ref().map_or(c.class.cpu.max_cores(), |l| {
        l.quota_cores.unwrap_or(l.cpus.len() as f64)
    });
    match cpu_s {
        Some(cpu) => estimate_capacity(c.workers.max(1), cpu + other_s, here, cpu),
        None => (other_s > 0.0).then(|| f64::from(c.workers.max(1)) / other_s),
    }
}

#[cfg(test)]
#[path = "class_capacity_tests.rs"]
mod tests;
