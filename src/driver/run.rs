//! The class loop of `dynobench run`: probe the host, choose the limiter, pin the driver,
//! then measure every class (and every worker count of a sweep) locally or at a remote URL,
//! updating verdicts, sweeps and value figures after each class. Per-class failures are
//! recorded in the report, not returned as errors.

use std::sync::Arc;
use std::time::SystemTime;

use super::begin::begin;
use super::capacity::measure;
use super::client::tls_config;
use super::host::steal_pct;
use super::hostspeed;
use super::load::LoadModel;
use super::local::{Sandboxing, local_class};
use super::observer::Observer;
use super::phase::{Endpoint, effective_warmup};
use super::plan::{Phase, RunError, RunPlan};
use crate::class::DynoClass;
use crate::limit::Detection;
use crate::procfs::cpu_jiffies;
use crate::record::merge::{merge, round_of};
use crate::record::model::rfc3339;
use crate::record::sweep::worker_sweeps;
use crate::record::verdict::slo_verdicts;
use crate::record::{ClassResult, HostSpeed, HostSpeedIndex, RunReport, apply_value};

/// Runs every class of the plan (and every worker count of a sweep). Per-class failures are
/// recorded in the report, not returned as errors; an interrupt ends the run with the
/// finished classes kept.
pub fn run(plan: &RunPlan, detection: &Detection, obs: &mut dyn Observer) -> Result<RunReport, RunError> {
    let r = run_pinned(plan, detection, obs);
    // The driver pinned this thread to its CPU: give it back every CPU it had, so that
    // what the caller does next (another run, a simulation) is not confined to one.
    let _ = crate::limit::pin_current_thread(&crate::limit::allowed_cpus());
    r
}

fn run_pinned(plan: &RunPlan, detection: &Detection, obs: &mut dyn Observer) -> Result<RunReport, RunError> {
    if let Some(spec) = &plan.formation {
        return super::formation::run(plan, spec, detection, obs);
    }
    let (mut report, kind, placement) = begin(plan, detection, obs)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Setup(format!("starting the async runtime: {e}")))?;
    let bench = Bench {
        plan,
        rt: &rt,
        tls: plan.target.as_ref().filter(|t| t.tls).map(|_| tls_config()),
        sx: kind.map(|kind| Sandboxing {
            kind,
            detection,
            placement: &placement,
        }),
        // The host's speed is timed on the CPUs the servers use, while no server runs.
        speed_cpus: if plan.target.is_some() {
            placement.driver.clone()
        } else {
            placement.server.clone()
        },
    };
    let run_steal0 = cpu_jiffies();
    let units = units(plan);
    let repeat = plan.repeat.max(1);
    let expected = units.len() * repeat as usize;
    let mut attempted = 0;
    let mut parts: Vec<Vec<ClassResult>> = vec![Vec::new(); units.len()];
    'rounds: for round in 1..=repeat {
        for (i, unit) in units.iter().enumerate() {
            if crate::interrupt::requested() {
                break 'rounds;
            }
            let result = match same_as(plan, &units, &parts, i, round as usize) {
                Some(j) => reported_as(&parts[j][round as usize - 1], &units[j], unit, obs),
                None => bench.measure(unit, round, repeat, obs),
            };
            parts[i].push(result);
            attempted += 1;
            report.classes = merged_classes(&parts);
            apply_value(&mut report.classes);
            report.slo = slo_verdicts(&report.classes, &plan.slos);
            report.worker_sweeps = worker_sweeps(&report.classes, &plan.slos);
            report.host.steal_pct = steal_pct(run_steal0, cpu_jiffies());
            report.warnings = host_drift_warnings(&report.classes);
            obs.class_done(&report);
        }
    }
    report.interrupted = crate::interrupt::requested();
    report.complete = !report.interrupted && attempted == expected;
    report.finished_at = Some(rfc3339(SystemTime::now()));
    Ok(report)
}

/// What each round measures: one class at one worker count.
struct Unit<'a> {
    class: &'a DynoClass,
    workers: u32,
    /// The class's name, `class@N` in a sweep.
    name: String,
    /// Part of a worker-count sweep.
    sweep: bool,
}

/// Every class, or every worker count of a sweep.
fn units(plan: &RunPlan) -> Vec<Unit<'_>> {
    let mut units = Vec::new();
    for class in &plan.classes {
        let counts = if plan.workers.is_empty() {
            vec![class.workers]
        } else {
            plan.workers.clone()
        };
        let sweep = counts.len() > 1;
        for workers in counts {
            let name = if sweep {
                format!("{}@{workers}", class.name)
            } else {
                class.name.clone()
            };
            units.push(Unit {
                class,
                workers,
                name,
                sweep,
            });
        }
    }
    units
}

impl Unit<'_> {
    /// The unit's load phase: the run's; a sweep drives at least as many callers as there
    /// are workers.
    fn phase<'p>(&self, plan: &'p RunPlan) -> Phase<'p> {
        let phase = plan.phase();
        match phase.load {
            LoadModel::Closed { concurrency } if self.sweep => phase.with_load(LoadModel::Closed {
                concurrency: concurrency.max(self.workers),
            }),
            _ => phase,
        }
    }
}

/// The unit measured this round before unit `i` whose local emulation is exactly unit
/// `i`'s (it reports that measurement).
fn same_as(
    plan: &RunPlan,
    units: &[Unit],
    parts: &[Vec<ClassResult>],
    i: usize,
    round: usize,
) -> Option<usize> {
    let u = &units[i];
    (0..i).find(|&j| {
        plan.share_identical
            && plan.target.is_none()
            && parts[j].len() == round
            && parts[j][round - 1].same_as.is_none()
            && same_emulation(units[j].class, units[j].workers, u.class, u.workers)
    })
}

/// `of`'s measurement, reported as `unit`'s (the same emulation).
fn reported_as(measured: &ClassResult, of: &Unit, unit: &Unit, obs: &mut dyn Observer) -> ClassResult {
    let (class, name) = (unit.class, &unit.name);
    let mut result = measured.clone();
    let of = of.name.clone();
    obs.note(&format!(
        "{name}: the same emulation as {of} (CPU {}, {} MB, {} workers): its figures are {of}'s measurement (--measure-identical measures it again)",
        class.cpu.describe(),
        class.memory_mb,
        unit.workers
    ));
    result.name = name.clone();
    result.class = class.clone();
    result.price_usd_month = class.price_usd_month;
    result.cost.usd_month = class.price_usd_month;
    result.cost.usd_hour = class.price_usd_hour();
    result.same_as = Some(of);
    result
}

/// Where a run's classes are measured: locally in sandboxes, or at the remote target.
struct Bench<'a> {
    plan: &'a RunPlan,
    rt: &'a tokio::runtime::Runtime,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// Local runs: how the servers are sandboxed.
    sx: Option<Sandboxing<'a>>,
    /// The CPUs the host's speed is timed on.
    speed_cpus: Vec<usize>,
}

impl Bench<'_> {
    /// One unit's measurement in `round`, with the host's speed timed around it.
    fn measure(&self, unit: &Unit, round: u32, repeat: u32, obs: &mut dyn Observer) -> ClassResult {
        let (plan, class, workers) = (self.plan, unit.class, unit.workers);
        let phase = unit.phase(plan);
        let label = if repeat > 1 {
            format!("{} ({round}/{repeat})", unit.name)
        } else {
            unit.name.clone()
        };
        obs.class_started(&label, effective_warmup(phase.warmup, workers), phase.calls);
        let before = hostspeed::measure(&self.speed_cpus, 3);
        let mut result = match (&plan.target, &self.sx) {
            (Some(t), _) => {
                let mut ep = Endpoint {
                    rt: self.rt,
                    target: Arc::new(t.clone()),
                    tls: self.tls.clone(),
                    sandbox: None,
                };
                measure(&mut ep, &phase, plan.capacity.as_ref(), class, workers, obs)
            }
            (None, Some(sx)) => local_class(self.rt, plan, &phase, class, workers, sx, obs),
            (None, None) => unreachable!("local runs always have a limiter"),
        };
        let after = hostspeed::measure(&self.speed_cpus, 3);
        result.name = unit.name.clone();
        result.rounds = vec![round_of(
            &result,
            round,
            before.into_iter().chain(after).collect(),
        )];
        result
    }
}

/// Whether two classes are emulated identically here: CPU model, memory and workers.
fn same_emulation(a: &DynoClass, aw: u32, b: &DynoClass, bw: u32) -> bool {
    a.cpu == b.cpu
        && a.bandwidth() == b.bandwidth()
        && a.memory_mb == b.memory_mb
        && a.memory_hard_mb == b.memory_hard_mb
        && aw == bw
}

/// Each unit's rounds merged into one class result, with its host-speed index.
fn merged_classes(parts: &[Vec<ClassResult>]) -> Vec<ClassResult> {
    let first_reading = parts
        .iter()
        .flat_map(|p| p.iter())
        .flat_map(|c| c.rounds.iter())
        .flat_map(|r| r.host_speed.first())
        .next()
        .map(|h| h.cpu_ref_us);
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = merge(p).unwrap_or_else(|e| {
                // Histograms the recorder encoded always decode; keep the first part if not.
                let mut c = p[0].clone();
                c.warnings.push(format!("rounds could not be merged: {e}"));
                c
            });
            c.host_speed = speed_index(&c, first_reading);
            c
        })
        .collect()
}

fn speed_index(c: &ClassResult, first: Option<f64>) -> Option<HostSpeedIndex> {
    let readings: Vec<HostSpeed> = c
        .rounds
        .iter()
        .flat_map(|r| r.host_speed.iter().copied())
        .collect();
    if readings.is_empty() {
        return None;
    }
    let n = readings.len() as f64;
    let cpu = readings.iter().map(|h| h.cpu_ref_us).sum::<f64>() / n;
    let mem = readings.iter().map(|h| h.mem_ref_us).sum::<f64>() / n;
    let (lo, hi) = readings.iter().fold((f64::MAX, 0.0f64), |(lo, hi), h| {
        (lo.min(h.cpu_ref_us), hi.max(h.cpu_ref_us))
    });
    Some(HostSpeedIndex {
        cpu_ref_us: cpu,
        mem_ref_us: mem,
        index: first.filter(|f| *f > 0.0).map_or(1.0, |f| cpu / f),
        spread_pct: if lo > 0.0 { (hi / lo - 1.0) * 100.0 } else { 0.0 },
        readings,
    })
}

/// Warnings when the host's own speed moved more than the noise threshold during the run.
fn host_drift_warnings(classes: &[ClassResult]) -> Vec<String> {
    let idx: Vec<f64> = classes
        .iter()
        .filter_map(|c| c.host_speed.as_ref().map(|h| h.index))
        .collect();
    let mut out = Vec::new();
    if let Some((lo, hi)) = idx.iter().copied().fold(None, |acc: Option<(f64, f64)>, v| {
        Some(acc.map_or((v, v), |(a, b)| (a.min(v), b.max(v))))
    }) && (hi / lo - 1.0) * 100.0 > HOST_DRIFT_NOISE_PCT
    {
        out.push(format!(
            "the host's speed moved {:.1}% during the run (reference work index {lo:.3} to {hi:.3}): differences between classes of that size may be the host's, not the classes'; use --repeat to interleave rounds",
            (hi / lo - 1.0) * 100.0
        ));
    }
    out
}

/// Host-speed changes above this many percent are reported (the noise threshold).
const HOST_DRIFT_NOISE_PCT: f64 = 2.0;
